"""The seed's ChargingSessionController, at the seed's paths (``/api/ChargingSession/…``).

Requests accept the seed's field names in any letter case (ChargingStationId, ChargingGunId,
ChargeTagId, ConnectorId); answers are camelCase JSON. The gun status is public; everything
else needs a driver's access token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kilowatt.api.auth import MAX_ID, IdPath
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import optional_principal, require_driver
from kilowatt.auth.principal import Principal
from kilowatt.sessions import service
from kilowatt.sessions.controller import ChargingSessions
from kilowatt.sessions.service import SessionRefused
from kilowatt.sessions.views import gun_status_view, session_view

router = APIRouter(prefix="/api/ChargingSession", tags=["driver (seed API)"])

Driver = Annotated[Principal, Depends(require_driver)]
# Public, but a credential that is present must be valid (never silently anonymous).
Anyone = Annotated[Principal | None, Depends(optional_principal)]

# HTTP status for a start the charger did not take: the charger refused / is offline / silent.
FAILED_START_STATUS = {"Rejected": 409, "Offline": 503, "Timeout": 504}
UNLOCK_STATUS = {
    "Unlocked": 200,
    "UnlockFailed": 409,
    "OngoingAuthorizedTransaction": 409,
    "NotSupported": 422,
    "UnknownConnector": 404,
    "Offline": 503,
    "Timeout": 504,
}


class _SeedModel(BaseModel):
    """Field names matched case-insensitively, as ASP.NET model binding does."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _fold_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {name.lower(): name for name in cls.model_fields}
        return {names.get(str(key).lower(), key): value for key, value in data.items()}


class StartChargingSessionRequest(_SeedModel):
    ChargingStationId: str | int | None = Field(
        default=None, description="station id or charge point id"
    )
    ChargingGunId: str | int | None = Field(
        default=None, description="connector (gun) id or EVSE id"
    )
    ChargeTagId: str | None = Field(
        default=None, max_length=20, description="your RFID card / app token"
    )
    ConnectorId: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="connector number on the station"
    )


class EndChargingSessionRequest(_SeedModel):
    ChargingSessionId: int | None = Field(default=None, ge=1, le=MAX_ID)
    SessionId: int | None = Field(default=None, ge=1, le=MAX_ID)


class UnlockConnectorRequest(_SeedModel):
    ChargingStationId: str | int | None = None
    ChargingGunId: str | int | None = None
    ConnectorId: int | None = Field(default=None, ge=1, le=MAX_ID)


def controller(request: Request) -> ChargingSessions:
    sessions: ChargingSessions = request.app.state.kilowatt.charging_sessions
    return sessions


def refused(exc: SessionRefused) -> Problem:
    return Problem(exc.status, exc.title, exc.detail)


@router.post("/start-charging-session")
async def start_charging_session(
    request: Request, body: StartChargingSessionRequest, driver: Driver
) -> JSONResponse:
    sessions = controller(request)
    try:
        session = await sessions.start(
            driver,
            station_ref=body.ChargingStationId,
            connector_ref=body.ChargingGunId,
            connector_number=body.ConnectorId,
            id_tag=body.ChargeTagId,
        )
    except SessionRefused as exc:
        raise refused(exc) from None
    async with sessions.sessions() as db:
        view = await session_view(db, sessions, session, live=False)
    ok = session.state in ("pending", "active")
    status = 200 if ok else FAILED_START_STATUS.get(session.start_status or "", 502)
    return JSONResponse(
        {
            "success": ok,
            "message": service.start_message(session.start_status)
            if ok
            else session.failure_reason,
            "ocppStatus": session.start_status,
            **view,
        },
        status_code=status,
    )


@router.post("/end-charging-session")
async def end_charging_session(
    request: Request, body: EndChargingSessionRequest, driver: Driver
) -> dict[str, Any]:
    session_id = body.ChargingSessionId or body.SessionId
    if session_id is None:
        raise Problem(422, "Invalid request", "ChargingSessionId is required")
    sessions = controller(request)
    try:
        session = await sessions.end(driver, session_id)
    except SessionRefused as exc:
        raise refused(exc) from None
    async with sessions.sessions() as db:
        view = await session_view(db, sessions, session, live=False)
    return {
        "success": True,
        "message": service.STOP_MESSAGES.get(
            session.stop_status or "", f"The charger answered {session.stop_status}."
        ),
        "ocppStatus": session.stop_status,
        **view,
    }


@router.post("/unlock-connector")
async def unlock_connector(
    request: Request, body: UnlockConnectorRequest, driver: Driver
) -> JSONResponse:
    try:
        result = await controller(request).unlock(
            driver,
            station_ref=body.ChargingStationId,
            connector_ref=body.ChargingGunId,
            connector_number=body.ConnectorId,
        )
    except SessionRefused as exc:
        raise refused(exc) from None
    return JSONResponse(
        {
            "success": result.status == "Unlocked",
            "ocppStatus": result.status,
            "message": result.message,
        },
        status_code=UNLOCK_STATUS.get(result.status, 502),
    )


@router.get("/charging-gun-status/{gun_id}")
async def charging_gun_status(request: Request, gun_id: str, _: Anyone) -> dict[str, Any]:
    """Public: the live status of a connector (by connector id or EVSE id) and whether it can start."""
    sessions = controller(request)
    async with sessions.sessions() as db:
        try:
            place = await sessions.find_place(db, connector_ref=gun_id)
        except SessionRefused as exc:
            raise refused(exc) from None
        return await gun_status_view(db, sessions, place)


@router.get("/charging-session-details/{session_id}")
async def charging_session_details(
    request: Request, session_id: IdPath, driver: Driver
) -> dict[str, Any]:
    sessions = controller(request)
    async with sessions.sessions() as db:
        try:
            session = await sessions.visible(db, driver, session_id)
        except SessionRefused as exc:
            raise refused(exc) from None
        return await session_view(db, sessions, session)


@router.get("/charging-sessions")
async def charging_sessions(
    request: Request,
    driver: Driver,
    state: str | None = Query(
        None, pattern="^(pending|active|completed|failed|expired|cancelled)$"
    ),
    from_: AwareDatetime | None = Query(None, alias="from"),
    to: AwareDatetime | None = Query(None),
    page: int = Query(1, ge=1, le=MAX_ID // 100),
    pageSize: int = Query(20, ge=1, le=100),  # the seed's parameter name
) -> dict[str, Any]:
    """The driver's own sessions, newest first, filterable by state and date (requestedAt)."""
    sessions = controller(request)
    since: datetime | None = from_
    query = service.listing(
        tenant_id=driver.tenant_id, user_id=driver.user_id, state=state, since=since, until=to
    )
    async with sessions.sessions() as db:
        rows, total = await service.page(db, query, limit=pageSize, offset=(page - 1) * pageSize)
        items = [await session_view(db, sessions, s, live=s.state == "active") for s in rows]
    return {"items": items, "page": page, "pageSize": pageSize, "total": total}
