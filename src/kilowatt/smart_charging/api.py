"""Operator API for smart charging: profiles per station, limits, the composite schedule.

Reading needs ``stations:read``, changing what a station holds ``commands:send`` (a profile is
sent as a command); only for the stations of the caller's tenant (others' are a 404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from kilowatt.api.auth import (
    GUARDED,
    MAX_ID,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    CommandsSend,
    StationsRead,
    requested_by,
)
from kilowatt.api.pagination import PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.principal import Principal
from kilowatt.load_management import repository as load_repository
from kilowatt.ocpp.v16 import encode
from kilowatt.ocpp.v16.enums import ChargingRateUnitType
from kilowatt.smart_charging import repository
from kilowatt.smart_charging.models import ChargingProfileChange, InstalledChargingProfile
from kilowatt.smart_charging.profiles import ProfileInvalid
from kilowatt.smart_charging.schemas import (
    ChangeOut,
    CompositeOut,
    ExpectedOut,
    InstalledOut,
    LimitSet,
    PeriodOut,
    ProfileClear,
    ProfileSet,
    ProfilesOut,
    ReportedOut,
    Unit,
)
from kilowatt.smart_charging.service import Answer, SmartCharging
from kilowatt.stations.api import visible_station
from kilowatt.stations.models import Station

router = APIRouter(prefix="/api/v1/stations", tags=["smart charging"], responses=GUARDED)

WAIT = Query(15.0, ge=0, le=120, description="seconds to wait for the station's answer")
STILL_RUNNING: dict[int | str, dict[str, Any]] = {
    202: {"description": "sent, no answer yet: poll /api/v1/commands/{command_id}"}
}


def _service(request: Request) -> SmartCharging:
    node = request.app.state.kilowatt
    return SmartCharging(node.sessions, node.commands)


async def _station(request: Request, principal: Principal, charge_point_id: str) -> Station:
    async with request.app.state.kilowatt.sessions() as db:
        return await visible_station(db, principal, charge_point_id)


def _change_out(change: ChargingProfileChange, charge_point_id: str) -> ChangeOut:
    data = {c.name: getattr(change, c.name) for c in ChargingProfileChange.__table__.columns}
    return ChangeOut.model_validate({**data, "charge_point_id": charge_point_id})


def _installed_out(row: InstalledChargingProfile, in_force: bool) -> InstalledOut:
    data = {c.name: getattr(row, c.name) for c in InstalledChargingProfile.__table__.columns}
    return InstalledOut.model_validate({**data, "in_force": in_force})


def _invalid(exc: ProfileInvalid) -> Problem:
    return Problem(
        422,
        "Invalid charging profile",
        str(exc),
        code="InvalidChargingProfile",
        violations=[{"field": v.field, "message": v.message} for v in exc.violations],
    )


def _answered(answer: Answer, response: Response, charge_point_id: str) -> ChangeOut:
    if not answer.final:
        response.status_code = 202
    return _change_out(answer.change, charge_point_id)


@router.post("/{charge_point_id}/charging-profiles", responses={**STILL_RUNNING, **NOT_FOUND})
async def set_profile(
    request: Request,
    response: Response,
    principal: CommandsSend,
    charge_point_id: str,
    body: ProfileSet,
    wait: float = WAIT,
) -> ChangeOut:
    """Check the profile (422 with every broken rule, nothing sent) and send SetChargingProfile.

    200 with the station's answer in ``status`` (Accepted, Rejected, NotSupported, …), 202 if
    it has not answered within ``wait`` seconds.
    """
    station = await _station(request, principal, charge_point_id)
    try:
        answer = await _service(request).set_profile(
            station,
            body.connector_id,
            body.profile,
            wait=wait,
            requested_by=requested_by(principal),
        )
    except ProfileInvalid as exc:
        raise _invalid(exc) from None
    return _answered(answer, response, station.charge_point_id)


@router.get("/{charge_point_id}/charging-profiles", responses=NOT_FOUND)
async def list_profiles(
    request: Request, principal: StationsRead, charge_point_id: str, page: PageParams
) -> ProfilesOut:
    """What Kilowatt believes the station holds, and the history of changes (newest first)."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        current, _ = await repository.in_force(db, station.id)
        live = {row.id for row in current}
        rows = await repository.installed(db, station.id)
        changes, total = await repository.changes_page(
            db, station.id, limit=page.limit, offset=page.offset
        )
        return ProfilesOut(
            installed=[_installed_out(row, row.id in live) for row in rows],
            history=[_change_out(c, station.charge_point_id) for c in changes],
            history_total=total,
        )


