"""Every query of the stations domain, and the tenant-scoped views of a station's commands and
transactions (a row of those is visible exactly when its station is)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar, TypeVarTuple

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.commands.models import Command
from kilowatt.stations.models import ConfigurationKey, ConnectionPeriod, Connector, Station
from kilowatt.transactions.models import Transaction

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def by_charge_point_id(db: AsyncSession, charge_point_id: str) -> Station | None:
    return await db.scalar(select(Station).where(Station.charge_point_id == charge_point_id))


async def by_id(db: AsyncSession, station_id: int) -> Station | None:
    return await db.get(Station, station_id)


async def list_stations(db: AsyncSession, *, tenant_id: int | None = None) -> Sequence[Station]:
    query = select(Station).order_by(Station.charge_point_id)
    if tenant_id is not None:
        query = query.where(Station.tenant_id == tenant_id)
    return (await db.scalars(query)).all()


# ---- scoped to a tenant: ``tenant_id`` None means every tenant (a platform admin) ----------------
async def _page(
    db: AsyncSession, query: Select[T], *, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    """One page of ``query`` (which must be ordered) and the count of all its rows."""
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await db.scalars(query.limit(limit).offset(offset))).all()
    return rows, total or 0


def _in_tenant(query: Select[*Ts], tenant_id: int | None) -> Select[*Ts]:
    return query if tenant_id is None else query.where(Station.tenant_id == tenant_id)


async def visible_station(
    db: AsyncSession, charge_point_id: str, tenant_id: int | None
) -> Station | None:
    """The station if it exists in ``tenant_id``; None for another tenant's, as for no station."""
    return await db.scalar(
        _in_tenant(select(Station).where(Station.charge_point_id == charge_point_id), tenant_id)
    )


async def stations_page(
    db: AsyncSession,
    tenant_id: int | None,
    *,
    site_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Station], int]:
    query = _in_tenant(select(Station), tenant_id).order_by(Station.charge_point_id)
    if site_id is not None:
        query = query.where(Station.site_id == site_id)
    return await _page(db, query, limit=limit, offset=offset)


async def connectors_page(
    db: AsyncSession, station_id: int, *, limit: int, offset: int
) -> tuple[Sequence[Connector], int]:
    query = (
        select(Connector).where(Connector.station_id == station_id).order_by(Connector.connector_id)
    )
    return await _page(db, query, limit=limit, offset=offset)


async def commands_page(
    db: AsyncSession, station_id: int, *, limit: int, offset: int
) -> tuple[Sequence[Command], int]:
    """The station's command log, newest first."""
    query = (
        select(Command)
        .where(Command.station_id == station_id)
        .order_by(Command.created_at.desc(), Command.id)
    )
    return await _page(db, query, limit=limit, offset=offset)


async def visible_command(db: AsyncSession, command_id: str, tenant_id: int | None) -> bool:
    """Whether the command exists and its station is in ``tenant_id``."""
    query = select(Command.id).join(Station, Station.id == Command.station_id)
    found = await db.scalar(_in_tenant(query.where(Command.id == command_id), tenant_id))
    return found is not None


async def transactions_page(
    db: AsyncSession,
    tenant_id: int | None,
    *,
    station_id: int | None = None,
    running: bool | None = None,
    started_from: datetime | None = None,
    started_before: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[Transaction, str]], int]:
    """Transactions of the tenant's stations, newest first, each with its charge point id.

    ``running``: True for those without a StopTransaction yet, False for the stopped ones.
    """
    query = _in_tenant(
        select(Transaction, Station.charge_point_id).join(
            Station, Station.id == Transaction.station_id
        ),
        tenant_id,
    ).order_by(Transaction.id.desc())
    if station_id is not None:
        query = query.where(Transaction.station_id == station_id)
    if running is not None:
        stop = Transaction.stop_received_at
        query = query.where(stop.is_(None) if running else stop.is_not(None))
    if started_from is not None:
        query = query.where(Transaction.start_timestamp >= started_from)
    if started_before is not None:
        query = query.where(Transaction.start_timestamp < started_before)
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await db.execute(query.limit(limit).offset(offset))).all()
    return [(tx, charge_point_id) for tx, charge_point_id in rows], total or 0


