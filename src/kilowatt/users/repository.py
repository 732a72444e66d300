"""Every query on accounts: users, refresh tokens, API keys (and tenants by slug)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tenants.models import Tenant
from kilowatt.users.models import ApiKey, RefreshToken, User


# ---- users -------------------------------------------------------------------------------------
async def user_by_id(db: AsyncSession, user_id: int) -> User | None:
    return await db.get(User, user_id)


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    """``email`` must already be normalised (lowercase)."""
    return await db.scalar(select(User).where(User.email == email))


async def list_users(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    """One page of users, oldest first, and the total; ``tenant_id`` None = every tenant."""
    query = select(User)
    count = select(func.count()).select_from(User)
    if tenant_id is not None:
        query = query.where(User.tenant_id == tenant_id)
        count = count.where(User.tenant_id == tenant_id)
    users = (await db.scalars(query.order_by(User.id).limit(limit).offset(offset))).all()
    total = await db.scalar(count)
    return users, total or 0


# ---- refresh tokens ----------------------------------------------------------------------------
async def refresh_token_by_hash(db: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def mark_refresh_token_used(db: AsyncSession, token_id: int, now: datetime) -> bool:
    """Use the token up; False if someone else used it first (a concurrent refresh)."""
    result = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def revoke_refresh_family(db: AsyncSession, family_id: str, now: datetime) -> None:
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def revoke_user_refresh_tokens(db: AsyncSession, user_id: int, now: datetime) -> None:
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


# ---- API keys ----------------------------------------------------------------------------------
async def api_key_by_prefix(db: AsyncSession, prefix: str) -> ApiKey | None:
    return await db.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


async def api_key_by_id(db: AsyncSession, key_id: int, tenant_id: int | None) -> ApiKey | None:
    """The key if it exists and belongs to ``tenant_id`` (None = any tenant)."""
    key = await db.get(ApiKey, key_id)
    if key is None or (tenant_id is not None and key.tenant_id != tenant_id):
        return None
    return key


async def list_api_keys(db: AsyncSession, tenant_id: int | None) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return (await db.scalars(query)).all()


# ---- tenants (looked up by slug at registration and by platform admins) -----------------------
async def tenant_by_slug(db: AsyncSession, slug: str) -> Tenant | None:
    return await db.scalar(select(Tenant).where(Tenant.slug == slug))


async def tenant_by_id(db: AsyncSession, tenant_id: int) -> Tenant | None:
    return await db.get(Tenant, tenant_id)


async def list_tenants(db: AsyncSession) -> Sequence[Tenant]:
    return (await db.scalars(select(Tenant).order_by(Tenant.id))).all()


async def tenant_exists(db: AsyncSession, *, name: str, slug: str) -> bool:
    found = await db.scalar(
        select(Tenant.id).where((Tenant.name == name) | (Tenant.slug == slug)).limit(1)
    )
    return found is not None
