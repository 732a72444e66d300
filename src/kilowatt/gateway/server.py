"""The OCPP WebSocket endpoint ``/ocpp/{charge_point_id}``: handshake and the receive loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from kilowatt.config import Settings
from kilowatt.events import Event, EventBus
from kilowatt.gateway import tls
from kilowatt.gateway.connection import StationConnection
from kilowatt.gateway.context import OcppContext
from kilowatt.gateway.dispatch_v16 import HANDLERS, SUPPORTED_ACTIONS
from kilowatt.gateway.group_commit import GroupCommit
from kilowatt.gateway.limits import ConnectionLimits, Refusal
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.journal.durability import BeforeCommit, Durability
from kilowatt.messagelog.writer import MessageLogWriter
from kilowatt.metrics import Metrics
from kilowatt.ocpp.rpc import ErrorCode, OcppError
from kilowatt.ocpp.session import CallReceived, OcppSession, Role
from kilowatt.stations import repository as station_repository
from kilowatt.stations import service as stations
from kilowatt.stations.service import StationRefused, VendorHook

log = logging.getLogger(__name__)

SUBPROTOCOL_16 = "ocpp1.6"
MAX_CHARGE_POINT_ID_LENGTH = 255


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The (username, password) of an ``Authorization: Basic`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class Gateway:
    """Accepts station connections, runs their receive loops, and owns the registry."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        registry: ConnectionRegistry,
        message_log: MessageLogWriter,
        vendor_hooks: dict[str, VendorHook] | None = None,
        bus: EventBus | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus or EventBus()
        self.metrics = metrics or Metrics()
        # station id -> (charge point id, tenant id) of stations seen here, to address events
        # about rows that only carry the station id (commands).
        self.directory: dict[int, tuple[str, int]] = {}
        self.sessions = sessions
        self.registry = registry
        self.message_log = message_log
        self.vendor_hooks = vendor_hooks or {}
        self.limits = ConnectionLimits(settings)
        # Stored replies and the journal (docs/durability.md); set when the node starts.
        self.durability: Durability | None = None
        # The receive loop's database work, committed in groups (gateway/group_commit.py).
        self.group_commit = GroupCommit(
            sessions, writers=settings.effective_db_writers, metrics=self.metrics
        )
        self._closing = False
        self._pending = 0  # handshakes past the limits, waiting for a slot or in one
        self._slots = asyncio.Semaphore(settings.max_pending_handshakes)

    @property
    def pending_handshakes(self) -> int:
        """Handshakes past the limits, waiting for a slot or in one (until recorded online)."""
        return self._pending

    async def serve(self, websocket: WebSocket, charge_point_id: str) -> None:
        if self._closing:
            await self._deny(websocket, 503, "server shutting down")
            return
        if not charge_point_id or len(charge_point_id) > MAX_CHARGE_POINT_ID_LENGTH:
            await self._deny(websocket, 400, "invalid charge point id")
            return
        client = websocket.scope.get("client")
        refusal = self.limits.admit(
            client[0] if client else None,
            charge_point_id,
            len(self.registry),
            charge_point_id in self.registry,
            time.monotonic(),
            pending=self._pending,
        )
        if refusal is not None:  # before authentication: a flood never reaches Argon2 or the DB
            self._report_refusal(refusal, charge_point_id)
            await self._deny(websocket, refusal.status, refusal.reason, refusal.headers)
            return
        # From here until the station is recorded online a handshake does database work
        # (authentication, registration, the online record). At most max_pending_handshakes do
        # at once; the others wait their turn, up to handshake_queue_seconds, then get 503. A
        # reconnect storm waits here, not retrying, not in the connection pool's queue
        # (docs/connection-limits.md).
        self._pending += 1
        counted, slot = True, False

        def settled() -> None:  # recorded online, refused or gone: the next may go on
            nonlocal counted, slot
            if slot:
                slot = False
                self._slots.release()
            if counted:
                counted = False
                self._pending -= 1

        try:
            try:
                async with asyncio.timeout(self.settings.handshake_queue_seconds):
                    await self._slots.acquire()
                slot = True
            except TimeoutError:
                busy = Refusal(
                    503, "too many handshakes in progress on this node", 1, "node:pending"
                )
                self.limits.refused += 1
                self._report_refusal(busy, charge_point_id)
                await self._deny(websocket, busy.status, busy.reason, busy.headers)
                return
            await self._admit_and_run(websocket, charge_point_id, settled)
        finally:
            settled()

    async def _admit_and_run(
        self, websocket: WebSocket, charge_point_id: str, settled: Callable[[], None]
    ) -> None:
        try:
            async with self.sessions() as db:
                station = await stations.admit(
                    db,
                    self.settings,
                    charge_point_id,
                    basic_credentials(websocket.headers),
                    tls.transport_security(websocket.scope),
                )
                await db.commit()
        except StationRefused as refused:
            log.info("refused %s: %s", charge_point_id, refused.reason)
            self.bus.publish(
                Event(
                    "security.connection_refused",
                    {"reason": refused.reason, "status": refused.status},
                    station=charge_point_id,
                )
            )
            await self._deny(websocket, refused.status, refused.reason)
            return
        except (SQLAlchemyError, OSError) as unavailable:
            # The database did not answer in time (a storm, an outage): the station comes back.
            busy = Refusal(503, "the database is unavailable; retry", 5, "node:database")
            log.warning("refused %s: %s: %s", charge_point_id, busy.reason, unavailable)
            self._report_refusal(busy, charge_point_id)
            await self._deny(websocket, busy.status, busy.reason, busy.headers)
            return

        offered: list[str] = list(websocket.scope.get("subprotocols") or [])
        if SUBPROTOCOL_16 in offered:
            subprotocol: str | None = SUBPROTOCOL_16
        elif not offered and station.allow_missing_subprotocol:
            subprotocol = None
        else:
            # OCPP-J 1.6 §4.1.2: complete the handshake without a subprotocol, then close.
            log.info("refused %s: no supported subprotocol in %s", charge_point_id, offered)
            await websocket.accept()
            await websocket.close(1002, "no supported OCPP subprotocol")
            return

        await websocket.accept(subprotocol=subprotocol)
        connection = StationConnection(
            charge_point_id=charge_point_id,
            station_id=station.id,
            tenant_id=station.tenant_id,
            session=OcppSession(
                Role.CENTRAL_SYSTEM,
                call_timeout=self.settings.call_timeout,
                supported_actions=SUPPORTED_ACTIONS,
            ),
            send_text=websocket.send_text,
            close_transport=lambda code, reason: websocket.close(code, reason),
            log_frame=self.message_log.log,
            metrics=self.metrics,
            subprotocol=subprotocol,
            accepted=station.registration_status == "Accepted",
        )
        await self._run(websocket, connection, settled)

    async def _run(
        self, websocket: WebSocket, connection: StationConnection, settled: Callable[[], None]
    ) -> None:
        previous = await self.registry.add(connection)
        if previous is not None:
            # The new connection authenticated (admit above): it replaces the stale one.
            log.warning(
                "%s reconnected; closing its previous connection", connection.charge_point_id
            )
            previous.mark_closed()
            await _quietly(previous.close(1000, "replaced by a new connection"))
            self.bus.publish(
                Event(
                    "security.connection_replaced",
                    {"reason": "a new, authenticated connection with the same id"},
                    tenant_id=connection.tenant_id,
                    station=connection.charge_point_id,
                )
            )
        await self._record(connection, online=True)
        settled()
        log.info("%s connected (%s)", connection.charge_point_id, connection.subprotocol)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(connection.writer())
                tasks.create_task(connection.timer())
                tasks.create_task(self._reader(websocket, connection))
        except* (WebSocketDisconnect, RuntimeError, OSError) as group:
            log.debug("%s: connection ended: %r", connection.charge_point_id, group.exceptions)
        finally:
            connection.mark_closed()
            await self.registry.remove(
                connection, before_notify=lambda: self._record(connection, online=False)
            )
            log.info("%s disconnected", connection.charge_point_id)

    async def _reader(self, websocket: WebSocket, connection: StationConnection) -> None:
        throttle = self.limits.message_throttle()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    if message.get("code") == 1009:  # closed by the protocol: over the size limit
                        self._security_close(connection, 1009, "message too big")
                    return
                # Above the station's message rate, wait: uvicorn reads no further frame from
                # the socket meanwhile, so TCP slows the station down (docs/connection-limits.md).
                delay = throttle.delay(time.monotonic())
                if delay > 0:
                    if throttle.flooding(time.monotonic()):
                        self._security_close(connection, 1008, "message rate limit exceeded")
                        await websocket.close(1008, "message rate limit exceeded")
                        return
                    await asyncio.sleep(delay)
                text = message.get("text")
                if text is None:
                    text = message.get("bytes") or b""
                await connection.receive(text, self._handle)
        finally:
            connection.mark_closed()

    def _security_close(self, connection: StationConnection, code: int, reason: str) -> None:
        log.warning("%s: closed with %d: %s", connection.charge_point_id, code, reason)
        self.bus.publish(
            Event(
                "security.connection_closed",
                {"code": code, "reason": reason},
                tenant_id=connection.tenant_id,
                station=connection.charge_point_id,
            )
        )

    async def _handle(self, connection: StationConnection, event: CallReceived) -> Any:
        handler = HANDLERS.get(event.action)
        if handler is None:  # the session already refuses these; kept as a guard
            raise OcppError(ErrorCode.NOT_SUPPORTED, f"{event.action} is not supported")
        timing = self.metrics.incoming(event.action)

        async def apply(before_commit: BeforeCommit | None = None) -> Any:
            async def work(db: AsyncSession) -> tuple[Any, OcppContext]:
                ctx = OcppContext(
                    charge_point_id=connection.charge_point_id,
                    station_id=connection.station_id,
                    tenant_id=connection.tenant_id,
                    db=db,
                    now=datetime.now(UTC),
                    settings=self.settings,
                    vendor_hooks=self.vendor_hooks,
                )
                response = await handler(ctx, event.payload)
                if before_commit is not None:  # the stored reply, in the same transaction
                    await before_commit(db, response)
                return response, ctx

            started = time.perf_counter()
            try:
                # The reply goes out only after the data is committed (DESIGN.md decision 3),
                # in one commit with the other messages that arrived meanwhile (group commit).
                response, ctx = await self.group_commit.run(work)
            finally:  # failures too: a handler stuck on a locked database is what this shows
                timing.handler_seconds.observe(time.perf_counter() - started)
            for domain_event in ctx.events:
                self.bus.publish(domain_event)
            return response

        # Stored replies and the journal while the database is down (docs/durability.md).
        if self.durability is None:
            return await apply()
        return await self.durability.handle(connection, event, apply)

    async def _record(self, connection: StationConnection, *, online: bool) -> None:
        try:
            async with self.sessions() as db:
                if online:
                    await station_repository.set_connected(
                        db, connection.station_id, connection.connected_at
                    )
                else:
                    await station_repository.set_disconnected(
                        db, connection.station_id, connection.connected_at, datetime.now(UTC)
                    )
                await db.commit()
        except Exception:
            log.exception("%s: could not record online=%s", connection.charge_point_id, online)
        self.directory[connection.station_id] = (connection.charge_point_id, connection.tenant_id)
        self.bus.publish(
            Event(
                "station.connected" if online else "station.disconnected",
                {"subprotocol": connection.subprotocol} if online else {},
                tenant_id=connection.tenant_id,
                station=connection.charge_point_id,
            )
        )

    def _report_refusal(self, refusal: Refusal, charge_point_id: str) -> None:
        """One ``security.connection_refused`` per limit key and window, not one per attempt."""
        attempts = self.limits.report(refusal, time.monotonic())
        if attempts is None:
            return
        log.warning("refused %s (%s): %s", charge_point_id, refusal.key, refusal.reason)
        self.bus.publish(
            Event(
                "security.connection_refused",
                {
                    "reason": refusal.reason,
                    "status": refusal.status,
                    "limit": refusal.key,
                    "attempts": attempts,
                },
                station=charge_point_id,
            )
        )

    async def _deny(
        self, websocket: WebSocket, status: int, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(
                JSONResponse({"detail": reason}, status_code=status, headers=headers)
            )
        else:
            await websocket.close(1008, reason)

    async def shutdown(self) -> None:
        """Close every station with 1001 (going away) so that it reconnects to another node."""
        self._closing = True
        await asyncio.gather(
            *(_quietly(conn.close(1001, "server shutting down")) for conn in self.registry),
        )


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:  # a close on a dead transport is not an error worth more
        log.debug("ignored while closing: %r", exc)
