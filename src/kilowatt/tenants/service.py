"""Tenants: every station, token and site belongs to one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tenants.models import Tenant

DEFAULT_TENANT = "default"


async def default_tenant(db: AsyncSession) -> Tenant:
    """The tenant that owns what is created without one (created on first use)."""
    tenant = await db.scalar(select(Tenant).where(Tenant.name == DEFAULT_TENANT))
    if tenant is None:
        tenant = Tenant(name=DEFAULT_TENANT)
        db.add(tenant)
        await db.flush()
    return tenant
