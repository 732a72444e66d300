"""Tenants: every station, token and site belongs to one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tenants.models import Tenant

DEFAULT_TENANT = "default"


async def default_tenant(db: AsyncSession) -> Tenant:
    """The tenant that owns what is created without one (created on first use)."""
    tenant = await db.scalar(select(Tenant).where(Tenant.name == DEFAULT_TENANT))
    if tenant is not None:
        return tenant
    try:
        async with db.begin_nested():  # a concurrent first use may have created it meanwhile
            tenant = Tenant(name=DEFAULT_TENANT)
            db.add(tenant)
    except IntegrityError:
        tenant = await db.scalar(select(Tenant).where(Tenant.name == DEFAULT_TENANT))
        assert tenant is not None
    return tenant
