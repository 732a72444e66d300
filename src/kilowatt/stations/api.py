"""Operator API for stations: register, inspect, configure, place at sites, search the message
log, and see a station's health (the troubleshooting figures of ``kilowatt.analytics``).

Scoped to the caller's tenant (``stations:read`` / ``stations:write``); another tenant's station
is a 404. The command log and the commands themselves are in ``kilowatt.commands.api``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.analytics import service as analytics
from kilowatt.analytics.schemas import StationHealth
from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    IdPath,
    StationsRead,
    StationsWrite,
    id_query,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.principal import Principal
from kilowatt.messagelog import repository as message_log
from kilowatt.sites import service as sites
from kilowatt.sites.api import site_problems
from kilowatt.stations import repository, service
from kilowatt.stations.models import Station
from kilowatt.stations.schemas import (
    ConnectorOut,
    ConnectorUpdate,
    MessageOut,
    StationCreate,
    StationOut,
    StationUpdate,
)

router = APIRouter(prefix="/api/v1/stations", tags=["stations"], responses=GUARDED)


def _out(request: Request, station: Station, **extra: Any) -> StationOut:
    registry = request.app.state.kilowatt.registry
    return StationOut.model_validate(
        {
            **{c.name: getattr(station, c.name) for c in Station.__table__.columns},
            "basic_auth": station.auth_password_hash is not None,
            "connected": station.charge_point_id in registry,
            **extra,
        }
    )


async def visible_station(db: AsyncSession, principal: Principal, charge_point_id: str) -> Station:
    """The station if the caller's tenant holds it; 404 otherwise (ids of others do not leak)."""
    station = await repository.visible_station(db, charge_point_id, principal.tenant_id)
    if station is None:
        raise Problem(404, "Station not found", f"no station {charge_point_id!r}")
    return station


@router.get("")
async def list_stations(
    request: Request,
    principal: StationsRead,
    page: PageParams,
    site_id: int | None = id_query("only the stations at this site"),
) -> Page[StationOut]:
    async with request.app.state.kilowatt.sessions() as db:
        stations, total = await repository.stations_page(
            db, principal.tenant_id, site_id=site_id, limit=page.limit, offset=page.offset
        )
        return Page[StationOut].of([_out(request, s) for s in stations], total, page)


@router.post("", status_code=201, responses=NOT_FOUND_OR_CONFLICT)
async def create_station(
    request: Request, principal: StationsWrite, body: StationCreate
) -> StationOut:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await target_tenant(db, principal, body.tenant)
        if body.site_id is not None:
            with site_problems():
                await sites.site_for_station(db, body.site_id, tenant_id)
        # Charge point ids are unique across tenants: they are the stations' WebSocket URLs.
        if await repository.by_charge_point_id(db, body.charge_point_id) is not None:
            raise Problem(409, "Station exists", f"{body.charge_point_id!r} is already registered")
        station = await service.register(
            db,
            body.charge_point_id,
            tenant_id=tenant_id,
            registration_status=body.registration_status,
            password=body.password,
            allow_missing_subprotocol=body.allow_missing_subprotocol,
            connectors=body.connectors,
        )
        station.site_id = body.site_id
        await db.commit()
        return _out(request, station)


