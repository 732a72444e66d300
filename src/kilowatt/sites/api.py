"""Sites API: a tenant's places, where its stations stand (``stations:read`` / ``stations:write``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request, Response

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    IdPath,
    StationsRead,
    StationsWrite,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.sites import service
from kilowatt.sites.schemas import SiteCreate, SiteOut, SiteUpdate
from kilowatt.sites.service import SiteError

router = APIRouter(prefix="/api/v1/sites", tags=["sites"], responses=GUARDED)


@contextmanager
def site_problems() -> Iterator[None]:
    """Answer a refused site operation as a problem document with its status."""
    try:
        yield
    except SiteError as exc:
        raise Problem(exc.status, exc.title, exc.detail) from None


@router.get("")
async def list_sites(request: Request, principal: StationsRead, page: PageParams) -> Page[SiteOut]:
    async with request.app.state.kilowatt.sessions() as db:
        sites, total = await service.list_sites(
            db, principal.tenant_id, limit=page.limit, offset=page.offset
        )
        return Page[SiteOut].of([SiteOut.model_validate(s) for s in sites], total, page)


@router.post("", status_code=201, responses=NOT_FOUND)
async def create_site(request: Request, principal: StationsWrite, body: SiteCreate) -> SiteOut:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await target_tenant(db, principal, body.tenant)
        site = await service.create_site(db, tenant_id, name=body.name, address=body.address)
        await db.commit()
        return SiteOut.model_validate(site)


@router.get("/{site_id}", responses=NOT_FOUND)
async def get_site(request: Request, principal: StationsRead, site_id: IdPath) -> SiteOut:
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            return SiteOut.model_validate(
                await service.visible_site(db, site_id, principal.tenant_id)
            )


@router.patch("/{site_id}", responses=NOT_FOUND)
async def update_site(
    request: Request, principal: StationsWrite, site_id: IdPath, body: SiteUpdate
) -> SiteOut:
    clear_address = "address" in body.model_fields_set and body.address is None
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await service.visible_site(db, site_id, principal.tenant_id)
            site = await service.update_site(
                db, site, name=body.name, address="" if clear_address else body.address
            )
        await db.commit()
        return SiteOut.model_validate(site)


@router.delete("/{site_id}", status_code=204, responses=NOT_FOUND_OR_CONFLICT)
async def delete_site(request: Request, principal: StationsWrite, site_id: IdPath) -> Response:
    async with request.app.state.kilowatt.sessions() as db:
        with site_problems():
            site = await service.visible_site(db, site_id, principal.tenant_id)
            await service.delete_site(db, site)
        await db.commit()
    return Response(status_code=204)
