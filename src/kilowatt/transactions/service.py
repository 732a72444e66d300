"""Transactions as the charger reports them: start, meter values, stop.

Everything is stored, nothing implausible is dropped: odd data is kept and flagged for review
(DESIGN.md decision 3).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing.service import DEFAULT_POLICY, BillingPolicy
from kilowatt.reservations import service as reservations
from kilowatt.sessions import service as charging_sessions
from kilowatt.tokens import service as tokens
from kilowatt.tokens.service import Authorization
from kilowatt.transactions.metering import Sample
from kilowatt.transactions.models import MeterValueRecord, Transaction, UnmatchedStop

METER_VALUES = cast(Table, MeterValueRecord.__table__)

log = logging.getLogger(__name__)

# A charger clock this far ahead of ours is implausible (offline replays are in the past).
CLOCK_SKEW_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class StartResult:
    transaction_id: int
    authorization: Authorization
    repeated: bool


def _flag(tx: Transaction, reason: str) -> None:
    log.warning("transaction %s flagged for review: %s", tx.id, reason)
    tx.review_reason = reason if not tx.review_reason else f"{tx.review_reason}; {reason}"


flag = _flag  # for the journal replay (kilowatt.journal.durability)


async def start(
    db: AsyncSession,
    *,
    station_id: int,
    tenant_id: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None,
    now: datetime,
    session_window: timedelta = timedelta(minutes=3),
    policy: BillingPolicy = DEFAULT_POLICY,
    transaction_id: int | None = None,
) -> StartResult:
    """Record a StartTransaction; a retry of the same one gets the same transactionId.

    A copy is recognised by station, connector, idTag, meterStart and timestamp, under any
    message id, over any connection, on any node: the insert skips a row a concurrent copy
    committed first (``uq_transactions_start``), and then answers with that row's id.
    A StopTransaction that came before this start (kept as an unmatched stop) is applied now.
    """
    key = {
        "station_id": station_id,
        "connector_id": connector_id,
        "id_tag": id_tag,
        "start_timestamp": timestamp,
        "meter_start": meter_start,
    }
    existing = await _find_start(db, key)
    if existing is None:
        authorization = await tokens.authorize(db, tenant_id, id_tag, now)
        new_id = await db.scalar(
            _insert_if_new(db, Transaction)
            .values(
                **key,
                # The id answered while the database was down (journal replay), else the next.
                **({} if transaction_id is None else {"id": transaction_id}),
                token_id=authorization.token_id,
                start_auth_status=authorization.status,
                reservation_id=reservation_id,
                start_received_at=now,
                last_meter_wh=meter_start,
                last_meter_at=timestamp,
            )
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(Transaction.id)
        )
        if new_id is None:  # a concurrent copy (another node, a replaced connection) won
            existing = await _find_start(db, key)
            assert existing is not None, "uq_transactions_start conflict without its row"
    if existing is not None:
        token = await tokens.find(db, tenant_id, id_tag)
        authorization = Authorization(
            existing.start_auth_status,
            token.expiry_date if token else None,
            token.parent_id_tag if token else None,
            existing.token_id,
        )
        return StartResult(existing.id, authorization, repeated=True)

    tx = await db.get(Transaction, new_id)
    assert tx is not None
    if meter_start < 0:
        _flag(tx, f"negative meterStart {meter_start}")
    if timestamp > now + CLOCK_SKEW_TOLERANCE:
        _flag(tx, f"start timestamp {timestamp.isoformat()} is in the future")
    await charging_sessions.on_transaction_started(
        db, tx, tenant_id=tenant_id, window=session_window, now=now, policy=policy
    )
    await reservations.on_transaction_started(
        db, tx, tenant_id=tenant_id, parent_id_tag=authorization.parent_id_tag, now=now
    )
    early_stop = await _unmatched_stop_of(db, tx)
    if early_stop is not None:
        await _apply_early_stop(db, tx, early_stop, now=now, policy=policy)
    return StartResult(tx.id, authorization, repeated=False)


def _insert_if_new(db: AsyncSession, table: type[Transaction]) -> Any:
    """An INSERT that can skip a conflicting row (``ON CONFLICT DO NOTHING``): both backends
    have it, and unlike a SAVEPOINT around a failing insert it works the same on SQLite."""
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def _find_start(db: AsyncSession, key: dict[str, Any]) -> Transaction | None:
    return await db.scalar(
        select(Transaction)
        .where(*(getattr(Transaction, column) == value for column, value in key.items()))
        .execution_options(populate_existing=True)
    )


async def _unmatched_stop_of(db: AsyncSession, tx: Transaction) -> UnmatchedStop | None:
    """The StopTransaction this late start owns, if it came first (kept as unmatched): the
    station's earliest not yet applied unknown-id stop at or after the start, with a register
    at or above meterStart and the same (or no) idTag, and no later start on the connector
    before it."""
    candidates = (
        await db.scalars(
            select(UnmatchedStop)
            .where(
                UnmatchedStop.station_id == tx.station_id,
                UnmatchedStop.timestamp >= tx.start_timestamp,
                UnmatchedStop.meter_stop >= tx.meter_start,
                UnmatchedStop.id_tag.is_(None) | (UnmatchedStop.id_tag == tx.id_tag),
            )
            .order_by(UnmatchedStop.timestamp, UnmatchedStop.id)
        )
    ).all()
    for candidate in candidates:
        applied = await db.scalar(
            select(Transaction.id).where(
                Transaction.station_id == candidate.station_id,
                Transaction.stop_received_at == candidate.received_at,
                Transaction.stop_timestamp == candidate.timestamp,
                Transaction.meter_stop == candidate.meter_stop,
            )
        )
        if applied is not None:
            continue
        later_start = await db.scalar(
            select(Transaction.id).where(
                Transaction.station_id == tx.station_id,
                Transaction.connector_id == tx.connector_id,
                Transaction.id != tx.id,
                Transaction.start_timestamp > tx.start_timestamp,
                Transaction.start_timestamp <= candidate.timestamp,
            )
        )
        if later_start is None:
            return candidate
    return None


async def _apply_early_stop(
    db: AsyncSession, tx: Transaction, early: UnmatchedStop, *, now: datetime, policy: BillingPolicy
) -> None:
    """Close ``tx`` with a stop that arrived before it; the unmatched stop row stays (the
    transaction's ``stop_received_at`` is the stop's, which marks it applied)."""
    log.warning(
        "transaction %s: applying StopTransaction received at %s before its start (sent as %s)",
        tx.id,
        early.received_at.isoformat(),
        early.transaction_id,
    )
    # Its transactionData, and the connector's values sent meanwhile for an unknown id.
    await db.execute(
        update(MeterValueRecord)
        .where(
            MeterValueRecord.station_id == tx.station_id,
            MeterValueRecord.transaction_id.is_(None),
            (
                (MeterValueRecord.source == "StopTransaction")
                & (MeterValueRecord.received_at == early.received_at)
            )
            | (
                (MeterValueRecord.source == "MeterValues")
                & (MeterValueRecord.connector_id == tx.connector_id)
                & (MeterValueRecord.timestamp >= tx.start_timestamp)
                & (MeterValueRecord.timestamp <= early.timestamp)
            ),
        )
        .values(transaction_id=tx.id)
        .execution_options(synchronize_session=False)
    )
    _record_stop(
        tx, early.meter_stop, early.timestamp, early.reason, early.id_tag, early.received_at
    )
    session = await charging_sessions.on_transaction_stopped(db, tx, now=now, policy=policy)
    if session is not None:
        charging_sessions.note(
            session,
            f"the charger's stop (sent as transaction {early.transaction_id}) came before its "
            "start; applied when the start arrived",
        )


def _record_stop(
    tx: Transaction,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    id_tag: str | None,
    received_at: datetime,
) -> None:
    tx.meter_stop = meter_stop
    tx.stop_timestamp = timestamp
    tx.stop_reason = reason
    tx.stop_id_tag = id_tag
    tx.stop_received_at = received_at
    tx.last_meter_wh = meter_stop
    tx.last_meter_at = timestamp
    if meter_stop < tx.meter_start:
        _flag(tx, f"meter went backwards: start {tx.meter_start} Wh, stop {meter_stop} Wh")
    if timestamp < tx.start_timestamp:
        _flag(tx, "stop timestamp before start timestamp")


async def stop(
    db: AsyncSession,
    *,
    station_id: int,
    tenant_id: int,
    transaction_id: int,
    id_tag: str | None,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    samples: Sequence[Sample],
    now: datetime,
    policy: BillingPolicy = DEFAULT_POLICY,
) -> Authorization | None:
    """Record a StopTransaction; always succeeds (unknown ids and repeats are kept, not refused)."""
    tx = await db.get(Transaction, transaction_id)
    if tx is None or tx.station_id != station_id:
        log.warning("station %s stopped unknown transaction %s", station_id, transaction_id)
        repeat = await db.scalar(
            select(UnmatchedStop.id).where(
                UnmatchedStop.station_id == station_id,
                UnmatchedStop.transaction_id == transaction_id,
                UnmatchedStop.meter_stop == meter_stop,
                UnmatchedStop.timestamp == timestamp,
            )
        )
        if repeat is None:  # a retry of a kept one is not kept twice
            db.add(
                UnmatchedStop(
                    station_id=station_id,
                    transaction_id=transaction_id,
                    id_tag=id_tag,
                    meter_stop=meter_stop,
                    timestamp=timestamp,
                    reason=reason,
                    received_at=now,
                )
            )
            await store_samples(db, station_id, 0, None, samples, "StopTransaction", now)
    elif tx.stop_received_at is not None:
        same = (tx.meter_stop, tx.stop_timestamp, tx.stop_reason) == (meter_stop, timestamp, reason)
        if not same:
            _flag(
                tx,
                f"a second, different StopTransaction (meterStop {meter_stop}, {timestamp.isoformat()})",
            )
    else:
        _record_stop(tx, meter_stop, timestamp, reason, id_tag, now)
        await store_samples(db, station_id, tx.connector_id, tx.id, samples, "StopTransaction", now)
        await charging_sessions.on_transaction_stopped(db, tx, now=now, policy=policy)
    if id_tag is None:
        return None
    return await tokens.authorize(db, tenant_id, id_tag, now, exclude_transaction_id=transaction_id)


async def meter_values(
    db: AsyncSession,
    *,
    station_id: int,
    connector_id: int,
    transaction_id: int | None,
    samples: Sequence[Sample],
    now: datetime,
) -> None:
    """Store sampled values; keep the transaction's latest energy register current."""
    tx: Transaction | None = None
    if transaction_id is not None:
        tx = await db.get(Transaction, transaction_id)
        if tx is None or tx.station_id != station_id:
            log.warning(
                "station %s sent meter values for unknown transaction %s",
                station_id,
                transaction_id,
            )
            tx = None
    await store_samples(
        db, station_id, connector_id, tx.id if tx else None, samples, "MeterValues", now
    )
    if tx is None:
        return
    for sample in samples:
        if not sample.is_energy_register or sample.value is None:
            continue
        if tx.last_meter_at is None or sample.timestamp >= tx.last_meter_at:
            wh = int(sample.value)
            if (
                tx.last_meter_wh is not None
                and wh < tx.last_meter_wh
                and tx.stop_received_at is None
            ):
                _flag(
                    tx,
                    f"energy register went backwards to {wh} Wh at {sample.timestamp.isoformat()}",
                )
            tx.last_meter_wh = wh
            tx.last_meter_at = sample.timestamp


