"""Every query of the analytics domain: aggregates over commands, sessions, transactions and
status notifications of the stations in a scope, the status history behind uptime, and the
operator's outage exclusions.

A ``Scope`` is a tenant (None: every tenant), optionally narrowed to a site or a station; rows
are scoped through their station. Times are half-open periods [start, end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, delete, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.analytics.models import OutageExclusion
from kilowatt.commands.models import Command
from kilowatt.db import UTCDateTime
from kilowatt.messagelog.models import OcppMessage
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import (
    ConnectionPeriod,
    Connector,
    Station,
    StatusNotificationRecord,
)
from kilowatt.tokens.models import AuthorizeAnswer
from kilowatt.transactions.models import Transaction

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class Scope:
    tenant_id: int | None  # None: every tenant (a platform admin)
    site_id: int | None = None
    station_id: int | None = None


def _scoped(query: Select[*Ts], scope: Scope) -> Select[*Ts]:
    """``query`` (which joins ``Station``) limited to the stations of ``scope``."""
    if scope.tenant_id is not None:
        query = query.where(Station.tenant_id == scope.tenant_id)
    if scope.site_id is not None:
        query = query.where(Station.site_id == scope.site_id)
    if scope.station_id is not None:
        query = query.where(Station.id == scope.station_id)
    return query


def seconds_between(db: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, as SQL (SQLite stores UTC times as text; PostgreSQL has
    intervals)."""
    if db.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)


# ---- the summary --------------------------------------------------------------------------------
async def command_counts(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[str, str, str | None, int]]:
    """(action, state, outcome, count) of the commands created in the period."""
    query = _scoped(
        select(Command.action, Command.state, Command.outcome, func.count())
        .join(Station, Station.id == Command.station_id)
        .where(Command.created_at >= start, Command.created_at < end)
        .group_by(Command.action, Command.state, Command.outcome),
        scope,
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in (await db.execute(query)).all()]


async def session_counts(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[str, str | None, int]]:
    """(state, start status, count) of the sessions requested in the period."""
    query = _scoped(
        select(ChargingSession.state, ChargingSession.start_status, func.count())
        .join(Station, Station.id == ChargingSession.station_id)
        .where(ChargingSession.requested_at >= start, ChargingSession.requested_at < end)
        .group_by(ChargingSession.state, ChargingSession.start_status),
        scope,
    )
    return [(r[0], r[1], int(r[2])) for r in (await db.execute(query)).all()]


@dataclass(frozen=True, slots=True)
class CompletedFigures:
    with_duration: int
    average_seconds: float | None
    with_energy: int
    average_energy_wh: float | None
    energy_wh: int


