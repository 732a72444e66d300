"""The rules of sites: a site belongs to one tenant, and so do the stations placed at it.

Services never commit; failures are ``SiteError``s carrying the HTTP status of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.sites import repository
from kilowatt.tenants.models import Site


class SiteError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


def _not_found(site_id: int) -> SiteError:
    return SiteError(404, "Site not found", f"no site {site_id}")


async def visible_site(db: AsyncSession, site_id: int, tenant_id: int | None) -> Site:
    """The site if the caller's tenant (None: every tenant) holds it; 404 otherwise."""
    site = await repository.site_in(db, site_id, tenant_id)
    if site is None:
        raise _not_found(site_id)
    return site


async def site_for_station(db: AsyncSession, site_id: int, station_tenant_id: int) -> Site:
    """The site a station of ``station_tenant_id`` is placed at: it must be the same tenant's."""
    return await visible_site(db, site_id, station_tenant_id)


async def list_sites(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[Site], int]:
    return await repository.sites_page(db, tenant_id, limit=limit, offset=offset)


async def create_site(
    db: AsyncSession, tenant_id: int, *, name: str, address: str | None = None
) -> Site:
    site = Site(tenant_id=tenant_id, name=name, address=address)
    db.add(site)
    await db.flush()
    return site


async def update_site(
    db: AsyncSession, site: Site, *, name: str | None = None, address: str | None = None
) -> Site:
    """Change the name (when given) and the address (when given: ``""`` clears it)."""
    if name is not None:
        site.name = name
    if address is not None:
        site.address = address or None
    await db.flush()
    return site


async def delete_site(db: AsyncSession, site: Site) -> None:
    """Delete an empty site; 409 while stations stand at it (move or detach them first)."""
    stations = await repository.station_count(db, site.id)
    if stations:
        raise SiteError(409, "Site in use", f"{stations} station(s) are placed at this site")
    await db.delete(site)
    await db.flush()