@router.delete(
    "/{charge_point_id}/charging-profiles/{profile_id}", responses={**STILL_RUNNING, **NOT_FOUND}
)
async def clear_profile(
    request: Request,
    response: Response,
    principal: CommandsSend,
    charge_point_id: str,
    profile_id: int,
    wait: float = WAIT,
) -> ChangeOut:
    """ClearChargingProfile by chargingProfileId (sent even if Kilowatt does not know the id:
    the station may hold profiles set elsewhere). ``status`` Unknown: the station had none."""
    if not 0 <= profile_id <= MAX_ID:
        raise Problem(422, "Invalid profile id", f"{profile_id} is not a chargingProfileId")
    station = await _station(request, principal, charge_point_id)
    answer = await _service(request).clear(
        station, profile_id=profile_id, wait=wait, requested_by=requested_by(principal)
    )
    return _answered(answer, response, station.charge_point_id)


@router.post("/{charge_point_id}/charging-profiles/clear", responses={**STILL_RUNNING, **NOT_FOUND})
async def clear_profiles(
    request: Request,
    response: Response,
    principal: CommandsSend,
    charge_point_id: str,
    body: ProfileClear,
    wait: float = WAIT,
) -> ChangeOut:
    """ClearChargingProfile by criteria: id, connector, purpose, stack level (all given ones
    must match, errata 3.25); an empty body clears every profile of the station."""
    station = await _station(request, principal, charge_point_id)
    answer = await _service(request).clear(
        station,
        profile_id=body.id,
        connector_id=body.connector_id,
        purpose=body.purpose,
        stack_level=body.stack_level,
        wait=wait,
        requested_by=requested_by(principal),
    )
    return _answered(answer, response, station.charge_point_id)


@router.post("/{charge_point_id}/limit", responses={**STILL_RUNNING, **NOT_FOUND_OR_CONFLICT})
async def set_limit(
    request: Request,
    response: Response,
    principal: CommandsSend,
    charge_point_id: str,
    body: LimitSet,
    wait: float = WAIT,
) -> ChangeOut:
    """Limit a connector, or the whole station (connector 0), from now: sends a
    ChargePointMaxProfile (connector 0), a TxProfile (a transaction runs on the connector) or a
    TxDefaultProfile, at the highest stack level the station allows."""
    station = await _station(request, principal, charge_point_id)
    if body.connector_id > 0:
        async with request.app.state.kilowatt.sessions() as db:
            managed = await load_repository.managed_sites_of(db, [station.id], [])
        if managed:
            raise Problem(
                409,
                "Load-managed site",
                "the site's load manager sets this station's connector limits: change the "
                "site's limit (or limit the whole station, connector 0) instead",
            )
    try:
        answer = await _service(request).apply_limit(
            station,
            body.connector_id,
            body.limit,
            ChargingRateUnitType(body.unit),
            until=body.until,
            number_phases=body.number_phases,
            wait=wait,
            requested_by=requested_by(principal),
        )
    except ProfileInvalid as exc:
        raise _invalid(exc) from None
    return _answered(answer, response, station.charge_point_id)


@router.get("/{charge_point_id}/composite-schedule", responses=NOT_FOUND)
async def composite_schedule(
    request: Request,
    principal: StationsRead,
    charge_point_id: str,
    connector: int = Query(ge=0, le=MAX_ID, description="0: the station as a whole"),
    duration: int = Query(3600, ge=1, le=31 * 86_400, description="seconds"),
    unit: Unit = Query("A"),
    wait: float = WAIT,
) -> CompositeOut:
    """Ask the station for its composite schedule (GetCompositeSchedule) and put Kilowatt's own
    expectation, computed from the profiles it believes are installed, beside it."""
    station = await _station(request, principal, charge_point_id)
    view = await _service(request).composite(
        station,
        connector,
        duration,
        ChargingRateUnitType(unit),
        wait=wait,
        requested_by=requested_by(principal),
    )
    reported = view.reported
    schedule: dict[str, Any] | None = None
    if reported is not None and reported.charging_schedule is not None:
        schedule = encode(reported)["chargingSchedule"]
    command = view.command
    return CompositeOut(
        charge_point_id=station.charge_point_id,
        connector_id=connector,
        station=ReportedOut(
            command_id=command.id,
            state=command.state,
            status=reported.status if reported is not None else command.outcome,
            schedule_start=reported.schedule_start if reported is not None else None,
            charging_schedule=schedule,
        ),
        expected=ExpectedOut(
            schedule_start=view.expected.start,
            duration=view.expected.duration,
            unit=unit,
            transaction_id=view.transaction_id,
            periods=[
                PeriodOut(start_period=p.start, limit=p.limit, number_phases=p.number_phases)
                for p in view.expected.periods
            ],
        ),
    )
