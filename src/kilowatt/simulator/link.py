"""One WebSocket connection of a simulated station: the socket loop around an OcppSession.

`Link.call()` sends a CALL and returns the typed answer; CALLs from the CSMS go to the
station's `on_call`; `serve()` reads until the connection closes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from kilowatt.ocpp import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    ErrorCode,
    FrameRejected,
    OcppError,
    OcppSession,
    Role,
    SchemaValidator,
)
from kilowatt.ocpp.v16 import CHARGE_POINT_TO_CENTRAL_SYSTEM

from .config import SimulatorStats

__all__ = [
    "CallFailed",
    "CallTimeout",
    "ConnectionLost",
    "Link",
    "NotAccepted",
    "NotConnected",
    "StationError",
    "open_link",
]

logger = logging.getLogger("kilowatt.simulator")

SUBPROTOCOL = Subprotocol("ocpp1.6")


class StationError(Exception):
    """Something a charger meets in the field: the CSMS is away, refuses, or says no."""


class NotConnected(StationError):
    """The station has no open connection."""


class NotAccepted(StationError):
    """The CSMS has not (yet) accepted the station's BootNotification."""


class ConnectionLost(StationError):
    """The connection closed before the CSMS answered."""


class CallTimeout(StationError):
    """The CSMS did not answer within the call timeout."""


class CallFailed(StationError):
    """The CSMS answered with a CALLERROR (or a result that breaks the schema)."""

    def __init__(self, action: str, error_code: str, description: str) -> None:
        super().__init__(f"{action}: {error_code} {description}".strip())
        self.action = action
        self.error_code = error_code
        self.description = description


Spawn = Callable[[Coroutine[Any, Any, None]], object]


class _OwnRequestsTrusted(SchemaValidator):
    """Skips the schema check of the requests a charger sends (built from typed structs, and
    checked again by whoever receives them); everything received is still validated.

    Checking our own MeterValues was half of the simulator's CPU time.
    """

    __slots__ = ()

    def validate_request(self, action: str, payload: dict[str, Any]) -> None:
        if action in CHARGE_POINT_TO_CENTRAL_SYSTEM and action != "DataTransfer":
            return
        super().validate_request(action, payload)


_VALIDATOR = _OwnRequestsTrusted("1.6")


