"""Password hashing for user logins: Argon2id (argon2-cffi's RFC 9106 low-memory profile).

Hashing costs tens of milliseconds of CPU on purpose, so the async helpers run it in a worker
thread: the event loop keeps serving charge points meanwhile.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # a bound on the work one request can ask for


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed hash is a mismatch, never an error."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash at login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("kilowatt: no such user")


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """Verify off the event loop; with no hash (unknown email) verify a dummy one, so both
    answers take about the same time and a login does not reveal which emails exist."""
    if password_hash is None:
        await asyncio.to_thread(lambda: verify_password(_dummy_hash(), password))
        return False
    return await asyncio.to_thread(verify_password, password_hash, password)
