"""Reservations API: drivers reserve, list and cancel their own; operators their tenant's.

A driver reserves with one of their cards; an operator (``reservations:write``) for any card of
the tenant. Reading needs ``reservations:read`` (drivers: their own rows).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from kilowatt.api.auth import MAX_ID, IdPath
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import require_principal
from kilowatt.auth.principal import Principal
from kilowatt.reservations import repository
from kilowatt.reservations.controller import FAILED_STATUS, ReservationRefused, Reservations
from kilowatt.reservations.schemas import ReservationCreate, ReservationPage
from kilowatt.reservations.views import reservation_view
from kilowatt.stations.api import visible_station as station_or_404

router = APIRouter(prefix="/api/v1", tags=["reservations"])

Caller = Annotated[Principal, Depends(require_principal)]
STATES = "^(" + "|".join(repository.ACTIVE_STATES + repository.FINAL_STATES) + ")$"


def _allow(principal: Principal, permission: str) -> None:
    if not principal.is_driver and not principal.can(permission):
        raise Problem(403, "Forbidden", f"this needs the {permission} permission")


def _desk(request: Request) -> Reservations:
    return Reservations.of(request.app.state.kilowatt)


def _refused(exc: ReservationRefused) -> Problem:
    return Problem(exc.status, exc.title, exc.detail)


@router.post("/reservations", status_code=201)
async def create_reservation(
    request: Request, body: ReservationCreate, caller: Caller, response: Response
) -> dict[str, Any]:
    """Reserve a connector (or any connector of a station: ``connector_number`` 0) with
    ReserveNow: 201 when the charger accepted; otherwise the recorded refusal with 409
    (Faulted, Occupied, Unavailable, Rejected), 503 (offline) or 504 (no answer)."""
    _allow(caller, "reservations:write")
    desk = _desk(request)
    try:
        reservation, word = await desk.reserve(
            caller,
            connector_ref=body.connector,
            station_ref=body.station,
            connector_number=body.connector_number,
            id_tag=body.id_tag,
            minutes=body.minutes,
            expires_at=body.expires_at,
        )
    except ReservationRefused as exc:
        raise _refused(exc) from None
    if reservation.state not in ("accepted", "used"):
        response.status_code = FAILED_STATUS.get(word, 502)
    async with desk.sessions() as db:
        return await reservation_view(db, reservation, desk.settings.evse_operator_id)


@router.get("/reservations")
async def list_reservations(
    request: Request,
    caller: Caller,
    state: str | None = Query(None, pattern=STATES),
    active: bool | None = Query(None, description="only active (true) or ended (false) ones"),
    station: str | None = Query(
        None, min_length=1, max_length=255, description="only this station's (charge point id)"
    ),
    id_tag: str | None = Query(None, min_length=1, max_length=20),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> ReservationPage:
    """Reservations the caller may see, newest first: a driver's own, an operator's tenant's."""
    _allow(caller, "reservations:read")
    desk = _desk(request)
    async with desk.sessions() as db:
        station_id = None if station is None else (await station_or_404(db, caller, station)).id
        query = repository.listing(
            tenant_id=caller.tenant_id,
            user_id=caller.user_id if caller.is_driver else None,
            state=state,
            active=active,
            station_id=station_id,
            id_tag=id_tag,
        )
        rows, total = await repository.page(db, query, limit=limit, offset=offset)
        items = [await reservation_view(db, r, desk.settings.evse_operator_id) for r in rows]
    return ReservationPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/reservations/{reservation_id}")
async def get_reservation(
    request: Request, reservation_id: IdPath, caller: Caller
) -> dict[str, Any]:
    _allow(caller, "reservations:read")
    desk = _desk(request)
    async with desk.sessions() as db:
        try:
            reservation = await desk.visible(db, caller, reservation_id)
        except ReservationRefused as exc:
            raise _refused(exc) from None
        return await reservation_view(db, reservation, desk.settings.evse_operator_id)


@router.delete("/reservations/{reservation_id}")
async def cancel_reservation(
    request: Request, reservation_id: IdPath, caller: Caller
) -> dict[str, Any]:
    """CancelReservation: 200 with the ended reservation (``cancelled``, or ``cancel_rejected``
    when the charger no longer held it); 409 if it is not active; 503/504 if the charger did
    not confirm (the reservation still holds)."""
    _allow(caller, "reservations:write")
    desk = _desk(request)
    try:
        reservation = await desk.cancel(caller, reservation_id)
    except ReservationRefused as exc:
        raise _refused(exc) from None
    async with desk.sessions() as db:
        return await reservation_view(db, reservation, desk.settings.evse_operator_id)