async def completed_figures(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> CompletedFigures:
    """Duration (started → ended) and energy of the completed sessions requested in the period."""
    duration = seconds_between(db, ChargingSession.started_at, ChargingSession.ended_at)
    query = _scoped(
        select(
            func.count(duration),
            func.avg(duration),
            func.count(ChargingSession.energy_wh),
            func.avg(ChargingSession.energy_wh),
            func.coalesce(func.sum(ChargingSession.energy_wh), 0),
        )
        .join(Station, Station.id == ChargingSession.station_id)
        .where(
            ChargingSession.state == "completed",
            ChargingSession.requested_at >= start,
            ChargingSession.requested_at < end,
        ),
        scope,
    )
    row = (await db.execute(query)).one()
    return CompletedFigures(
        with_duration=int(row[0]),
        average_seconds=None if row[1] is None else float(row[1]),
        with_energy=int(row[2]),
        average_energy_wh=None if row[3] is None else float(row[3]),
        energy_wh=int(row[4]),
    )


async def start_authorizations(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[str, int]]:
    """(idTagInfo status we answered, count) of the StartTransactions begun in the period."""
    query = _scoped(
        select(Transaction.start_auth_status, func.count())
        .join(Station, Station.id == Transaction.station_id)
        .where(Transaction.start_timestamp >= start, Transaction.start_timestamp < end)
        .group_by(Transaction.start_auth_status),
        scope,
    )
    return [(r[0], int(r[1])) for r in (await db.execute(query)).all()]


async def authorize_answers(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[str, int]]:
    """(idTagInfo status we answered, count) of the Authorize requests of the period."""
    query = _scoped(
        select(AuthorizeAnswer.status, func.count())
        .join(Station, Station.id == AuthorizeAnswer.station_id)
        .where(AuthorizeAnswer.at >= start, AuthorizeAnswer.at < end)
        .group_by(AuthorizeAnswer.status),
        scope,
    )
    return [(r[0], int(r[1])) for r in (await db.execute(query)).all()]


async def sessions_not_authorized(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> int:
    """Sessions requested in the period that failed because the charger's start was not
    authorized (its transaction was answered other than Accepted)."""
    query = _scoped(
        select(func.count())
        .select_from(ChargingSession)
        .join(Station, Station.id == ChargingSession.station_id)
        .join(Transaction, Transaction.id == ChargingSession.transaction_id)
        .where(
            ChargingSession.state == "failed",
            Transaction.start_auth_status != "Accepted",
            ChargingSession.requested_at >= start,
            ChargingSession.requested_at < end,
        ),
        scope,
    )
    return int(await db.scalar(query) or 0)


async def status_counts(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime, status: str
) -> int:
    """StatusNotifications with ``status`` received in the period."""
    query = _scoped(
        select(func.count())
        .select_from(StatusNotificationRecord)
        .join(Station, Station.id == StatusNotificationRecord.station_id)
        .where(
            StatusNotificationRecord.status == status,
            StatusNotificationRecord.received_at >= start,
            StatusNotificationRecord.received_at < end,
        ),
        scope,
    )
    return int(await db.scalar(query) or 0)


async def session_events(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[datetime, str, int | None]]:
    """(requested at, state, energy Wh) of every session requested in the period."""
    query = _scoped(
        select(ChargingSession.requested_at, ChargingSession.state, ChargingSession.energy_wh)
        .join(Station, Station.id == ChargingSession.station_id)
        .where(ChargingSession.requested_at >= start, ChargingSession.requested_at < end),
        scope,
    )
    return [(r[0], r[1], r[2]) for r in (await db.execute(query)).all()]


async def command_events(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> Sequence[tuple[datetime, str, str, str | None]]:
    """(created at, action, state, outcome) of every command created in the period."""
    query = _scoped(
        select(Command.created_at, Command.action, Command.state, Command.outcome)
        .join(Station, Station.id == Command.station_id)
        .where(Command.created_at >= start, Command.created_at < end),
        scope,
    )
    return [(r[0], r[1], r[2], r[3]) for r in (await db.execute(query)).all()]


# ---- uptime -------------------------------------------------------------------------------------
async def connectors_page(
    db: AsyncSession, scope: Scope, *, limit: int, offset: int
) -> tuple[Sequence[tuple[Connector, Station]], int]:
    """The scope's connectors (1 and up: 0 is the station as a whole) with their station."""
    query = _scoped(
        select(Connector, Station)
        .join(Station, Station.id == Connector.station_id)
        .where(Connector.connector_id >= 1),
        scope,
    )
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    ordered = query.order_by(Station.charge_point_id, Connector.connector_id)
    rows = (await db.execute(ordered.limit(limit).offset(offset))).all()
    return [(r[0], r[1]) for r in rows], int(total or 0)


async def status_history(
    db: AsyncSession, station_ids: Sequence[int], start: datetime, end: datetime
) -> Sequence[StatusNotificationRecord]:
    """The stations' StatusNotifications received in the period, each connector's last one
    before it (its status when the period began), in the order received."""
    if not station_ids:
        return []
    before = (
        select(func.max(StatusNotificationRecord.id))
        .where(
            StatusNotificationRecord.station_id.in_(station_ids),
            StatusNotificationRecord.received_at < start,
        )
        .group_by(StatusNotificationRecord.station_id, StatusNotificationRecord.connector_id)
    )
    query = (
        select(StatusNotificationRecord)
        .where(
            StatusNotificationRecord.station_id.in_(station_ids),
            or_(
                StatusNotificationRecord.id.in_(before.scalar_subquery()),
                (StatusNotificationRecord.received_at >= start)
                & (StatusNotificationRecord.received_at < end),
            ),
        )
        .order_by(StatusNotificationRecord.id)
    )
    return (await db.scalars(query)).all()


async def connections(
    db: AsyncSession, station_id: int, start: datetime, end: datetime
) -> tuple[datetime | None, Sequence[tuple[datetime, datetime | None]]]:
    """When the station's connection history begins (its first connection; None: it never
    connected), and its connections overlapping [start, end): (connected_at, disconnected_at,
    None while open)."""
    mine = ConnectionPeriod.station_id == station_id
    first = await db.scalar(select(func.min(ConnectionPeriod.connected_at)).where(mine))
    rows = await db.execute(
        select(ConnectionPeriod.connected_at, ConnectionPeriod.disconnected_at)
        .where(
            mine,
            ConnectionPeriod.connected_at < end,
            ConnectionPeriod.disconnected_at.is_(None) | (ConnectionPeriod.disconnected_at > start),
        )
        .order_by(ConnectionPeriod.connected_at)
    )
    return _utc(first), [(r[0], r[1]) for r in rows.all()]


async def reconnect_times(db: AsyncSession, station_id: int, since: datetime) -> Sequence[datetime]:
    """When the station opened a connection since ``since`` other than its very first one (a
    reconnect, whether or not it rebooted), oldest first."""
    mine = ConnectionPeriod.station_id == station_id
    first = select(func.min(ConnectionPeriod.connected_at)).where(mine).scalar_subquery()
    query = (
        select(ConnectionPeriod.connected_at)
        .where(mine, ConnectionPeriod.connected_at >= since, ConnectionPeriod.connected_at > first)
        .order_by(ConnectionPeriod.connected_at)
    )
    return (await db.scalars(query)).all()


async def inbound_gaps(
    db: AsyncSession, charge_point_id: str, start: datetime, end: datetime, longer_than: float
) -> Sequence[tuple[datetime, datetime]]:
    """(previous, next) of consecutive frames from the station in [start, end) further apart
    than ``longer_than`` seconds."""
    previous = (
        func.lag(OcppMessage.created_at, type_=UTCDateTime())
        .over(order_by=(OcppMessage.created_at, OcppMessage.id))
        .label("previous")
    )
    frames = (
        select(OcppMessage.created_at.label("at"), previous)
        .where(
            OcppMessage.charge_point_id == charge_point_id,
            OcppMessage.direction == "in",
            OcppMessage.created_at >= start,
            OcppMessage.created_at < end,
        )
        .subquery()
    )
    query = select(frames.c.previous, frames.c.at).where(
        frames.c.previous.is_not(None),
        seconds_between(db, frames.c.previous, frames.c.at) > longer_than,
    )
    return [(r[0], r[1]) for r in (await db.execute(query)).all()]


async def inbound_edges(
    db: AsyncSession, charge_point_id: str, start: datetime, end: datetime
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """The station's last frame before ``start``, and its first and last in [start, end)."""
    mine = (OcppMessage.charge_point_id == charge_point_id, OcppMessage.direction == "in")
    before = await db.scalar(
        select(func.max(OcppMessage.created_at)).where(*mine, OcppMessage.created_at < start)
    )
    row = (
        await db.execute(
            select(func.min(OcppMessage.created_at), func.max(OcppMessage.created_at)).where(
                *mine, OcppMessage.created_at >= start, OcppMessage.created_at < end
            )
        )
    ).one()
    return _utc(before), _utc(row[0]), _utc(row[1])


def _utc(value: Any) -> datetime | None:
    """An aggregate's time as an aware UTC datetime, whatever the driver answered."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite, where the type of an expression is lost
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- exclusions ---------------------------------------------------------------------------------
async def exclusions_overlapping(
    db: AsyncSession, station_ids: Sequence[int], start: datetime, end: datetime
) -> Sequence[OutageExclusion]:
    if not station_ids:
        return []
    query = select(OutageExclusion).where(
        OutageExclusion.station_id.in_(station_ids),
        OutageExclusion.starts_at < end,
        OutageExclusion.ends_at > start,
    )
    return (await db.scalars(query.order_by(OutageExclusion.starts_at, OutageExclusion.id))).all()


async def exclusions_page(
    db: AsyncSession,
    scope: Scope,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[OutageExclusion, str]], int]:
    """The scope's exclusions overlapping [start, end) (either may be open), newest first, each
    with its station's charge point id."""
    query = _scoped(
        select(OutageExclusion, Station.charge_point_id).join(
            Station, Station.id == OutageExclusion.station_id
        ),
        scope,
    )
    if start is not None:
        query = query.where(OutageExclusion.ends_at > start)
    if end is not None:
        query = query.where(OutageExclusion.starts_at < end)
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    ordered = query.order_by(OutageExclusion.starts_at.desc(), OutageExclusion.id.desc())
    rows = (await db.execute(ordered.limit(limit).offset(offset))).all()
    return [(r[0], r[1]) for r in rows], int(total or 0)


async def visible_exclusion(
    db: AsyncSession, exclusion_id: int, tenant_id: int | None
) -> tuple[OutageExclusion, str] | None:
    """The exclusion and its charge point id, if its station is in ``tenant_id``."""
    query = _scoped(
        select(OutageExclusion, Station.charge_point_id)
        .join(Station, Station.id == OutageExclusion.station_id)
        .where(OutageExclusion.id == exclusion_id),
        Scope(tenant_id),
    )
    row = (await db.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def delete_exclusion(db: AsyncSession, exclusion_id: int) -> None:
    await db.execute(delete(OutageExclusion).where(OutageExclusion.id == exclusion_id))


# ---- a station's health -------------------------------------------------------------------------
async def status_error_codes(
    db: AsyncSession, station_id: int, since: datetime
) -> Sequence[tuple[str, int, datetime]]:
    """(error code, count, last received) of the station's StatusNotifications since ``since``
    that reported an error (any code but NoError), most frequent first."""
    record = StatusNotificationRecord
    query = (
        select(record.error_code, func.count(), func.max(record.received_at))
        .where(
            record.station_id == station_id,
            record.received_at >= since,
            record.error_code != "NoError",
        )
        .group_by(record.error_code)
        .order_by(func.count().desc(), record.error_code)
    )
    return [(r[0], int(r[1]), _utc(r[2]) or since) for r in (await db.execute(query)).all()]


async def failing_commands(
    db: AsyncSession, station_id: int, since: datetime, positive: frozenset[str]
) -> Sequence[tuple[str, str, str | None, int, datetime]]:
    """(action, state, outcome, count, last) of the station's commands since ``since`` that
    ended without a positive outcome, most frequent first."""
    failed = or_(
        Command.state.in_(("error", "timeout", "offline")),
        (Command.state == "completed") & Command.outcome.not_in(positive),
    )
    query = (
        select(
            Command.action,
            Command.state,
            Command.outcome,
            func.count(),
            func.max(Command.created_at),
        )
        .where(Command.station_id == station_id, Command.created_at >= since, failed)
        .group_by(Command.action, Command.state, Command.outcome)
        .order_by(func.count().desc(), Command.action)
    )
    rows = (await db.execute(query)).all()
    return [(r[0], r[1], r[2], int(r[3]), _utc(r[4]) or since) for r in rows]


async def open_sessions(db: AsyncSession, station_id: int) -> Sequence[ChargingSession]:
    query = (
        select(ChargingSession)
        .where(
            ChargingSession.station_id == station_id,
            ChargingSession.state.in_(("pending", "active")),
        )
        .order_by(ChargingSession.connector_id)
    )
    return (await db.scalars(query)).all()
