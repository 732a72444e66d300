"""Operator API for transactions and their meter values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from kilowatt.api.auth import require_admin
from kilowatt.api.problems import Problem
from kilowatt.stations import repository as stations
from kilowatt.transactions import service
from kilowatt.transactions.models import Transaction

router = APIRouter(
    prefix="/api/v1/transactions", tags=["transactions"], dependencies=[Depends(require_admin)]
)


def _tx(tx: Transaction, charge_point_id: str) -> dict[str, Any]:
    return {
        "transaction_id": tx.id,
        "charge_point_id": charge_point_id,
        "connector_id": tx.connector_id,
        "id_tag": tx.id_tag,
        "start_auth_status": tx.start_auth_status,
        "meter_start_wh": tx.meter_start,
        "start_timestamp": tx.start_timestamp,
        "meter_stop_wh": tx.meter_stop,
        "stop_timestamp": tx.stop_timestamp,
        "stop_reason": tx.stop_reason,
        "energy_wh": tx.energy_wh,
        "last_meter_wh": tx.last_meter_wh,
        "last_meter_at": tx.last_meter_at,
        "state": "stopped" if tx.stop_received_at else "running",
        "review_reason": tx.review_reason,
    }


@router.get("")
async def list_transactions(
    request: Request, charge_point_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    async with request.app.state.kilowatt.sessions() as db:
        station_id = None
        if charge_point_id is not None:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                raise Problem(404, "Station not found", charge_point_id)
            station_id = station.id
        rows = await service.list_transactions(db, station_id=station_id, limit=min(limit, 1000))
        names = {s.id: s.charge_point_id for s in await stations.list_stations(db)}
        return [_tx(tx, names.get(tx.station_id, "")) for tx in rows]


@router.get("/{transaction_id}")
async def get_transaction(request: Request, transaction_id: int) -> dict[str, Any]:
    async with request.app.state.kilowatt.sessions() as db:
        tx = await service.get(db, transaction_id)
        if tx is None:
            raise Problem(404, "Transaction not found", str(transaction_id))
        station = await stations.by_id(db, tx.station_id)
        assert station is not None
        samples = await service.samples_of(db, tx.id)
        return {
            **_tx(tx, station.charge_point_id),
            "meter_values": [
                {
                    "timestamp": s.timestamp,
                    "measurand": s.measurand,
                    "phase": s.phase,
                    "context": s.context,
                    "location": s.location,
                    "value": str(s.value) if s.value is not None else None,
                    "unit": s.unit,
                    "raw_value": s.raw_value,
                    "raw_unit": s.raw_unit,
                    "source": s.source,
                }
                for s in samples
            ],
        }
