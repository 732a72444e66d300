"""A minimal, real OCPP 1.6 central system for the simulator tests (and the simulator bench).

websockets server on 127.0.0.1, an ephemeral port, one OcppSession(Role.CENTRAL_SYSTEM) per
connection. It answers every charge point call plausibly, records what it received, can send
commands (`call`), refuse or drop connections, and check HTTP Basic passwords.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from kilowatt.ocpp import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    ErrorCode,
    OcppSession,
    Role,
)
from kilowatt.ocpp.v16.enums import AuthorizationStatus, DataTransferStatus, RegistrationStatus
from kilowatt.ocpp.v16.messages import (
    AuthorizeResponse,
    BootNotificationResponse,
    DataTransferResponse,
    DiagnosticsStatusNotificationResponse,
    FirmwareStatusNotificationResponse,
    HeartbeatResponse,
    IdTagInfo,
    MeterValuesResponse,
    StartTransactionResponse,
    StatusNotificationResponse,
    StopTransactionResponse,
)


@dataclass(frozen=True, slots=True)
class Received:
    station_id: str
    action: str
    payload: Any  # the typed <Action>Request
    raw: dict[str, Any]
    at: float  # loop time
    connection: int  # which connection of the station (1 = first)


class CallRejected(Exception):
    """The station answered our call with a CALLERROR."""

    def __init__(self, error_code: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code


@dataclass
class _Connection:
    ws: ServerConnection
    session: OcppSession
    number: int
    waiters: dict[str, asyncio.Future[msgspec.Struct]] = field(default_factory=dict)


class MockCsms:
    """Use as `async with MockCsms() as csms:`; stations connect to `csms.url`."""

    def __init__(
        self,
        *,
        password: str | None = None,
        heartbeat_interval: int = 300,
        rejected_tags: frozenset[str] = frozenset(),
        invalid_start_tags: frozenset[str] = frozenset(),
        record: bool = True,
    ) -> None:
        self.password = password
        self.heartbeat_interval = heartbeat_interval
        self.rejected_tags = rejected_tags
        self.invalid_start_tags = invalid_start_tags
        #: False for benchmarks: count, don't keep.
        self.record = record
        #: station id -> BootNotification answers to give before Accepted: (status, interval)
        self.boot_replies: dict[str, list[tuple[RegistrationStatus, int]]] = {}
        #: Refuse new WebSocket connections (HTTP 503) while set.
        self.refuse = False
        #: action -> how many more of its calls to answer with a CALLERROR InternalError
        self.fail: Counter[str] = Counter()
        self.log: list[Received] = []
        self.counts: Counter[str] = Counter()
        self.connects: Counter[str] = Counter()
        self.connections: dict[str, _Connection] = {}
        self._tx_ids = itertools.count(1)
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._server: Server | None = None

    async def __aenter__(self) -> MockCsms:
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            compression=None,
            process_request=self._check_request,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    # -- inspection ----------------------------------------------------------------------
    def calls(self, station_id: str | None = None, action: str | None = None) -> list[Received]:
        return [
            r
            for r in self.log
            if (station_id is None or r.station_id == station_id)
            and (action is None or r.action == action)
        ]

    def actions(self, station_id: str) -> list[str]:
        return [r.action for r in self.log if r.station_id == station_id]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Return once condition() holds (checked after every frame); bound with a timeout."""
        if condition():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (condition, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            self._waiters.remove(entry)

    def _notify(self) -> None:
        for condition, future in self._waiters:
            if not future.done() and condition():
                future.set_result(None)

    # -- commands ------------------------------------------------------------------------
    async def call(self, station_id: str, action: str, payload: msgspec.Struct) -> Any:
        """Send a command to a connected station; returns its typed answer."""
        conn = self.connections[station_id]
        loop = asyncio.get_running_loop()
        message_id = conn.session.send_call(action, payload, loop.time())
        future: asyncio.Future[msgspec.Struct] = loop.create_future()
        conn.waiters[message_id] = future
        await self._flush(conn)
        return await future

    def drop(self, station_id: str) -> None:
        """Cut the station's TCP connection without a closing handshake."""
        transport = self.connections[station_id].ws.transport
        assert transport is not None
        transport.abort()

    # -- serving -------------------------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refused\n")
        if self.password is not None:
            station_id = request.path.rsplit("/", 1)[-1]
            expected = base64.b64encode(f"{station_id}:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "who are you?\n")
                response.headers["WWW-Authenticate"] = "Basic"
                return response
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        station_id = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        self.connects[station_id] += 1
        conn = _Connection(ws, OcppSession(Role.CENTRAL_SYSTEM), self.connects[station_id])
        self.connections[station_id] = conn
        self._notify()
        loop = asyncio.get_running_loop()
        try:
            async for text in ws:
                for event in conn.session.receive_text(text, loop.time()):
                    self._handle(station_id, conn, event, loop.time())
                await self._flush(conn)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(station_id) is conn:
                del self.connections[station_id]
            for future in conn.waiters.values():
                if not future.done():
                    future.set_exception(ConnectionError("station disconnected"))
            self._notify()

    async def _flush(self, conn: _Connection) -> None:
        for frame in conn.session.frames_to_send():
            await conn.ws.send(frame)

    def _handle(self, station_id: str, conn: _Connection, event: object, now: float) -> None:
        if isinstance(event, CallReceived):
            self.counts[event.action] += 1
            if self.record:
                self.log.append(
                    Received(station_id, event.action, event.payload, event.raw, now, conn.number)
                )
            if self.fail[event.action] > 0:
                self.fail[event.action] -= 1
                conn.session.send_error(event.message_id, ErrorCode.INTERNAL_ERROR, "try again")
                return
            conn.session.send_result(event.message_id, self._answer(station_id, event))
        elif isinstance(event, CallResultReceived):
            future = conn.waiters.pop(event.message_id, None)
            if future is not None and not future.done():
                future.set_result(event.payload)
        elif isinstance(event, CallErrorReceived):
            future = conn.waiters.pop(event.message_id, None)
            if future is not None and not future.done():
                future.set_exception(CallRejected(event.error_code))
        elif isinstance(event, CallTimedOut):
            future = conn.waiters.pop(event.message_id, None)
            if future is not None and not future.done():
                future.set_exception(TimeoutError(event.action))

    def _answer(self, station_id: str, call: CallReceived) -> msgspec.Struct:
        now = datetime.now(UTC)
        payload: Any = call.payload
        match call.action:
            case "BootNotification":
                replies = self.boot_replies.get(station_id)
                if replies:
                    status, interval = replies.pop(0)
                    return BootNotificationResponse(
                        status=status, current_time=now, interval=interval
                    )
                return BootNotificationResponse(
                    status=RegistrationStatus.ACCEPTED,
                    current_time=now,
                    interval=self.heartbeat_interval,
                )
            case "Heartbeat":
                return HeartbeatResponse(current_time=now)
            case "StatusNotification":
                return StatusNotificationResponse()
            case "Authorize":
                return AuthorizeResponse(
                    id_tag_info=self._tag_info(payload.id_tag, self.rejected_tags)
                )
            case "StartTransaction":
                return StartTransactionResponse(
                    id_tag_info=self._tag_info(payload.id_tag, self.invalid_start_tags),
                    transaction_id=next(self._tx_ids),
                )
            case "StopTransaction":
                return StopTransactionResponse()
            case "MeterValues":
                return MeterValuesResponse()
            case "DiagnosticsStatusNotification":
                return DiagnosticsStatusNotificationResponse()
            case "FirmwareStatusNotification":
                return FirmwareStatusNotificationResponse()
            case _:
                return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)

    @staticmethod
    def _tag_info(id_tag: str, bad: frozenset[str]) -> IdTagInfo:
        status = AuthorizationStatus.INVALID if id_tag in bad else AuthorizationStatus.ACCEPTED
        return IdTagInfo(status=status)
