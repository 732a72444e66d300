"""API keys for machine clients: ``kw_<prefix>_<secret>``.

The prefix is public (it names the key in lists and logs and finds its row); the secret is 32
random bytes. Only the secret's SHA-256 is stored: with that much entropy a fast hash is the right
tool (nobody can guess a preimage), where a password needs a slow one because it is guessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "kw_"
_PREFIX_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    secret: str


def generate() -> tuple[str, str, str]:
    """A new key: ``(full_key, prefix, secret_hash)``; show ``full_key`` once, store the rest."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, hash_secret(secret)


def looks_like_api_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def parse(value: str) -> ParsedKey | None:
    """Split ``kw_<prefix>_<secret>``; None when it is not shaped like one of our keys."""
    if not value.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = value[len(KEY_PREFIX) :].partition("_")
    if not sep or not secret or len(prefix) != 2 * _PREFIX_BYTES or not _HEX.issuperset(prefix):
        return None
    return ParsedKey(prefix, secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret).encode(), secret_hash.encode())