async def store_samples(
    db: AsyncSession,
    station_id: int,
    connector_id: int,
    transaction_id: int | None,
    samples: Sequence[Sample],
    source: str,
    now: datetime,
) -> None:
    if not samples:
        return
    # One batched Core insert on the table (DESIGN.md decision 7): not an ORM object per row,
    # and not the ORM's bulk insert either, which leaves out each row's None values and so
    # splits one MeterValues into a statement per pattern of absent fields (3 for the bench's 8
    # samples).
    await db.execute(
        insert(METER_VALUES),
        [
            {
                "station_id": station_id,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "timestamp": s.timestamp,
                "source": source,
                "measurand": s.measurand,
                "phase": s.phase,
                "context": s.context,
                "location": s.location,
                "format": s.format,
                "raw_value": s.raw_value,
                "raw_unit": s.raw_unit,
                "value": s.value,
                "unit": s.unit,
                "received_at": now,
            }
            for s in samples
        ],
    )


async def get(db: AsyncSession, transaction_id: int) -> Transaction | None:
    return await db.get(Transaction, transaction_id)


async def list_transactions(
    db: AsyncSession, *, station_id: int | None = None, limit: int = 100
) -> Sequence[Transaction]:
    query = select(Transaction).order_by(Transaction.id.desc()).limit(limit)
    if station_id is not None:
        query = query.where(Transaction.station_id == station_id)
    return (await db.scalars(query)).all()


async def samples_of(db: AsyncSession, transaction_id: int) -> Sequence[MeterValueRecord]:
    return (
        await db.scalars(
            select(MeterValueRecord)
            .where(MeterValueRecord.transaction_id == transaction_id)
            .order_by(MeterValueRecord.timestamp, MeterValueRecord.id)
        )
    ).all()
