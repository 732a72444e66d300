"""Operator API for transactions and their meter values (``transactions:read``).

A transaction is visible when its station is: scoped to the caller's tenant through the station.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from kilowatt.api.auth import GUARDED, NOT_FOUND, IdPath, TransactionsRead
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.stations import repository as stations
from kilowatt.stations.api import visible_station
from kilowatt.transactions import service
from kilowatt.transactions.models import MeterValueRecord, Transaction

router = APIRouter(prefix="/api/v1/transactions", tags=["transactions"], responses=GUARDED)


class TransactionOut(BaseModel):
    transaction_id: IdPath
    charge_point_id: str
    connector_id: int
    id_tag: str
    start_auth_status: str = Field(description="the idTagInfo status StartTransaction got")
    meter_start_wh: int
    start_timestamp: datetime
    meter_stop_wh: int | None
    stop_timestamp: datetime | None
    stop_reason: str | None
    energy_wh: int | None = Field(description="to the stop reading, else the latest one")
    last_meter_wh: int | None
    last_meter_at: datetime | None
    state: Literal["running", "stopped"]
    review_reason: str | None = Field(description="why an operator should look at it, if odd")


class MeterValueOut(BaseModel):
    timestamp: datetime
    measurand: str
    phase: str | None
    context: str | None
    location: str | None
    value: str | None = Field(description="normalised: Wh, W, A, V, %, Celsius (a decimal)")
    unit: str | None
    raw_value: str
    raw_unit: str | None
    source: str = Field(description="MeterValues, StartTransaction or StopTransaction")


class TransactionDetail(TransactionOut):
    meter_values: list[MeterValueOut]


def _out(tx: Transaction, charge_point_id: str) -> TransactionOut:
    return TransactionOut(
        transaction_id=tx.id,
        charge_point_id=charge_point_id,
        connector_id=tx.connector_id,
        id_tag=tx.id_tag,
        start_auth_status=tx.start_auth_status,
        meter_start_wh=tx.meter_start,
        start_timestamp=tx.start_timestamp,
        meter_stop_wh=tx.meter_stop,
        stop_timestamp=tx.stop_timestamp,
        stop_reason=tx.stop_reason,
        energy_wh=tx.energy_wh,
        last_meter_wh=tx.last_meter_wh,
        last_meter_at=tx.last_meter_at,
        state="stopped" if tx.stop_received_at else "running",
        review_reason=tx.review_reason,
    )


def _sample(s: MeterValueRecord) -> MeterValueOut:
    return MeterValueOut(
        timestamp=s.timestamp,
        measurand=s.measurand,
        phase=s.phase,
        context=s.context,
        location=s.location,
        value=str(s.value) if s.value is not None else None,
        unit=s.unit,
        raw_value=s.raw_value,
        raw_unit=s.raw_unit,
        source=s.source,
    )


@router.get("", responses=NOT_FOUND)
async def list_transactions(
    request: Request,
    principal: TransactionsRead,
    page: PageParams,
    station: str | None = Query(None, description="only this station's (its charge point id)"),
    state: Literal["running", "stopped"] | None = Query(None),
    started_from: AwareDatetime | None = Query(
        None, alias="from", description="started at or after this time"
    ),
    started_before: AwareDatetime | None = Query(
        None, alias="to", description="started before this time"
    ),
) -> Page[TransactionOut]:
    """The transactions of the caller's stations, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        station_id = None
        if station is not None:
            station_id = (await visible_station(db, principal, station)).id
        rows, total = await stations.transactions_page(
            db,
            principal.tenant_id,
            station_id=station_id,
            running=None if state is None else state == "running",
            started_from=started_from,
            started_before=started_before,
            limit=page.limit,
            offset=page.offset,
        )
    items = [_out(tx, cp) for tx, cp in rows]
    return Page[TransactionOut].of(items, total, page)


@router.get("/{transaction_id}", responses=NOT_FOUND)
async def get_transaction(
    request: Request, principal: TransactionsRead, transaction_id: IdPath
) -> TransactionDetail:
    """The transaction with every meter value sampled during it."""
    async with request.app.state.kilowatt.sessions() as db:
        found = await stations.visible_transaction(db, transaction_id, principal.tenant_id)
        if found is None:
            raise Problem(404, "Transaction not found", str(transaction_id))
        tx, charge_point_id = found
        samples = await service.samples_of(db, tx.id)
        return TransactionDetail(
            **_out(tx, charge_point_id).model_dump(),
            meter_values=[_sample(s) for s in samples],
        )
