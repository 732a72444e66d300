"""A reference OCPP 1.6-J central system, built the way Python CSMSs are usually built.

    .venv/bin/python bench/reference_csms.py --port 9000 \\
        --database-url sqlite+aiosqlite:////tmp/ref/ref.db [--host 127.0.0.1]

This is a **benchmark fixture, not part of Kilowatt**: the baseline our benchmark compares
Kilowatt against. It is meant to be honest and reasonable, not deliberately slow: the typical
design found in Python OCPP back ends, with nothing exotic in either direction:

* the ``ocpp`` library: one ``ocpp.v16.ChargePoint`` per WebSocket connection, handlers
  registered with ``@on``, and the library's default JSON-schema validation of every request
  and response (left switched on);
* a ``websockets`` server (``websockets.asyncio.server.serve``) at ``/ocpp/{charge_point_id}``
  that insists on the ``ocpp1.6`` subprotocol, plus ``GET /health`` for readiness polling;
* SQLAlchemy 2 async ORM (aiosqlite or asyncpg): per message one ``AsyncSession`` and one
  commit, awaited before the reply is returned, so an answered message is stored. SQLite runs
  with WAL and ``synchronous=FULL`` so a commit is as durable as in the system under test.

The schema is its own (``stations``, ``connectors``, ``id_tags``, ``transactions``,
``meter_values``), created with ``metadata.create_all`` at start-up. Unknown id tags are
accepted and stored on first use. The process stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

LOG = logging.getLogger("reference_csms")
Handler = TypeVar("Handler", bound=Callable[..., Any])
HEARTBEAT_INTERVAL = 300
SUBPROTOCOLS = [Subprotocol("ocpp1.6")]
PATH = re.compile(r"^/ocpp/(?P<charge_point_id>[^/?#]+)/?$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: str | None) -> datetime:
    """An OCPP timestamp as an aware UTC datetime (now, if the station sent none)."""
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- schema --------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String(64), unique=True)
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    last_boot_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Connector(Base):
    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("station_id", "connector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdTag(Base):
    __tablename__ = "id_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_tag: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16))


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(20))
    meter_start: Mapped[int] = mapped_column(Integer)
    meter_stop: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_reason: Mapped[str | None] = mapped_column(String(32))


class MeterValue(Base):
    __tablename__ = "meter_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: stations report values for transactions the CSMS may not know (e.g.
    # after a station-side restart); storing them must not turn the reply into an error.
    transaction_id: Mapped[int | None] = mapped_column(Integer, index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    measurand: Mapped[str | None] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))


def meter_value_rows(
    transaction_id: int | None, connector_id: int, meter_value: list[dict[str, Any]]
) -> list[MeterValue]:
    """One row per sampled value (the ``ocpp`` library hands the payload over in snake_case)."""
    return [
        MeterValue(
            transaction_id=transaction_id,
            connector_id=connector_id,
            timestamp=parse_timestamp(reading["timestamp"]),
            measurand=sample.get("measurand", "Energy.Active.Import.Register"),
            phase=sample.get("phase"),
            unit=sample.get("unit", "Wh"),
            value=sample["value"],
            context=sample.get("context", "Sample.Periodic"),
            location=sample.get("location", "Outlet"),
        )
        for reading in meter_value
        for sample in reading["sampled_value"]
    ]


# --- database ------------------------------------------------------------------------------

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Durable like the system under test: WAL, fsync on every commit, foreign keys checked,
    and concurrent writers wait for the lock rather than failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(database_url: str) -> AsyncEngine:
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


async def station_by_cpid(session: AsyncSession, charge_point_id: str) -> Station:
    """The station row of ``charge_point_id``, created if this is its first message."""
    station = await session.scalar(
        select(Station).where(Station.charge_point_id == charge_point_id)
    )
    if station is None:
        station = Station(charge_point_id=charge_point_id)
        session.add(station)
        await session.flush()
    return station


async def id_tag_status(session: AsyncSession, id_tag: str) -> str:
    """The status of ``id_tag``; an unknown tag is stored as Accepted."""
    tag = await session.scalar(select(IdTag).where(IdTag.id_tag == id_tag))
    if tag is not None:
        return tag.status
    try:  # another connection may be storing the same new tag right now
        async with session.begin_nested():
            session.add(IdTag(id_tag=id_tag, status=AuthorizationStatus.accepted.value))
    except IntegrityError:
        tag = await session.scalar(select(IdTag).where(IdTag.id_tag == id_tag))
        assert tag is not None
        return tag.status
    accepted: str = AuthorizationStatus.accepted.value
    return accepted


# --- OCPP ----------------------------------------------------------------------------------


def handles(action: Action) -> Callable[[Handler], Handler]:
    """``ocpp.routing.on`` with a type, so that mypy keeps checking the handlers."""
    decorator: Callable[[Handler], Handler] = on(action)
    return decorator


class CentralSystemChargePoint(ChargePoint):  # type: ignore[misc]
    """One connected station: the ``ocpp`` library's ChargePoint with ORM-backed handlers."""

    def __init__(
        self, charge_point_id: str, connection: ServerConnection, sessions: SessionFactory
    ) -> None:
        super().__init__(charge_point_id, connection)
        self.sessions = sessions
        self.station_pk: int | None = None

    async def _station(self, session: AsyncSession) -> Station:
        if self.station_pk is not None:
            station = await session.get(Station, self.station_pk)
            if station is not None:
                return station
        station = await station_by_cpid(session, self.id)
        self.station_pk = station.id
        return station

    @handles(Action.boot_notification)
    async def on_boot_notification(
        self,
        charge_point_vendor: str,
        charge_point_model: str,
        firmware_version: str | None = None,
        **_: Any,
    ) -> call_result.BootNotification:
        now = utcnow()
        async with self.sessions() as session:
            station = await self._station(session)
            station.vendor = charge_point_vendor
            station.model = charge_point_model
            station.firmware = firmware_version
            station.last_boot_at = now
            await session.commit()
        return call_result.BootNotification(
            current_time=now.isoformat(),
            interval=HEARTBEAT_INTERVAL,
            status=RegistrationStatus.accepted,
        )

    @handles(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        now = utcnow()
        async with self.sessions() as session:
            station = await self._station(session)
            station.last_heartbeat_at = now
            await session.commit()
        return call_result.Heartbeat(current_time=now.isoformat())

    @handles(Action.status_notification)
    async def on_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        **_: Any,
    ) -> call_result.StatusNotification:
        async with self.sessions() as session:
            station = await self._station(session)
            connector = await session.scalar(
                select(Connector).where(
                    Connector.station_id == station.id, Connector.connector_id == connector_id
                )
            )
            if connector is None:
                connector = Connector(station_id=station.id, connector_id=connector_id)
                session.add(connector)
            connector.status = status
            connector.error_code = error_code
            connector.updated_at = parse_timestamp(timestamp)
            await session.commit()
        return call_result.StatusNotification()

    @handles(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        async with self.sessions() as session:
            status = await id_tag_status(session, id_tag)
            await session.commit()
        return call_result.Authorize(id_tag_info=IdTagInfo(status=status))

    @handles(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> call_result.StartTransaction:
        async with self.sessions() as session:
            station = await self._station(session)
            status = await id_tag_status(session, id_tag)
            transaction = Transaction(
                station_id=station.id,
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                started_at=parse_timestamp(timestamp),
            )
            session.add(transaction)
            await session.commit()
        return call_result.StartTransaction(
            transaction_id=transaction.id, id_tag_info=IdTagInfo(status=status)
        )

    @handles(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        id_tag: str | None = None,
        reason: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.StopTransaction:
        async with self.sessions() as session:
            transaction = await session.get(Transaction, transaction_id)
            connector_id = 0
            if transaction is not None:
                transaction.meter_stop = meter_stop
                transaction.stopped_at = parse_timestamp(timestamp)
                transaction.stop_reason = reason or "Local"
                connector_id = transaction.connector_id
            if transaction_data:
                known_id = transaction_id if transaction is not None else None
                session.add_all(meter_value_rows(known_id, connector_id, transaction_data))
            status = await id_tag_status(session, id_tag) if id_tag else None
            await session.commit()
        return call_result.StopTransaction(id_tag_info=IdTagInfo(status=status) if status else None)

    @handles(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        async with self.sessions() as session:
            session.add_all(meter_value_rows(transaction_id, connector_id, meter_value))
            await session.commit()
        return call_result.MeterValues()


# --- WebSocket server ----------------------------------------------------------------------


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    """``GET /health`` answers 200; anything but ``/ocpp/{id}`` is 404; OCPP goes on."""
    if request.path == "/health":
        return connection.respond(HTTPStatus.OK, "OK\n")
    if PATH.match(request.path) is None:
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
    return None


def connection_handler(
    sessions: SessionFactory,
) -> Callable[[ServerConnection], Coroutine[Any, Any, None]]:
    async def handle(connection: ServerConnection) -> None:
        match = PATH.match(connection.request.path if connection.request else "")
        if match is None:  # process_request already refused it
            return
        charge_point = CentralSystemChargePoint(match["charge_point_id"], connection, sessions)
        with contextlib.suppress(ConnectionClosed):
            await charge_point.start()

    return handle


async def run(host: str, port: int, database_url: str) -> None:
    engine = make_engine(database_url)
    await create_schema(engine)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serve(
            connection_handler(sessions),
            host,
            port,
            subprotocols=SUBPROTOCOLS,
            process_request=process_request,
        ):
            LOG.info("reference CSMS listening on ws://%s:%d/ocpp/{id}", host, port)
            await stop.wait()
    finally:
        await engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # WARNING for the ``ocpp`` library: at INFO it logs every frame.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    LOG.setLevel(logging.INFO)
    asyncio.run(run(args.host, args.port, args.database_url))


if __name__ == "__main__":
    main()