async def visible_transaction(
    db: AsyncSession, transaction_id: int, tenant_id: int | None
) -> tuple[Transaction, str] | None:
    """The transaction and its charge point id, if its station is in ``tenant_id``."""
    query = select(Transaction, Station.charge_point_id).join(
        Station, Station.id == Transaction.station_id
    )
    result = await db.execute(_in_tenant(query.where(Transaction.id == transaction_id), tenant_id))
    row = result.first()
    return None if row is None else (row[0], row[1])


async def connector(db: AsyncSession, station_id: int, connector_id: int) -> Connector | None:
    return await db.scalar(
        select(Connector).where(
            Connector.station_id == station_id, Connector.connector_id == connector_id
        )
    )


async def set_max_power(db: AsyncSession, connector: Connector, max_power_w: int | None) -> None:
    """The most the connector can deliver (W); None: no limit of its own."""
    connector.max_power_w = max_power_w
    await db.flush()


async def connectors(db: AsyncSession, station_id: int) -> Sequence[Connector]:
    return (
        await db.scalars(
            select(Connector)
            .where(Connector.station_id == station_id)
            .order_by(Connector.connector_id)
        )
    ).all()


async def configuration(db: AsyncSession, station_id: int) -> Sequence[ConfigurationKey]:
    return (
        await db.scalars(
            select(ConfigurationKey)
            .where(ConfigurationKey.station_id == station_id)
            .order_by(ConfigurationKey.key)
        )
    ).all()


async def configuration_key(db: AsyncSession, station_id: int, key: str) -> ConfigurationKey | None:
    return await db.scalar(
        select(ConfigurationKey).where(
            ConfigurationKey.station_id == station_id, ConfigurationKey.key == key
        )
    )


async def set_connected(db: AsyncSession, station_id: int, connected_at: datetime) -> None:
    """Mark online, and open the connection's row in the station's history."""
    await db.execute(
        update(Station)
        .where(Station.id == station_id)
        .values(online=True, connected_at=connected_at)
    )
    db.add(ConnectionPeriod(station_id=station_id, connected_at=connected_at))
    await db.flush()


async def set_disconnected(
    db: AsyncSession, station_id: int, connected_at: datetime, at: datetime
) -> None:
    """Mark offline, unless a newer connection of the same station has been recorded since; close
    the history row of the connection that began at ``connected_at`` either way."""
    await db.execute(
        update(Station)
        .where(
            Station.id == station_id,
            (Station.connected_at.is_(None)) | (Station.connected_at <= connected_at),
        )
        .values(online=False, disconnected_at=at)
    )
    await db.execute(
        update(ConnectionPeriod)
        .where(
            ConnectionPeriod.station_id == station_id,
            ConnectionPeriod.connected_at == connected_at,
            ConnectionPeriod.disconnected_at.is_(None),
        )
        .values(disconnected_at=at)
    )


async def mark_all_offline(db: AsyncSession, at: datetime) -> None:
    """At start-up and shutdown no station is connected to this node.

    A node that crashed left its connections open; they end here, at the next start. That counts
    the station online from the crash to the restart, when nobody served it: the outage is
    under-counted by at most that gap (a real outage), and by nothing else.
    """
    await db.execute(
        update(Station).where(Station.online.is_(True)).values(online=False, disconnected_at=at)
    )
    await db.execute(
        update(ConnectionPeriod)
        .where(ConnectionPeriod.disconnected_at.is_(None))
        .values(disconnected_at=at)
    )


async def touch_heartbeat(db: AsyncSession, station_id: int, at: datetime) -> None:
    await db.execute(update(Station).where(Station.id == station_id).values(last_heartbeat_at=at))
