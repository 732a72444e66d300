"""Operator API for stations: register, inspect, configure credentials, read the message log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from kilowatt.api.auth import require_admin
from kilowatt.api.problems import Problem
from kilowatt.messagelog import repository as message_log
from kilowatt.stations import repository, service
from kilowatt.stations.models import Station
from kilowatt.stations.schemas import ConnectorOut, StationCreate, StationOut, StationUpdate

router = APIRouter(
    prefix="/api/v1/stations", tags=["stations"], dependencies=[Depends(require_admin)]
)


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


async def _station(db: Any, charge_point_id: str) -> Station:
    station = await repository.by_charge_point_id(db, charge_point_id)
    if station is None:
        raise Problem(404, "Station not found", f"no station {charge_point_id!r}")
    return station


@router.get("")
async def list_stations(request: Request) -> list[StationOut]:
    async with request.app.state.kilowatt.sessions() as db:
        return [_out(request, s) for s in await repository.list_stations(db)]


@router.post("", status_code=201)
async def create_station(request: Request, body: StationCreate) -> StationOut:
    async with request.app.state.kilowatt.sessions() as db:
        if await repository.by_charge_point_id(db, body.charge_point_id) is not None:
            raise Problem(409, "Station exists", f"{body.charge_point_id!r} is already registered")
        station = await service.register(
            db,
            body.charge_point_id,
            registration_status=body.registration_status,
            password=body.password,
            allow_missing_subprotocol=body.allow_missing_subprotocol,
            connectors=body.connectors,
        )
        await db.commit()
        return _out(request, station)


@router.get("/{charge_point_id}")
async def get_station(request: Request, charge_point_id: str) -> StationOut:
    async with request.app.state.kilowatt.sessions() as db:
        station = await _station(db, charge_point_id)
        connectors = [
            ConnectorOut.model_validate(c) for c in await repository.connectors(db, station.id)
        ]
        configuration = {c.key: c.value for c in await repository.configuration(db, station.id)}
        return _out(request, station, connectors=connectors, configuration=configuration)


@router.patch("/{charge_point_id}")
async def update_station(request: Request, charge_point_id: str, body: StationUpdate) -> StationOut:
    async with request.app.state.kilowatt.sessions() as db:
        station = await _station(db, charge_point_id)
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


@router.get("/{charge_point_id}/messages")
async def station_messages(
    request: Request, charge_point_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The OCPP message log of a station, newest first."""
    await request.app.state.kilowatt.message_log.flush()
    async with request.app.state.kilowatt.sessions() as db:
        await _station(db, charge_point_id)
        rows = await message_log.recent(db, charge_point_id, limit=min(limit, 1000))
        return [
            {
                "direction": r.direction,
                "message_type": r.message_type,
                "action": r.action,
                "message_id": r.message_id,
                "frame": r.frame,
                "error_code": r.error_code,
                "latency_ms": r.latency_ms,
                "at": r.created_at,
            }
            for r in rows
        ]