class Link:
    """An open connection: a WebSocket, its OcppSession and the calls awaiting answers."""

    def __init__(
        self,
        ws: ClientConnection,
        session: OcppSession,
        stats: SimulatorStats,
        on_call: Callable[[Link, CallReceived], None],
        spawn: Spawn,
    ) -> None:
        self.ws = ws
        self.session = session
        self.closed = False
        self._stats = stats
        self._on_call = on_call
        self._spawn = spawn
        self._waiters: dict[str, asyncio.Future[msgspec.Struct | StationError]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    async def call(self, action: str, payload: msgspec.Struct) -> msgspec.Struct:
        """Send a CALL and return the CSMS's typed answer.

        Raises CallFailed, CallTimeout or ConnectionLost; OcppError if our own payload is invalid.
        """
        if self.closed:
            raise ConnectionLost(f"{action}: connection closed")
        loop = asyncio.get_running_loop()
        message_id = self.session.send_call(action, payload, loop.time())
        # Resolved with the answer or the StationError to raise -- never set_exception: a task
        # cancelled just as its answer fails would leave "exception was never retrieved".
        future: asyncio.Future[msgspec.Struct | StationError] = loop.create_future()
        self._waiters[message_id] = future
        self._stats.calls_sent[action] += 1
        try:
            await self.flush()
            result = await future
            if isinstance(result, StationError):
                raise result
            return result
        finally:
            # Cancelled (even before awaiting the answer): nobody will read this future.
            if not future.done():
                future.cancel()
            self._waiters.pop(message_id, None)

    async def answer(self, message_id: str, payload: msgspec.Struct) -> None:
        """Answer the CSMS's call `message_id` (dropped if the connection has gone)."""
        if self.closed:
            return
        try:
            self.session.send_result(message_id, payload)
        except OcppError as exc:
            logger.error("invalid answer %s: %s", payload, exc.description)
            self.session.send_error(message_id, ErrorCode.INTERNAL_ERROR, exc.description)
        self._stats.calls_answered += 1
        await self.flush()

    async def flush(self) -> None:
        """Write what the session has to send, in order."""
        frames = self.session.frames_to_send()
        self._arm()
        for frame in frames:
            try:
                await self.ws.send(frame)
            except ConnectionClosed:
                return  # serve() sees the close and fails the waiters
            self._stats.messages_sent += 1

    async def serve(self) -> None:
        """Read frames until the connection closes; then fail every call still waiting."""
        loop = asyncio.get_running_loop()
        try:
            async for text in self.ws:
                self._stats.messages_received += 1
                for event in self.session.receive_text(text, loop.time()):
                    self._handle(event)
                await self.flush()
        except ConnectionClosed:
            pass
        finally:
            self._closed()

    async def close(self) -> None:
        await self.ws.close()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a charger losing its modem)."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    # -- internals -----------------------------------------------------------------------
    def _handle(self, event: object) -> None:
        if type(event) is CallReceived:
            self._on_call(self, event)
        elif type(event) is CallResultReceived:
            self._resolve(event.message_id, event.payload, None)
        elif type(event) is CallErrorReceived:
            self._stats.errors += 1
            error = CallFailed(event.action, event.error_code, event.description)
            self._resolve(event.message_id, None, error)
        elif type(event) is CallTimedOut:
            self._stats.errors += 1
            self._resolve(event.message_id, None, CallTimeout(f"{event.action}: no answer"))
        elif type(event) is FrameRejected:
            self._stats.errors += 1
            logger.warning("frame rejected: %s %s", event.error_code, event.description)

    def _resolve(
        self, message_id: str, result: msgspec.Struct | None, error: StationError | None
    ) -> None:
        future = self._waiters.pop(message_id, None)
        if future is None or future.done():
            return
        answer = error if error is not None else result
        assert answer is not None
        future.set_result(answer)

    def _arm(self) -> None:
        # One timer per link, at the session's next deadline (only one call is outstanding).
        deadline = self.session.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None
        if deadline is not None and not self.closed:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        for event in self.session.check_timeouts(asyncio.get_running_loop().time()):
            self._handle(event)
        self._spawn(self.flush())

    def _closed(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, {}
        for future in waiters.values():
            if not future.done():
                future.set_result(ConnectionLost("connection closed"))


async def open_link(
    url: str,
    station_id: str,
    *,
    password: str | None,
    call_timeout: float,
    ping_interval: float | None,
    stats: SimulatorStats,
    on_call: Callable[[Link, CallReceived], None],
    spawn: Spawn,
    supported_actions: frozenset[str],
) -> Link:
    """Open the WebSocket (subprotocol ocpp1.6, HTTP Basic if a password is given)."""
    headers: dict[str, str] = {}
    if password is not None:
        token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    ws = await connect(
        url,
        subprotocols=[SUBPROTOCOL],
        additional_headers=headers,
        # Chargers don't negotiate permessage-deflate, and at thousands of connections the
        # zlib contexts would dominate the simulator's memory.
        compression=None,
        open_timeout=10,
        ping_interval=ping_interval,
        max_queue=64,
    )
    if ws.subprotocol != SUBPROTOCOL:
        await ws.close()
        raise ConnectionRefusedError(f"server did not agree to {SUBPROTOCOL}")
    session = OcppSession(
        Role.CHARGE_POINT,
        call_timeout=call_timeout,
        validator=_VALIDATOR,
        supported_actions=supported_actions,
    )
    return Link(ws, session, stats, on_call, spawn)
