"""The stations' connection history: one row per WebSocket connection, written by the gateway's
connect and disconnect and closed by a node's start and shutdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.stations import repository
from kilowatt.stations.models import ConnectionPeriod, Station

from factories import make_station

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


async def _history(db: AsyncSession, station: Station) -> list[tuple[datetime, datetime | None]]:
    rows = await db.execute(
        select(ConnectionPeriod.connected_at, ConnectionPeriod.disconnected_at)
        .where(ConnectionPeriod.station_id == station.id)
        .order_by(ConnectionPeriod.connected_at)
    )
    return [(r[0], r[1]) for r in rows.all()]


async def test_connect_disconnect_and_reconnect_are_each_recorded(db_session: AsyncSession) -> None:
    station = await make_station(db_session)
    await repository.set_connected(db_session, station.id, T0)
    await repository.set_disconnected(db_session, station.id, T0, minutes(10))
    await repository.set_connected(db_session, station.id, minutes(130))

    assert await _history(db_session, station) == [(T0, minutes(10)), (minutes(130), None)]
    await db_session.refresh(station)
    assert (station.online, station.connected_at, station.disconnected_at) == (
        True,
        minutes(130),
        minutes(10),
    )


async def test_a_replaced_connection_ends_its_own_row_not_the_newer_one(
    db_session: AsyncSession,
) -> None:
    station = await make_station(db_session)
    # the station reconnected before the node noticed the first connection was gone
    await repository.set_connected(db_session, station.id, T0)
    await repository.set_connected(db_session, station.id, minutes(5))
    await repository.set_disconnected(db_session, station.id, T0, minutes(6))

    assert await _history(db_session, station) == [(T0, minutes(6)), (minutes(5), None)]
    await db_session.refresh(station)
    assert station.online  # the station row keeps the newer connection, as before


async def test_a_node_start_closes_the_connections_a_crash_left_open(
    db_session: AsyncSession,
) -> None:
    first = await make_station(db_session)
    second = await make_station(db_session)
    await repository.set_connected(db_session, first.id, T0)
    await repository.set_disconnected(db_session, first.id, T0, minutes(1))
    await repository.set_connected(db_session, first.id, minutes(2))
    await repository.set_connected(db_session, second.id, minutes(3))

    await repository.mark_all_offline(db_session, minutes(60))

    assert await _history(db_session, first) == [(T0, minutes(1)), (minutes(2), minutes(60))]
    assert await _history(db_session, second) == [(minutes(3), minutes(60))]
