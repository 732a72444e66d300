"""Operator API of the security whitepaper's data: stations' security events, the certificates
the station CA issued them and the certificates they hold. Reading needs ``stations:read``;
every query is scoped to the caller's tenant (another tenant's station is a 404)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from kilowatt.api.auth import GUARDED, NOT_FOUND, StationsRead
from kilowatt.api.pagination import Page, PageParams
from kilowatt.security import repository
from kilowatt.security.models import SecurityEvent
from kilowatt.security.schemas import (
    InstalledCertificateOut,
    IssuedCertificateOut,
    SecurityEventOut,
    StationCertificatesOut,
)
from kilowatt.stations.api import visible_station

router = APIRouter(tags=["security"], responses=GUARDED)

TypeQuery = Query(None, min_length=1, max_length=50, description="only events of this type")
CriticalQuery = Query(None, description="only critical (true) or only other (false) events")


def _event_out(event: SecurityEvent, charge_point_id: str) -> SecurityEventOut:
    return SecurityEventOut(
        id=event.id,
        tenant_id=event.tenant_id,
        charge_point_id=charge_point_id,
        type=event.type,
        tech_info=event.tech_info,
        timestamp=event.timestamp,
        received_at=event.received_at,
        critical=event.critical,
    )


@router.get("/api/v1/security-events")
async def list_security_events(
    request: Request,
    principal: StationsRead,
    page: PageParams,
    station: str | None = Query(
        None, min_length=1, max_length=255, description="only this station's (charge point id)"
    ),
    type: str | None = TypeQuery,
    critical: bool | None = CriticalQuery,
) -> Page[SecurityEventOut]:
    """Security events of the caller's stations, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        rows, total = await repository.events_page(
            db,
            principal.tenant_id,
            charge_point_id=station,
            type=type,
            critical=critical,
            limit=page.limit,
            offset=page.offset,
        )
        return Page[SecurityEventOut].of([_event_out(e, cp) for e, cp in rows], total, page)


@router.get("/api/v1/stations/{charge_point_id}/security-events", responses=NOT_FOUND)
async def station_security_events(
    request: Request,
    principal: StationsRead,
    charge_point_id: str,
    page: PageParams,
    type: str | None = TypeQuery,
    critical: bool | None = CriticalQuery,
) -> Page[SecurityEventOut]:
    """One station's security events, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        rows, total = await repository.events_page(
            db,
            principal.tenant_id,
            station_id=station.id,
            type=type,
            critical=critical,
            limit=page.limit,
            offset=page.offset,
        )
        return Page[SecurityEventOut].of([_event_out(e, cp) for e, cp in rows], total, page)


@router.get("/api/v1/stations/{charge_point_id}/certificates", responses=NOT_FOUND)
async def station_certificates(
    request: Request, principal: StationsRead, charge_point_id: str
) -> StationCertificatesOut:
    """The certificates the station holds (from its GetInstalledCertificateIds answers and the
    InstallCertificate / DeleteCertificate it accepted), and those the station CA issued it."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        installed = await repository.installed(db, station.id)
        issued = await repository.issued_certificates(db, station.id)
        return StationCertificatesOut(
            charge_point_id=station.charge_point_id,
            installed=[InstalledCertificateOut.model_validate(r) for r in installed],
            issued=[IssuedCertificateOut.model_validate(r) for r in issued],
        )
