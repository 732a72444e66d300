"""Site load management API: a site's grid limit, its windows and the allocations made
(``stations:read`` / ``stations:write``)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request, Response

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    IdPath,
    StationsRead,
    StationsWrite,
    requested_by,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.load_management import repository, service
from kilowatt.load_management.manager import LoadManager
from kilowatt.load_management.schemas import (
    AllocationOut,
    SiteLoadOut,
    SiteLoadSet,
    WindowOut,
    WindowSet,
)
from kilowatt.sites.api import site_problems
from kilowatt.sites.service import visible_site

router = APIRouter(prefix="/api/v1/sites", tags=["load management"], responses=GUARDED)


def _now() -> datetime:
    return datetime.now(UTC)


def _manager(request: Request) -> LoadManager:
    manager: LoadManager = request.app.state.load_manager
    return manager


async def _view(request: Request, site_id: int, tenant_id: int | None) -> SiteLoadOut:
    now = _now()
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, tenant_id)
            config = await service.configured(db, site)
        windows = await repository.windows(db, site.id, now)
        latest = await repository.latest_allocation(db, site.id)
        return service.view(config, windows, latest, now)


@router.get("/{site_id}/load", responses=NOT_FOUND)
async def get_load(request: Request, principal: StationsRead, site_id: IdPath) -> SiteLoadOut:
    """The site's limit, what is in force now, and the latest allocation."""
    return await _view(request, site_id, principal.tenant_id)


@router.put("/{site_id}/load", responses=NOT_FOUND)
async def set_load(
    request: Request, principal: StationsWrite, site_id: IdPath, body: SiteLoadSet
) -> SiteLoadOut:
    """Turn load management on or off and set the limit; the sessions are rebalanced at once."""
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, principal.tenant_id)
        await service.configure(db, site, body, _now())
        await db.commit()
    _manager(request).schedule(site_id)
    return await _view(request, site_id, principal.tenant_id)


@router.get("/{site_id}/load/windows", responses=NOT_FOUND)
async def list_windows(
    request: Request, principal: StationsRead, site_id: IdPath
) -> list[WindowOut]:
    """The windows not over yet, earliest first."""
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, principal.tenant_id)
        return [service.window_out(w) for w in await repository.windows(db, site.id, _now())]


@router.post("/{site_id}/load/windows", status_code=201, responses=NOT_FOUND)
async def add_window(
    request: Request, principal: StationsWrite, site_id: IdPath, body: WindowSet
) -> WindowOut:
    """Lower the site's limit for a while (a grid operator's signal, peak hours)."""
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, principal.tenant_id)
            window = await service.add_window(db, site, body, requested_by(principal), _now())
        await db.commit()
        out = service.window_out(window)
    _manager(request).schedule(site_id)
    return out


@router.delete("/{site_id}/load/windows/{window_id}", status_code=204, responses=NOT_FOUND)
async def delete_window(
    request: Request, principal: StationsWrite, site_id: IdPath, window_id: IdPath
) -> Response:
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, principal.tenant_id)
            await service.remove_window(db, site, window_id)
        await db.commit()
    _manager(request).schedule(site_id)
    return Response(status_code=204)


@router.get("/{site_id}/load/allocations", responses=NOT_FOUND)
async def list_allocations(
    request: Request,
    principal: StationsRead,
    site_id: IdPath,
    page: PageParams,
    since: datetime | None = Query(default=None, description="from this time (inclusive)"),
    until: datetime | None = Query(default=None, description="before this time"),
) -> Page[AllocationOut]:
    """The allocation over time, newest first: each division of the limit with every
    session's share."""
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await visible_site(db, site_id, principal.tenant_id)
        rows, total = await repository.allocations_page(
            db, site.id, since=since, until=until, limit=page.limit, offset=page.offset
        )
        return Page[AllocationOut].of([service.allocation_out(r) for r in rows], total, page)
