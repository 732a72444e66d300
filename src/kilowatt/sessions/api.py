"""Versioned API for charging sessions and connectors (drivers and operators alike).

A driver sees and acts on their own sessions; an operator (or API key) with ``sessions:*``
on their tenant's. Connector status and QR codes are public: they are printed on the charger.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kilowatt.api.auth import MAX_ID, IdPath
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import require_principal
from kilowatt.auth.principal import Principal
from kilowatt.sessions import service
from kilowatt.sessions.controller import ChargingSessions
from kilowatt.sessions.seed_api import (
    FAILED_START_STATUS,
    UNLOCK_STATUS,
    Anyone,
    controller,
    refused,
)
from kilowatt.sessions.service import SessionRefused
from kilowatt.sessions.views import gun_status_view, session_view
from kilowatt.stations.api import visible_station as station_or_404

router = APIRouter(prefix="/api/v1", tags=["sessions"])

Caller = Annotated[Principal, Depends(require_principal)]


def _allow(principal: Principal, permission: str) -> None:
    if not principal.is_driver and not principal.can(permission):
        raise Problem(403, "Forbidden", f"this needs the {permission} permission")


class SessionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a driver cannot set price, energy or owner

    connector: str | None = Field(
        default=None, description="connector id or EVSE id (from the QR code)"
    )
    station: str | None = Field(default=None, description="station id or charge point id")
    connector_number: int | None = Field(default=None, ge=1, le=MAX_ID)
    id_tag: str | None = Field(
        default=None, max_length=20, description="default: your first valid card"
    )


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@router.get("/connectors/{ref}", tags=["connectors"])
async def connector_status(request: Request, ref: str, _: Anyone) -> dict[str, Any]:
    """Public: a connector's live status and whether a session can start on it now."""
    sessions = controller(request)
    async with sessions.sessions() as db:
        try:
            place = await sessions.find_place(db, connector_ref=ref)
        except SessionRefused as exc:
            raise refused(exc) from None
        view = await gun_status_view(db, sessions, place)
    view["startUrl"] = _start_url(request, view["evseId"])
    return view


def _start_url(request: Request, evse: str) -> str:
    base: str = request.app.state.kilowatt.settings.public_url
    return f"{base}/app/start?evse={evse}"


async def _qr(request: Request, ref: str) -> segno.QRCode:
    sessions = controller(request)
    async with sessions.sessions() as db:
        try:
            place = await sessions.find_place(db, connector_ref=ref)
        except SessionRefused as exc:
            raise refused(exc) from None
    return segno.make(_start_url(request, sessions.evse_id(place)), error="m")


@router.get("/connectors/{ref}/qr.svg", tags=["connectors"], response_class=Response)
async def connector_qr_svg(request: Request, ref: str, _: Anyone) -> Response:
    """Public: a QR code (SVG) that opens the start link of this connector in the driver app."""
    buffer = io.BytesIO()
    (await _qr(request, ref)).save(buffer, kind="svg", scale=8, border=2, title="Scan to charge")
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/connectors/{ref}/qr.png", tags=["connectors"], response_class=Response)
async def connector_qr_png(request: Request, ref: str, _: Anyone) -> Response:
    buffer = io.BytesIO()
    (await _qr(request, ref)).save(buffer, kind="png", scale=8, border=2)
    return Response(
        buffer.getvalue(),
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.post("/connectors/{ref}/unlock", tags=["connectors"])
async def unlock(request: Request, ref: str, caller: Caller, response: Response) -> dict[str, Any]:
    if not caller.is_driver and not caller.can("commands:send"):
        raise Problem(403, "Forbidden", "this needs the commands:send permission")
    try:
        result = await controller(request).unlock(
            caller, station_ref=None, connector_ref=ref, connector_number=None
        )
    except SessionRefused as exc:
        raise refused(exc) from None
    response.status_code = UNLOCK_STATUS.get(result.status, 502)
    return {"status": result.status, "message": result.message, "commandId": result.command_id}


@router.post("/sessions", status_code=201)
async def start_session(
    request: Request, body: SessionStart, caller: Caller, response: Response
) -> dict[str, Any]:
    """Start charging: answers once the charger accepted (pending) — or why it did not (failed)."""
    _allow(caller, "sessions:write")
    sessions = controller(request)
    try:
        session = await sessions.start(
            caller,
            station_ref=body.station,
            connector_ref=body.connector,
            connector_number=body.connector_number,
            id_tag=body.id_tag,
            origin="app" if caller.is_driver else "api",
        )
    except SessionRefused as exc:
        raise refused(exc) from None
    if session.state == "failed":
        response.status_code = FAILED_START_STATUS.get(session.start_status or "", 502)
    async with sessions.sessions() as db:
        view = await session_view(db, sessions, session, live=False)
    return {"message": service.start_message(session.start_status), **view}


@router.post("/sessions/{session_id}/end")
async def end_session(request: Request, session_id: IdPath, caller: Caller) -> dict[str, Any]:
    _allow(caller, "sessions:write")
    sessions = controller(request)
    try:
        session = await sessions.end(caller, session_id)
    except SessionRefused as exc:
        raise refused(exc) from None
    async with sessions.sessions() as db:
        view = await session_view(db, sessions, session, live=False)
    return {"message": service.STOP_MESSAGES.get(session.stop_status or "", ""), **view}


@router.get("/sessions/{session_id}")
async def get_session(request: Request, session_id: IdPath, caller: Caller) -> dict[str, Any]:
    _allow(caller, "sessions:read")
    sessions: ChargingSessions = controller(request)
    async with sessions.sessions() as db:
        try:
            session = await sessions.visible(db, caller, session_id)
        except SessionRefused as exc:
            raise refused(exc) from None
        return await session_view(db, sessions, session)


@router.get("/sessions")
async def list_sessions(
    request: Request,
    caller: Caller,
    state: str | None = Query(
        None, pattern="^(pending|active|completed|failed|expired|cancelled)$"
    ),
    since: AwareDatetime | None = Query(None, alias="from"),
    until: AwareDatetime | None = Query(None, alias="to"),
    station: str | None = Query(
        None, min_length=1, max_length=255, description="only this station's (its charge point id)"
    ),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> Page:
    """Sessions the caller may see, newest first: a driver's own, an operator's tenant's."""
    _allow(caller, "sessions:read")
    sessions = controller(request)
    async with sessions.sessions() as db:
        station_id = None if station is None else (await station_or_404(db, caller, station)).id
        query = service.listing(
            tenant_id=caller.tenant_id,
            user_id=caller.user_id if caller.is_driver else None,
            state=state,
            since=since,
            until=until,
            station_id=station_id,
        )
        rows, total = await service.page(db, query, limit=limit, offset=offset)
        items = [await session_view(db, sessions, s, live=s.state == "active") for s in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)
