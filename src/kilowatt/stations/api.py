"""Operator API for stations: register, inspect, configure, place at sites, search the message
log, and see a station's health (the troubleshooting figures of ``kilowatt.analytics``).

Scoped to the caller's tenant (``stations:read`` / ``stations:write``); another tenant's station
is a 404. The command log and the commands themselves are in ``kilowatt.commands.api``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
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
    requested_by,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.principal import OPERATOR_RANK, Principal, Role
from kilowatt.messagelog import repository as message_log
from kilowatt.sites import service as sites
from kilowatt.sites.api import site_problems
from kilowatt.stations import repository, security, service
from kilowatt.stations.models import Station
from kilowatt.stations.schemas import (
    ConnectorOut,
    ConnectorUpdate,
    KeyRotation,
    MessageOut,
    ProfileRaise,
    SecurityChangeOut,
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
            "key_rotation_pending": station.auth_key_pending_hash is not None,
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
        if body.security_profile in (1, 2) and body.password is None:
            raise Problem(422, "Key required", "security profiles 1 and 2 need a password")
        station = await service.register(
            db,
            body.charge_point_id,
            tenant_id=tenant_id,
            registration_status=body.registration_status,
            password=body.password,
            allow_missing_subprotocol=body.allow_missing_subprotocol,
            connectors=body.connectors,
            security_profile=body.security_profile,
        )
        _check_profile(request, station, station.security_profile)
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


@router.patch("/{charge_point_id}", responses=NOT_FOUND_OR_CONFLICT)
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
            station.auth_password_hash = station.auth_key_pending_hash = None
        elif body.password is not None:
            station.auth_password_hash = service.hash_password(body.password)
            station.auth_key_pending_hash = None
        _update_profile(request, principal, station, body.security_profile, force=body.force)
        await db.commit()
        return _out(request, station)


def _check_profile(request: Request, station: Station, profile: int) -> None:
    problem = security.raise_problem(station, request.app.state.kilowatt.settings, profile)
    if problem is not None:
        raise Problem(409, "Security profile not possible", problem)


def _update_profile(
    request: Request, principal: Principal, station: Station, profile: int | None, *, force: bool
) -> None:
    """The CSMS side of a station's profile; a password alone moves profile 0 to 1."""
    if profile is None:
        if station.security_profile == 0 and station.auth_password_hash is not None:
            profile = 1
        elif station.security_profile in (1, 2) and station.auth_password_hash is None:
            profile = 0  # the key was removed: that lowers the profile
        else:
            return
    admin = OPERATOR_RANK.get(principal.role, 0) >= OPERATOR_RANK[Role.ADMIN]
    # A00.FR.005: lowering is never done over OCPP; here only by an admin, and explicitly.
    if profile < station.security_profile and not (force and admin):
        raise Problem(
            409,
            "Security profile downgrade",
            f"the station is on security profile {station.security_profile}; lowering it"
            " needs an admin and force: true",
        )
    _check_profile(request, station, profile)
    station.security_profile = profile


@router.post(
    "/{charge_point_id}/rotate-key",
    responses={202: {"description": "no answer yet: both keys work"}, **NOT_FOUND_OR_CONFLICT},
)
async def rotate_key(
    request: Request,
    response: Response,
    principal: StationsWrite,
    charge_point_id: str,
    body: KeyRotation | None = None,
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the station"),
) -> SecurityChangeOut:
    """Send the station a new AuthorizationKey (TC_073); the old key works until it accepts."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    try:
        change = await security.rotate_key(
            node.sessions,
            node.commands,
            charge_point_id,
            None if body is None else body.key,
            service.hash_password,
            wait=wait,
            requested_by=requested_by(principal),
        )
    except ValueError as exc:
        raise Problem(422, "Invalid key", str(exc)) from None
    return _change_out(response, charge_point_id, change)


@router.post(
    "/{charge_point_id}/security-profile",
    responses={202: {"description": "no answer yet"}, **NOT_FOUND_OR_CONFLICT},
)
async def raise_security_profile(
    request: Request,
    response: Response,
    principal: StationsWrite,
    charge_point_id: str,
    body: ProfileRaise,
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the station"),
) -> SecurityChangeOut:
    """Raise the station's profile over OCPP, then Hard reset it (TC_083); from its Accepted on,
    connections below the new profile are refused."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    try:
        change = await security.raise_profile(
            node.sessions,
            node.commands,
            node.settings,
            charge_point_id,
            body.security_profile,
            reset=body.reset,
            wait=wait,
            requested_by=requested_by(principal),
        )
    except security.NotPossible as exc:
        raise Problem(409, "Security profile not possible", str(exc)) from None
    return _change_out(response, charge_point_id, change)


def _change_out(
    response: Response, charge_point_id: str, change: security.SecurityChange
) -> SecurityChangeOut:
    if change.command.state in ("pending", "sent"):
        response.status_code = 202
    return SecurityChangeOut(
        charge_point_id=charge_point_id,
        security_profile=change.security_profile,
        key=change.key,
        command_id=change.command.id,
        state=change.command.state,
        outcome=change.command.outcome,
        reset_command_id=None if change.reset is None else change.reset.id,
    )


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
