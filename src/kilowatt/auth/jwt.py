"""Access tokens: short-lived JWTs, HMAC (HS256 unless configured) with the node's secret.

Decoding accepts the one configured algorithm only (so ``alg: none``, RS256/HS256 key confusion
and any other algorithm are refused), and requires ``exp``, ``iat``, ``sub``, ``iss``, ``aud``
and ``typ: "access"``; ``iss`` and ``aud`` must be this node's (``KILOWATT_JWT_ISSUER`` /
``KILOWATT_JWT_AUDIENCE``) and ``nbf``, when present, is honoured. A token proves who the caller
was when it was issued; whether they are still enabled is checked against the database on every
request.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from kilowatt.config import Settings, dev_jwt_secret

ALGORITHM = "HS256"  # the default of ``Settings.jwt_algorithm``
ACCESS = "access"
LEEWAY = 0  # seconds of clock skew allowed on exp/nbf/iat: tokens are checked where issued


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, or not an access token."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    tenant_id: int | None
    role: str
    jti: str
    expires_at: datetime


def signing_key(settings: Settings) -> str:
    """``KILOWATT_JWT_SECRET``, else the secret generated into the data directory."""
    return settings.jwt_secret or _data_dir_secret(settings.data_dir.resolve())


@functools.cache
def _data_dir_secret(data_dir: Path) -> str:
    return dev_jwt_secret(data_dir)


def issue_access_token(
    settings: Settings, *, user_id: int, tenant_id: int | None, role: str, now: datetime
) -> str:
    claims: dict[str, Any] = {
        "sub": str(user_id),  # RFC 7519: a string
        "tid": tenant_id,
        "role": role,
        "typ": ACCESS,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl)).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, signing_key(settings), algorithm=settings.jwt_algorithm)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid access token; ``InvalidToken`` for anything else."""
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "typ", "iss", "aud"], "verify_nbf": True},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("typ") != ACCESS:
        raise InvalidToken("not an access token")
    sub, tid, role = claims["sub"], claims.get("tid"), claims.get("role")
    if not (isinstance(sub, str) and sub.isdigit()):
        raise InvalidToken("bad subject")
    if tid is not None and not isinstance(tid, int):
        raise InvalidToken("bad tenant")
    if not isinstance(role, str):
        raise InvalidToken("bad role")
    return AccessClaims(
        user_id=int(sub),
        tenant_id=tid,
        role=role,
        jti=str(claims.get("jti", "")),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