@router.get("/{charge_point_id}", responses=NOT_FOUND)
async def get_station(
    request: Request, principal: StationsRead, charge_point_id: str
) -> StationOut:
    """The station with its connectors and its configuration as last read."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        connectors = [
            ConnectorOut.model_validate(c) for c in await repository.connectors(db, station.id)
        ]
        configuration = {c.key: c.value for c in await repository.configuration(db, station.id)}
        return _out(request, station, connectors=connectors, configuration=configuration)


@router.patch("/{charge_point_id}", responses=NOT_FOUND)
async def update_station(
    request: Request, principal: StationsWrite, charge_point_id: str, body: StationUpdate
) -> StationOut:
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        if "site_id" in body.model_fields_set:
            if body.site_id is not None:
                with site_problems():
                    await sites.site_for_station(db, body.site_id, station.tenant_id)
            station.site_id = body.site_id
        if body.registration_status is not None:
            station.registration_status = body.registration_status
        if body.allow_missing_subprotocol is not None:
            station.allow_missing_subprotocol = body.allow_missing_subprotocol
        if body.remove_password:
            station.auth_password_hash = None
        elif body.password is not None:
            station.auth_password_hash = service.hash_password(body.password)
        await db.commit()
        return _out(request, station)


@router.get("/{charge_point_id}/connectors", responses=NOT_FOUND)
async def list_connectors(
    request: Request, principal: StationsRead, charge_point_id: str, page: PageParams
) -> Page[ConnectorOut]:
    """The station's connectors (0 is the station as a whole) with their current status."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        connectors, total = await repository.connectors_page(
            db, station.id, limit=page.limit, offset=page.offset
        )
        return Page[ConnectorOut].of(
            [ConnectorOut.model_validate(c) for c in connectors], total, page
        )


@router.patch("/{charge_point_id}/connectors/{connector_id}", responses=NOT_FOUND)
async def update_connector(
    request: Request,
    principal: StationsWrite,
    charge_point_id: str,
    connector_id: IdPath,
    body: ConnectorUpdate,
) -> ConnectorOut:
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        connector = await repository.connector(db, station.id, connector_id)
        if connector is None:
            raise Problem(
                404, "Connector not found", f"no connector {connector_id} on {charge_point_id!r}"
            )
        if "max_power_w" in body.model_fields_set:
            await repository.set_max_power(db, connector, body.max_power_w)
        await db.commit()
        return ConnectorOut.model_validate(connector)


@router.get("/{charge_point_id}/messages", responses=NOT_FOUND)
async def station_messages(
    request: Request,
    principal: StationsRead,
    charge_point_id: str,
    limit: int = Query(100, ge=1, le=1000, description="the newest frames to return"),
    action: str | None = Query(
        None, max_length=40, description="frames of this action, and the answers to its calls"
    ),
    since: datetime | None = Query(None, alias="from", description="logged at or after"),
    until: datetime | None = Query(None, alias="to", description="logged before"),
    transaction_id: int | None = Query(
        None, ge=-(2**31), le=2**31 - 1, description='frames carrying "transactionId": <id>'
    ),
    direction: Literal["in", "out"] | None = Query(
        None, description='"in" from the station, "out" to it'
    ),
    message_type: int | None = Query(
        None, ge=0, le=4, description="2 CALL, 3 CALLRESULT, 4 CALLERROR (0: an unreadable frame)"
    ),
    errors: bool = Query(False, description="only frames with an error code (CALLERRORs, …)"),
) -> list[MessageOut]:
    """The station's OCPP message log, newest first (a log, not a paged list), searchable:
    every filter given must hold."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    await node.message_log.flush()
    async with node.sessions() as db:
        rows = await message_log.search(
            db,
            charge_point_id,
            limit=limit,
            action=action,
            direction=direction,
            message_type=message_type,
            errors_only=errors,
            since=_utc(since),
            until=_utc(until),
            transaction_id=transaction_id,
        )
        return [MessageOut.model_validate(r) for r in rows]


def _utc(value: datetime | None) -> datetime | None:
    """A query's time; one without an offset is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/{charge_point_id}/health", responses=NOT_FOUND)
async def station_health(
    request: Request,
    principal: StationsRead,
    charge_point_id: str,
    days: int = Query(7, ge=1, le=90, description="the window of the counts, in days up to now"),
) -> StationHealth:
    """What to look at first when a station misbehaves: its connection, boots per day, the
    error codes its connectors reported, recent CALLERRORs, failing commands, open sessions."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    await node.message_log.flush()
    async with node.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        return await analytics.station_health(
            db,
            station,
            connected=charge_point_id in node.registry,
            now=datetime.now(UTC),
            days=days,
        )
