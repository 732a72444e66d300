"""Every query on sites; ``tenant_id`` None means every tenant (a platform admin)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.stations.models import Station
from kilowatt.tenants.models import Site


async def site_in(db: AsyncSession, site_id: int, tenant_id: int | None) -> Site | None:
    """The site if it belongs to ``tenant_id``; None for another tenant's, as for no site."""
    query = select(Site).where(Site.id == site_id)
    if tenant_id is not None:
        query = query.where(Site.tenant_id == tenant_id)
    return await db.scalar(query)


async def sites_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[Site], int]:
    query = select(Site)
    count = select(func.count()).select_from(Site)
    if tenant_id is not None:
        query = query.where(Site.tenant_id == tenant_id)
        count = count.where(Site.tenant_id == tenant_id)
    rows = (await db.scalars(query.order_by(Site.id).limit(limit).offset(offset))).all()
    return rows, await db.scalar(count) or 0


async def station_count(db: AsyncSession, site_id: int) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Station).where(Station.site_id == site_id)
    )
    return count or 0
