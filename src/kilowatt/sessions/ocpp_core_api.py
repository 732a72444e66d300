"""An OCPP.Core-compatible server API, for systems built like the seed's controller.

``/API/<command>/<chargePointId>[/<connectorId>[/<chargeTagId>]]`` with an ``X-API-Key``
header, answering ``{"status": "<the charger's word>"}`` like OCPP.Core: 404 when the charge
point is unknown or offline, 424 when there is no open transaction to stop, ``Timeout`` when the
charger did not answer in time and ``Disconnected`` when it dropped while we waited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from kilowatt.api.auth import MAX_ID
from kilowatt.auth.deps import require_permission
from kilowatt.auth.principal import Principal
from kilowatt.commands.models import Command
from kilowatt.sessions.controller import ChargingSessions
from kilowatt.sessions.seed_api import controller
from kilowatt.sessions.service import SessionRefused
from kilowatt.stations import repository as stations
from kilowatt.stations.models import Station
from kilowatt.transactions.models import Transaction

router = APIRouter(prefix="/API", tags=["OCPP.Core-compatible API"])

Operator = Annotated[Principal, Depends(require_permission("ocpp_api"))]
ConnectorPath = Annotated[int, Path(ge=0, le=MAX_ID)]

# OCPP.Core's connector status numbers (ConnectorStatusEnum).
_STATUS_NUMBER = {
    "Available": 1,
    "Preparing": 2,
    "Charging": 2,
    "SuspendedEV": 2,
    "SuspendedEVSE": 2,
    "Finishing": 2,
    "Reserved": 2,
    "Unavailable": 3,
    "Faulted": 4,
}


def _answer(status: str, code: int = 200) -> JSONResponse:
    return JSONResponse({"status": status}, status_code=code)


def _word(command: Command) -> str:
    if command.state == "completed":
        return command.outcome or "Accepted"
    if command.state == "offline":
        return "Disconnected" if command.sent_at is not None and command.message_id else "Offline"
    if command.state in ("timeout", "sent", "pending"):
        return "Timeout"
    return command.outcome or "Error"


async def _online_station(
    sessions: ChargingSessions, principal: Principal, charge_point_id: str
) -> Station | JSONResponse:
    async with sessions.sessions() as db:
        station = await stations.by_charge_point_id(db, charge_point_id)
    if station is None or not principal.sees_tenant(station.tenant_id):
        return _answer("Unknown charge point", 404)
    if not sessions.online(station):
        return _answer("Offline", 404)
    return station


async def _send(
    request: Request,
    principal: Principal,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any],
) -> JSONResponse:
    sessions = controller(request)
    station = await _online_station(sessions, principal, charge_point_id)
    if isinstance(station, JSONResponse):
        return station
    command = await sessions.commands.send(
        charge_point_id,
        action,
        payload,
        wait=request.app.state.kilowatt.settings.start_timeout,
        requested_by=f"ocpp-core-api:{principal.kind}",
    )
    return _answer(_word(command))


@router.get("/Status")
async def status(request: Request, principal: Operator) -> list[dict[str, Any]]:
    """The connected charge points and their connectors."""
    sessions = controller(request)
    result = []
    async with sessions.sessions() as db:
        for station in await stations.list_stations(db, tenant_id=principal.tenant_id):
            if not sessions.online(station):
                continue
            connectors: dict[str, Any] = {}
            for connector in await stations.connectors(db, station.id):
                if connector.connector_id < 1:
                    continue
                tx = await db.scalar(
                    select(Transaction)
                    .where(
                        Transaction.station_id == station.id,
                        Transaction.connector_id == connector.connector_id,
                        Transaction.stop_received_at.is_(None),
                    )
                    .order_by(Transaction.id.desc())
                    .limit(1)
                )
                connectors[str(connector.connector_id)] = {
                    "Status": _STATUS_NUMBER.get(connector.status, 0),
                    "ChargeRateKW": None,
                    "MeterKWH": round(tx.last_meter_wh / 1000, 3)
                    if tx is not None and tx.last_meter_wh is not None
                    else None,
                    "SoC": None,
                }
            result.append(
                {
                    "id": station.charge_point_id,
                    "name": station.model or station.charge_point_id,
                    "protocol": "ocpp1.6",
                    "OnlineConnectors": connectors,
                }
            )
    return result


@router.get("/Reset/{charge_point_id}")
async def reset(request: Request, charge_point_id: str, principal: Operator) -> JSONResponse:
    return await _send(request, principal, charge_point_id, "Reset", {"type": "Soft"})


@router.get("/UnlockConnector/{charge_point_id}/{connector_id}")
async def unlock(
    request: Request, charge_point_id: str, connector_id: ConnectorPath, principal: Operator
) -> JSONResponse:
    return await _send(
        request, principal, charge_point_id, "UnlockConnector", {"connectorId": connector_id}
    )


@router.get("/StartTransaction/{charge_point_id}/{connector_id}/{charge_tag_id}")
@router.get(
    "/RemoteStartTransaction/{charge_point_id}/{connector_id}/{charge_tag_id}",
    include_in_schema=False,
)
async def start_transaction(
    request: Request,
    charge_point_id: str,
    connector_id: ConnectorPath,
    charge_tag_id: str,
    principal: Operator,
) -> JSONResponse:
    """RemoteStartTransaction as a charging session (pending until the charger starts)."""
    sessions = controller(request)
    station = await _online_station(sessions, principal, charge_point_id)
    if isinstance(station, JSONResponse):
        return station
    try:
        session = await sessions.start(
            principal,
            station_ref=charge_point_id,
            connector_ref=None,
            connector_number=connector_id,
            id_tag=charge_tag_id,
            origin="api",
        )
    except SessionRefused as exc:
        return JSONResponse({"status": exc.title, "detail": exc.detail}, status_code=exc.status)
    return JSONResponse({"status": session.start_status, "sessionId": session.id})


@router.get("/StopTransaction/{charge_point_id}/{connector_id}")
@router.get("/RemoteStopTransaction/{charge_point_id}/{connector_id}", include_in_schema=False)
async def stop_transaction(
    request: Request, charge_point_id: str, connector_id: ConnectorPath, principal: Operator
) -> JSONResponse:
    sessions = controller(request)
    station = await _online_station(sessions, principal, charge_point_id)
    if isinstance(station, JSONResponse):
        return station
    async with sessions.sessions() as db:
        tx = await db.scalar(
            select(Transaction)
            .where(
                Transaction.station_id == station.id,
                Transaction.connector_id == connector_id,
                Transaction.stop_received_at.is_(None),
            )
            .order_by(Transaction.id.desc())
            .limit(1)
        )
    if tx is None:
        return _answer("No open transaction", 424)
    return await _send(
        request, principal, charge_point_id, "RemoteStopTransaction", {"transactionId": tx.id}
    )
