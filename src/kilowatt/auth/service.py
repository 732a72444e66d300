"""Logins, token pairs with rotating refresh tokens, API keys, and who a credential names.

Refresh tokens rotate: every refresh uses the presented token up and issues a new one in the
same *family* (all tokens descended from one login). Presenting a used token again means it was
copied, so the whole family is revoked (RFC 9700 §4.14.2); so does logging out.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.auth import api_keys
from kilowatt.auth.jwt import InvalidToken, decode_access_token, issue_access_token
from kilowatt.auth.passwords import (
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from kilowatt.auth.principal import PERMISSIONS, ROLE_PERMISSIONS, Principal, Role
from kilowatt.config import Settings
from kilowatt.users import repository
from kilowatt.users.models import ApiKey, RefreshToken, User
from kilowatt.users.service import AccountError


def bad_login() -> AccountError:
    # One answer for every failed login: it must not tell which emails exist.
    return AccountError(401, "Unauthorized", "invalid email or password")


def bad_refresh() -> AccountError:
    return AccountError(401, "Unauthorized", "invalid refresh token")


def bad_credentials() -> AccountError:
    return AccountError(401, "Unauthorized", "invalid or expired credentials")


# How stale ``ApiKey.last_used_at`` may get: a write per request would be a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid
    token_type: str = "bearer"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_pair(
    db: AsyncSession, settings: Settings, user: User, *, now: datetime, family_id: str | None = None
) -> TokenPair:
    """An access token and a refresh token (a new family unless ``family_id`` continues one)."""
    refresh = secrets.token_urlsafe(32)
    db.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or secrets.token_hex(16),
            token_hash=_hash(refresh),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    await db.flush()
    access = issue_access_token(
        settings, user_id=user.id, tenant_id=user.tenant_id, role=user.role, now=now
    )
    return TokenPair(access, refresh, settings.access_token_ttl)


async def login(
    db: AsyncSession, settings: Settings, email: str, password: str, *, now: datetime
) -> tuple[User, TokenPair]:
    user = await repository.user_by_email(db, email.strip().lower())
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        raise bad_login()
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    return user, await issue_pair(db, settings, user, now=now)


async def refresh(
    db: AsyncSession, settings: Settings, refresh_token: str, *, now: datetime
) -> tuple[User, TokenPair]:
    """A new pair for a valid refresh token, which is used up. Reuse revokes the family.

    On reuse the revocation is flushed before ``AccountError`` is raised: the caller commits it.
    """
    row = await repository.refresh_token_by_hash(db, _hash(refresh_token))
    if row is None or row.revoked_at is not None:
        raise bad_refresh()
    if row.used_at is not None or not await repository.mark_refresh_token_used(db, row.id, now):
        await repository.revoke_refresh_family(db, row.family_id, now)
        raise AccountError(401, "Unauthorized", "refresh token reused; the session is revoked")
    if row.expires_at <= now:
        raise bad_refresh()
    user = await repository.user_by_id(db, row.user_id)
    if user is None or user.disabled_at is not None:
        raise bad_refresh()
    return user, await issue_pair(db, settings, user, now=now, family_id=row.family_id)


async def logout(db: AsyncSession, refresh_token: str, *, now: datetime) -> None:
    """Revoke the family of ``refresh_token`` (whatever state the token itself is in)."""
    row = await repository.refresh_token_by_hash(db, _hash(refresh_token))
    if row is None:
        raise bad_refresh()
    await repository.revoke_refresh_family(db, row.family_id, now)


# ---- who a credential names ---------------------------------------------------------------------
def user_principal(user: User) -> Principal:
    role = Role(user.role)
    return Principal(
        kind="user",
        role=role,
        tenant_id=user.tenant_id,
        user_id=user.id,
        permissions=ROLE_PERMISSIONS[role],
    )


def node_principal() -> Principal:
    return Principal(kind="node", role=Role.PLATFORM_ADMIN, tenant_id=None, permissions=PERMISSIONS)


async def principal_for_access_token(db: AsyncSession, settings: Settings, token: str) -> Principal:
    """The user an access token names, as they are *now* (disabled -> refused, role current)."""
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken:
        raise bad_credentials() from None
    user = await repository.user_by_id(db, claims.user_id)
    if user is None or user.disabled_at is not None:
        raise bad_credentials()
    return user_principal(user)


async def principal_for_api_key(db: AsyncSession, key: str, *, now: datetime) -> Principal:
    parsed = api_keys.parse(key)
    row = await repository.api_key_by_prefix(db, parsed.prefix) if parsed else None
    if (
        parsed is None
        or row is None
        or not api_keys.secret_matches(parsed.secret, row.key_hash)
        or row.revoked_at is not None
    ):
        raise bad_credentials()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return Principal(
        kind="api_key",
        role=Role.OPERATOR,
        tenant_id=row.tenant_id,
        api_key_id=row.id,
        permissions=frozenset(row.permissions) & PERMISSIONS,
    )


# ---- API keys -----------------------------------------------------------------------------------
async def create_api_key(
    db: AsyncSession,
    caller: Principal,
    *,
    name: str,
    permissions: Sequence[str],
    tenant_slug: str | None,
) -> tuple[ApiKey, str]:
    """A new key of the caller's tenant (a platform admin names one) and its full text, which
    is never available again. A key gets no permission its creator lacks."""
    unknown = set(permissions) - PERMISSIONS
    if unknown:
        raise AccountError(422, "Invalid permissions", f"unknown: {', '.join(sorted(unknown))}")
    beyond = set(permissions) - caller.permissions
    if beyond:
        raise AccountError(403, "Forbidden", f"you lack: {', '.join(sorted(beyond))}")
    tenant_id = caller.tenant_id
    if tenant_slug is not None:
        tenant = await repository.tenant_by_slug(db, tenant_slug)
        if tenant is None or not caller.sees_tenant(tenant.id):
            raise AccountError(404, "Tenant not found", f"no tenant {tenant_slug!r}")
        tenant_id = tenant.id
    if tenant_id is None:
        raise AccountError(422, "Tenant required", "name the tenant the key belongs to")
    full_key, prefix, key_hash = api_keys.generate()
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        permissions=sorted(set(permissions)),
        created_by=caller.user_id,
    )
    db.add(row)
    await db.flush()
    return row, full_key


async def list_api_keys(db: AsyncSession, caller: Principal) -> Sequence[ApiKey]:
    return await repository.list_api_keys(db, caller.tenant_id)


async def revoke_api_key(
    db: AsyncSession, caller: Principal, key_id: int, *, now: datetime
) -> ApiKey:
    row = await repository.api_key_by_id(db, key_id, caller.tenant_id)
    if row is None:
        raise AccountError(404, "API key not found", f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    await db.flush()
    return row
