"""Every query of smart charging: the history of changes, what is installed, open transactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.smart_charging.models import ChargingProfileChange, InstalledChargingProfile
from kilowatt.transactions.models import Transaction

TX_PROFILE = "TxProfile"


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """The transaction running on a connector, as far as Kilowatt knows."""

    id: int
    connector_id: int
    started_at: datetime  # the station's start timestamp
    received_at: datetime  # when its StartTransaction reached us


async def change_by_command(db: AsyncSession, command_id: str) -> ChargingProfileChange | None:
    found = await db.execute(
        select(ChargingProfileChange).where(ChargingProfileChange.command_id == command_id)
    )
    return found.scalars().first()


async def changes_page(
    db: AsyncSession, station_id: int, *, limit: int, offset: int
) -> tuple[Sequence[ChargingProfileChange], int]:
    """The station's changes, newest first."""
    where = ChargingProfileChange.station_id == station_id
    total = await db.scalar(select(func.count()).select_from(ChargingProfileChange).where(where))
    rows = await db.scalars(
        select(ChargingProfileChange)
        .where(where)
        .order_by(ChargingProfileChange.created_at.desc(), ChargingProfileChange.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total or 0


async def installed(db: AsyncSession, station_id: int) -> Sequence[InstalledChargingProfile]:
    """Every profile Kilowatt believes the station holds (TxProfiles of ended transactions too)."""
    rows = await db.scalars(
        select(InstalledChargingProfile)
        .where(InstalledChargingProfile.station_id == station_id)
        .order_by(
            InstalledChargingProfile.connector_id,
            InstalledChargingProfile.purpose,
            InstalledChargingProfile.stack_level,
            InstalledChargingProfile.charging_profile_id,
        )
    )
    return rows.all()


async def open_transactions(db: AsyncSession, station_id: int) -> dict[int, OpenTransaction]:
    """connector -> the latest transaction without a StopTransaction yet."""
    rows = await db.execute(
        select(
            Transaction.id,
            Transaction.connector_id,
            Transaction.start_timestamp,
            Transaction.start_received_at,
        )
        .where(Transaction.station_id == station_id, Transaction.stop_received_at.is_(None))
        .order_by(Transaction.start_received_at, Transaction.id)
    )
    return {row[1]: OpenTransaction(row[0], row[1], row[2], row[3]) for row in rows.all()}


async def change_created_at(db: AsyncSession, change_id: int) -> datetime | None:
    result: datetime | None = await db.scalar(
        select(ChargingProfileChange.created_at).where(ChargingProfileChange.id == change_id)
    )
    return result


async def in_force(
    db: AsyncSession, station_id: int
) -> tuple[list[InstalledChargingProfile], dict[int, OpenTransaction]]:
    """The installed profiles that apply now, and the open transactions they were judged by.

    A TxProfile applies only while its transaction runs: the one it names, or (set by
    RemoteStartTransaction, before the transaction had an id) the connector's transaction
    that started after the profile was sent. OCPP 1.6 §3.13.1: it ends with the transaction.
    """
    transactions = await open_transactions(db, station_id)
    result: list[InstalledChargingProfile] = []
    for row in await installed(db, station_id):
        if row.purpose != TX_PROFILE:
            result.append(row)
            continue
        running = transactions.get(row.connector_id)
        if running is None:
            continue
        if row.transaction_id is not None:
            if row.transaction_id == running.id:
                result.append(row)
            continue
        sent_at = await change_created_at(db, row.change_id)
        if sent_at is not None and running.received_at >= sent_at:
            result.append(row)
    return result, transactions


async def drop_ended_tx_profiles(db: AsyncSession, station_id: int) -> int:
    """Forget TxProfiles whose transaction has ended (housekeeping before each change).

    A TxProfile sent with RemoteStartTransaction is bound to its transaction here, once known.
    """
    current, transactions = await in_force(db, station_id)
    keep = {row.id for row in current}
    for row in current:
        if row.purpose == TX_PROFILE and row.transaction_id is None:
            row.transaction_id = transactions[row.connector_id].id
    stale = [
        row.id
        for row in await installed(db, station_id)
        if row.purpose == TX_PROFILE and row.id not in keep and row.transaction_id is not None
    ]
    if stale:
        await db.execute(
            delete(InstalledChargingProfile).where(InstalledChargingProfile.id.in_(stale))
        )
    return len(stale)


async def remove_installed(db: AsyncSession, rows: Sequence[InstalledChargingProfile]) -> None:
    for row in rows:
        await db.delete(row)
    await db.flush()
