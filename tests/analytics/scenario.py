"""Rows for the analytics tests, written straight to the node's database: stations, sessions,
commands, transactions, StatusNotifications and message-log frames at chosen times.

Every helper commits (the node under test reads through its own sessions).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from api.api_kit import World
from kilowatt.commands.models import Command
from kilowatt.messagelog.models import OcppMessage
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import (
    ConnectionPeriod,
    Connector,
    Station,
    StatusNotificationRecord,
)
from kilowatt.tenants.models import Site
from kilowatt.tokens.models import AuthorizeAnswer
from kilowatt.transactions.models import Transaction

_serial = itertools.count(1)


def day_start(days_ago: int = 10) -> datetime:
    """Midnight UTC ``days_ago`` days back: a whole day in the past to count."""
    now = datetime.now(UTC)
    return (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def add(world: World, *rows: Any) -> list[Any]:
    async with world.server.node.sessions() as db:
        db.add_all(rows)
        await db.commit()
        for row in rows:
            await db.refresh(row)
    return list(rows)


async def site(world: World, tenant: int, name: str) -> int:
    (row,) = await add(world, Site(tenant_id=tenant, name=name))
    return int(row.id)


async def station(
    world: World,
    tenant: int,
    charge_point_id: str,
    *,
    connectors: int = 2,
    created_at: datetime,
    site_id: int | None = None,
    online: bool = True,
    connected_at: datetime | None = None,
    disconnected_at: datetime | None = None,
) -> Station:
    """A station registered at ``created_at`` (connected since then unless told otherwise), with
    its latest connection in the history as the gateway would have recorded it."""
    if connected_at is None and online:
        connected_at = created_at
    row = Station(
        charge_point_id=charge_point_id,
        tenant_id=tenant,
        site_id=site_id,
        created_at=created_at,
        online=online,
        connected_at=connected_at,
        disconnected_at=disconnected_at,
    )
    await add(world, row)
    if connected_at is not None:
        closed = None if online else disconnected_at or connected_at
        await add(world, connection(row, connected_at, closed))
    await add(
        world,
        *(Connector(station_id=row.id, connector_id=n) for n in range(0, connectors + 1)),
    )
    return row


def connection(st: Station, connected_at: datetime, until: datetime | None) -> ConnectionPeriod:
    """One connection of the station's history; ``until`` None: still open."""
    return ConnectionPeriod(station_id=st.id, connected_at=connected_at, disconnected_at=until)


def session(
    st: Station,
    *,
    requested_at: datetime,
    state: str,
    start_status: str | None = "Accepted",
    connector_id: int = 1,
    duration: timedelta | None = None,
    energy_wh: int | None = None,
    transaction_id: int | None = None,
) -> ChargingSession:
    started = requested_at + timedelta(minutes=1) if duration is not None else None
    return ChargingSession(
        tenant_id=st.tenant_id,
        id_tag=f"TAG{next(_serial)}",
        station_id=st.id,
        connector_id=connector_id,
        origin="app",
        state=state,
        start_status=start_status,
        requested_at=requested_at,
        started_at=started,
        ended_at=None if started is None or duration is None else started + duration,
        energy_wh=energy_wh,
        transaction_id=transaction_id,
    )


def command(st: Station, action: str, state: str, outcome: str | None, *, at: datetime) -> Command:
    return Command(
        id=str(uuid.uuid4()),
        station_id=st.id,
        action=action,
        request={},
        state=state,
        outcome=outcome,
        created_at=at,
    )


def transaction(
    st: Station, *, at: datetime, auth: str = "Accepted", connector_id: int = 1
) -> Transaction:
    return Transaction(
        station_id=st.id,
        connector_id=connector_id,
        id_tag=f"TX{next(_serial)}",
        start_auth_status=auth,
        meter_start=0,
        start_timestamp=at,
        start_received_at=at,
    )


def authorize(st: Station, answer: str, *, at: datetime) -> AuthorizeAnswer:
    """An Authorize request of the station and the status we answered."""
    return AuthorizeAnswer(station_id=st.id, id_tag=f"AU{next(_serial)}", status=answer, at=at)


def status(
    st: Station,
    connector_id: int,
    value: str,
    *,
    at: datetime,
    error_code: str = "NoError",
    timestamp: datetime | None = None,
) -> StatusNotificationRecord:
    return StatusNotificationRecord(
        station_id=st.id,
        connector_id=connector_id,
        status=value,
        error_code=error_code,
        timestamp=timestamp,
        received_at=at,
    )


def frame(
    charge_point_id: str,
    direction: str,
    text: str,
    *,
    at: datetime,
    action: str | None = None,
    error_code: str | None = None,
) -> OcppMessage:
    """A logged frame; its type and message id are read from ``text``."""
    message_type = int(text[1])
    message_id = text.split('"')[1]
    return OcppMessage(
        charge_point_id=charge_point_id,
        direction=direction,
        message_type=message_type,
        action=action,
        message_id=message_id,
        frame=text,
        error_code=error_code,
        created_at=at,
    )
