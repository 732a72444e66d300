"""Tariffs API: a tenant's tariffs and where they apply (``tariffs:read`` / ``tariffs:write``).

Scoped to the caller's tenant; another tenant's tariff or assignment is a 404. A tariff that
does not parse is a 422 whose ``errors`` lists every problem found in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    IdPath,
    TariffsRead,
    TariffsWrite,
    TenantQuery,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.principal import Principal
from kilowatt.billing import tariff_admin as service
from kilowatt.billing.models import TariffAssignment
from kilowatt.billing.schemas import (
    TOKEN_GROUP_PATTERN,
    AssignmentCreate,
    AssignmentOut,
    ConnectorTariffOut,
    TariffCreate,
    TariffOut,
    TariffReplace,
)
from kilowatt.billing.tariff_admin import TariffAdminError
from kilowatt.stations.api import visible_station

router = APIRouter(prefix="/api/v1", tags=["tariffs"], responses=GUARDED)


@contextmanager
def tariff_problems() -> Iterator[None]:
    """Answer a refused tariff operation as a problem document with its status."""
    try:
        yield
    except TariffAdminError as exc:
        extra = {"errors": exc.errors} if exc.errors else {}
        raise Problem(exc.status, exc.title, exc.detail, **extra) from None


async def _scope(db: AsyncSession, principal: Principal, tenant: str | None) -> int | None:
    """The tenant a listing covers: the caller's, or the one a platform admin names."""
    if tenant is None:
        return principal.tenant_id
    return await target_tenant(db, principal, tenant)


def _assignment_out(assignment: TariffAssignment, charge_point_id: str | None) -> AssignmentOut:
    return AssignmentOut(
        id=assignment.id,
        tariff_id=assignment.tariff_id,
        scope=service.scope_of(assignment),
        site_id=assignment.site_id,
        station_id=charge_point_id,
        connector_id=assignment.connector_id,
        token_group=assignment.token_group,
        scope_key=assignment.scope_key,
    )


# ---- tariffs ------------------------------------------------------------------------------------
@router.get("/tariffs", responses=NOT_FOUND)
async def list_tariffs(
    request: Request, principal: TariffsRead, page: PageParams, tenant: str | None = TenantQuery
) -> Page[TariffOut]:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await _scope(db, principal, tenant)
        tariffs, total = await service.tariffs_page(
            db, tenant_id, limit=page.limit, offset=page.offset
        )
        return Page[TariffOut].of([TariffOut.model_validate(t) for t in tariffs], total, page)


@router.post("/tariffs", status_code=201, responses=NOT_FOUND)
async def create_tariff(request: Request, principal: TariffsWrite, body: TariffCreate) -> TariffOut:
    """A new tariff (version 1); 422 with every error of a tariff that does not parse."""
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await target_tenant(db, principal, body.tenant)
        with tariff_problems():
            tariff = await service.create_tariff(db, tenant_id, name=body.name, data=body.tariff)
        await db.commit()
        return TariffOut.model_validate(tariff)


@router.get("/tariffs/{tariff_id}", responses=NOT_FOUND)
async def get_tariff(request: Request, principal: TariffsRead, tariff_id: IdPath) -> TariffOut:
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            return TariffOut.model_validate(
                await service.visible_tariff(db, tariff_id, principal.tenant_id)
            )


@router.put("/tariffs/{tariff_id}", responses=NOT_FOUND)
async def replace_tariff(
    request: Request, principal: TariffsWrite, tariff_id: IdPath, body: TariffReplace
) -> TariffOut:
    """Replace name and tariff: the next version. Sessions running keep the one they started on."""
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            tariff = await service.visible_tariff(db, tariff_id, principal.tenant_id)
            tariff = await service.replace_tariff(db, tariff, name=body.name, data=body.tariff)
        await db.commit()
        return TariffOut.model_validate(tariff)


@router.delete("/tariffs/{tariff_id}", status_code=204, responses=NOT_FOUND_OR_CONFLICT)
async def delete_tariff(
    request: Request,
    principal: TariffsWrite,
    tariff_id: IdPath,
    force: bool = Query(False, description="unassign it from wherever it applies, too"),
) -> Response:
    """Delete a tariff; 409 while it is assigned anywhere, unless ``force``."""
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            tariff = await service.visible_tariff(db, tariff_id, principal.tenant_id)
            await service.delete_tariff(db, tariff, force=force)
        await db.commit()
    return Response(status_code=204)


# ---- where they apply ---------------------------------------------------------------------------
@router.get("/tariffs/{tariff_id}/assignments", responses=NOT_FOUND)
async def list_assignments(
    request: Request, principal: TariffsRead, tariff_id: IdPath, page: PageParams
) -> Page[AssignmentOut]:
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            tariff = await service.visible_tariff(db, tariff_id, principal.tenant_id)
        rows, total = await service.assignments_page(
            db, tariff.id, limit=page.limit, offset=page.offset
        )
        return Page[AssignmentOut].of([_assignment_out(a, cp) for a, cp in rows], total, page)


@router.post(
    "/tariffs/{tariff_id}/assignments",
    status_code=201,
    responses={
        200: {"model": AssignmentOut, "description": "the place's assignment, moved (replace)"},
        **NOT_FOUND_OR_CONFLICT,
    },
)
async def assign_tariff(
    request: Request,
    response: Response,
    principal: TariffsWrite,
    tariff_id: IdPath,
    body: AssignmentCreate,
) -> AssignmentOut:
    """Apply the tariff at a place of its tenant: 201; 200 when ``replace`` moved the place's
    assignment from another tariff to this one; 409 for a place taken without ``replace``."""
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            tariff = await service.visible_tariff(db, tariff_id, principal.tenant_id)
            assignment, charge_point_id, created = await service.assign(
                db,
                tariff,
                site_id=body.site_id,
                station_ref=body.station_id,
                connector_id=body.connector_id,
                token_group=body.token_group,
                replace=body.replace,
            )
        await db.commit()
        if not created:
            response.status_code = 200
        return _assignment_out(assignment, charge_point_id)


@router.delete("/tariff-assignments/{assignment_id}", status_code=204, responses=NOT_FOUND)
async def delete_assignment(
    request: Request, principal: TariffsWrite, assignment_id: IdPath
) -> Response:
    async with request.app.state.kilowatt.sessions() as db:
        with tariff_problems():
            assignment = await service.visible_assignment(db, assignment_id, principal.tenant_id)
            await service.unassign(db, assignment)
        await db.commit()
    return Response(status_code=204)


@router.get("/stations/{charge_point_id}/connectors/{connector_id}/tariff", responses=NOT_FOUND)
async def connector_tariff(
    request: Request,
    principal: TariffsRead,
    charge_point_id: str,
    connector_id: IdPath,
    token_group: str | None = Query(
        None,
        min_length=1,
        max_length=40,
        pattern=TOKEN_GROUP_PATTERN,
        description="for a token of this group",
    ),
) -> ConnectorTariffOut:
    """The tariff a session started now on the connector would pay; 404 if none applies."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        with tariff_problems():
            tariff, assignment = await service.connector_tariff(
                db, station, connector_id, token_group
            )
        return ConnectorTariffOut(
            tariff_id=tariff.id,
            name=tariff.name,
            version=tariff.version,
            scope=service.scope_of(assignment),
            scope_key=assignment.scope_key,
            tariff=tariff.spec,
        )
