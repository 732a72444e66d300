"""Every query of the stations domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.stations.models import ConfigurationKey, Connector, Station


async def by_charge_point_id(db: AsyncSession, charge_point_id: str) -> Station | None:
    return await db.scalar(select(Station).where(Station.charge_point_id == charge_point_id))


async def by_id(db: AsyncSession, station_id: int) -> Station | None:
    return await db.get(Station, station_id)


async def list_stations(db: AsyncSession, *, tenant_id: int | None = None) -> Sequence[Station]:
    query = select(Station).order_by(Station.charge_point_id)
    if tenant_id is not None:
        query = query.where(Station.tenant_id == tenant_id)
    return (await db.scalars(query)).all()


async def connector(db: AsyncSession, station_id: int, connector_id: int) -> Connector | None:
    return await db.scalar(
        select(Connector).where(
            Connector.station_id == station_id, Connector.connector_id == connector_id
        )
    )


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
    await db.execute(
        update(Station)
        .where(Station.id == station_id)
        .values(online=True, connected_at=connected_at)
    )


async def set_disconnected(
    db: AsyncSession, station_id: int, connected_at: datetime, at: datetime
) -> None:
    """Mark offline, unless a newer connection of the same station has been recorded since."""
    await db.execute(
        update(Station)
        .where(
            Station.id == station_id,
            (Station.connected_at.is_(None)) | (Station.connected_at <= connected_at),
        )
        .values(online=False, disconnected_at=at)
    )


async def mark_all_offline(db: AsyncSession, at: datetime) -> None:
    """At start-up and shutdown no station is connected to this node."""
    await db.execute(
        update(Station).where(Station.online.is_(True)).values(online=False, disconnected_at=at)
    )


async def touch_heartbeat(db: AsyncSession, station_id: int, at: datetime) -> None:
    await db.execute(update(Station).where(Station.id == station_id).values(last_heartbeat_at=at))
