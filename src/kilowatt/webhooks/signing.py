"""Standard Webhooks signatures (https://www.standardwebhooks.com), symmetric scheme ``v1``.

A secret is ``whsec_`` + base64 of random bytes. Each request carries ``webhook-id`` (stable
across retries), ``webhook-timestamp`` (unix seconds of the attempt) and ``webhook-signature``:
``v1,`` + base64 of HMAC-SHA256, keyed with the decoded secret, over ``{id}.{timestamp}.{body}``.

``verify`` is what a receiver runs; Kilowatt's own tests use it too. It has no dependency on
the rest of Kilowatt, so a receiver written in Python may copy this module as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for at least 24
TOLERANCE = 300  # seconds a timestamp may be off (either way) before a request is refused


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook from the holder of the secret."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("not a whsec_ secret") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> Any:
    """The JSON payload of a genuine webhook; raises ``WebhookVerificationError`` otherwise.

    ``body`` must be the raw bytes received (parsing and re-serialising changes them). Any one
    valid ``v1`` signature of the space-separated list is enough; the timestamp must be within
    ``tolerance`` seconds of ``now``. Receivers should also drop a ``webhook-id`` seen before.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp_text = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"missing header {missing}") from None
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("invalid webhook-timestamp") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance (a replay?)")
    try:
        expected = sign(secret, message_id, timestamp, body).encode()
    except ValueError as exc:
        raise WebhookVerificationError(str(exc)) from None
    for signature in signatures.split(" "):
        if signature.startswith("v1,") and hmac.compare_digest(signature.encode(), expected):
            return json.loads(body)
    raise WebhookVerificationError("no matching signature")


__all__ = [
    "TOLERANCE",
    "WebhookVerificationError",
    "new_secret",
    "sign",
    "signed_headers",
    "verify",
]
