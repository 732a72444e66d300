"""One live station connection: the sans-I/O OCPP session wrapped in a thin async loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from kilowatt.metrics import Metrics
from kilowatt.ocpp.rpc import ErrorCode, MessageType, OcppError
from kilowatt.ocpp.session import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    Event,
    FrameRejected,
    OcppSession,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a CALL we sent ended: a result, a CALLERROR, or no answer in time."""

    kind: str  # "result" | "error" | "timeout" | "closed"
    payload: dict[str, Any] | None = None
    error_code: str | None = None
    error_description: str | None = None
    latency: float | None = None
    message_id: str | None = None


def _status(response: msgspec.Struct | dict[str, Any]) -> str:
    if isinstance(response, dict):
        return str(response.get("status"))
    return str(getattr(response, "status", None))


class StationGone(Exception):
    """The connection closed before the call could be sent."""


# A handler gets the typed request and returns the typed (or dict) response.
CallHandler = Callable[
    ["StationConnection", CallReceived], Awaitable[msgspec.Struct | dict[str, Any]]
]
FrameLogger = Callable[..., None]


@dataclass(eq=False)
class StationConnection:
    """The server side of one charge point's WebSocket."""

    charge_point_id: str
    station_id: int
    tenant_id: int
    session: OcppSession
    send_text: Callable[[str], Awaitable[None]]
    close_transport: Callable[[int, str], Awaitable[None]]
    log_frame: FrameLogger
    subprotocol: str | None = "ocpp1.6"
    # Whether the station's registration is Accepted; until then every CALL but BootNotification
    # gets SecurityError (OCPP-J 1.6 errata 3.10, "5.6 Charge Point CALL message before
    # accepted"). Set from the station's record at the upgrade, then by each BootNotification.
    accepted: bool = True
    connected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metrics: Metrics = field(default_factory=Metrics)  # the node's (the gateway passes it)
    _futures: dict[str, asyncio.Future[CallOutcome]] = field(default_factory=dict)
    _actions: dict[str, str] = field(default_factory=dict)
    _outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    _wake_timer: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    # ---- outgoing ---------------------------------------------------------------------------
    async def call(self, action: str, payload: msgspec.Struct | dict[str, Any]) -> CallOutcome:
        """Send a CALL and wait for its outcome (the session enforces one outstanding CALL)."""
        if self._closed:
            raise StationGone(self.charge_point_id)
        message_id = self.session.send_call(action, payload, time.monotonic())
        future: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
        self._futures[message_id] = future
        self._actions[message_id] = action
        self._flush()
        self._wake_timer.set()
        return await future

    def _flush(self) -> None:
        for frame in self.session.frames_to_send():
            self._outbox.put_nowait(frame)

    # ---- the loops ---------------------------------------------------------------------------
    async def writer(self) -> None:
        while (frame := await self._outbox.get()) is not None:
            self._log_out(frame)
            await self.send_text(frame)

    async def timer(self) -> None:
        while not self._closed:
            deadline = self.session.next_deadline()
            self._wake_timer.clear()
            if deadline is None:
                await self._wake_timer.wait()
                continue
            delay = deadline - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake_timer.wait(), delay)
                    continue
                except TimeoutError:
                    pass
            self._process(self.session.check_timeouts(time.monotonic()))
            self._flush()

    async def receive(self, text: str | bytes, handler: CallHandler) -> None:
        """Feed one incoming frame; answer CALLs through ``handler``, one at a time."""
        received_at = datetime.now(UTC)
        events = self.session.receive_text(text, time.monotonic())
        self._log_in(text, events, received_at)
        for event in events:
            if isinstance(event, CallReceived):
                if not self.accepted and event.action != "BootNotification":
                    self.session.send_error(
                        event.message_id,
                        ErrorCode.SECURITY_ERROR,
                        f"{event.action} before the charge point is accepted",
                    )
                    self.metrics.call_refused(event.action, ErrorCode.SECURITY_ERROR)
                    continue
                await self._answer(event, handler)
            else:
                self._process([event])
        self._flush()

    async def _answer(self, event: CallReceived, handler: CallHandler) -> None:
        try:
            response = await handler(self, event)
        except OcppError as exc:
            self.session.send_error(event.message_id, exc.code, exc.description, exc.details)
            self.metrics.call_refused(event.action, exc.code)
        except Exception:
            log.exception("%s: handling %s failed", self.charge_point_id, event.action)
            self.session.send_error(
                event.message_id, ErrorCode.INTERNAL_ERROR, f"{event.action} could not be processed"
            )
            self.metrics.call_refused(event.action, ErrorCode.INTERNAL_ERROR)
        else:
            try:
                self.session.send_result(event.message_id, response)
            except OcppError as exc:
                log.error("%s: invalid %s response: %s", self.charge_point_id, event.action, exc)
                self.session.send_error(event.message_id, ErrorCode.INTERNAL_ERROR, exc.description)
                self.metrics.call_refused(event.action, ErrorCode.INTERNAL_ERROR)
            else:
                self.metrics.call_answered(event.action)
                if event.action == "BootNotification":
                    self.accepted = _status(response) == "Accepted"

    def _process(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, CallResultReceived):
                self._resolve(
                    event.message_id,
                    CallOutcome("result", payload=event.raw, latency=event.latency),
                )
            elif isinstance(event, CallErrorReceived):
                if event.details.get("source") != "local":  # not a result breaking its schema
                    self.metrics.callerror_received(event.error_code)
                self._resolve(
                    event.message_id,
                    CallOutcome(
                        "error",
                        error_code=event.error_code,
                        error_description=event.description,
                        latency=event.latency,
                    ),
                )
            elif isinstance(event, CallTimedOut):
                self._resolve(event.message_id, CallOutcome("timeout"))
            elif isinstance(event, FrameRejected):
                # Answered with a CALLERROR, unless it repeats a call we are still answering.
                if event.message_id not in self.session.unanswered_calls:
                    self.metrics.frame_rejected(event.text, event.error_code)
                log.warning(
                    "%s: frame rejected (%s): %s",
                    self.charge_point_id,
                    event.error_code,
                    event.description,
                )

    def _resolve(self, message_id: str, outcome: CallOutcome) -> None:
        action = self._actions.pop(message_id, None)
        if action is not None:
            self.metrics.call_finished(action, outcome.kind)
        future = self._futures.pop(message_id, None)
        if future is not None and not future.done():
            future.set_result(
                CallOutcome(
                    outcome.kind,
                    outcome.payload,
                    outcome.error_code,
                    outcome.error_description,
                    outcome.latency,
                    message_id,
                )
            )

    # ---- message log -------------------------------------------------------------------------
    def _log_in(self, text: str | bytes, events: list[Event], at: datetime) -> None:
        if isinstance(text, bytes):  # OCPP-J is text; a binary frame is logged as decoded
            text = text.decode("utf-8", "replace")
        action: str | None = None
        message_id: str | None = None
        error_code: str | None = None
        latency: float | None = None
        message_type = 0
        for event in events:
            message_id = event.message_id
            if isinstance(event, CallReceived):
                action, message_type = event.action, MessageType.CALL
            elif isinstance(event, CallResultReceived):
                action, message_type, latency = event.action, MessageType.CALLRESULT, event.latency
            elif isinstance(event, CallErrorReceived):
                action, message_type = event.action, MessageType.CALLERROR
                error_code, latency = event.error_code, event.latency
            elif isinstance(event, FrameRejected):
                error_code = event.error_code
        self.log_frame(
            self.charge_point_id,
            "in",
            int(message_type),
            action,
            message_id,
            text,
            error_code=error_code,
            latency_ms=None if latency is None else latency * 1000,
            at=at,
        )

    def _log_out(self, frame: str) -> None:
        # Cheap peek at the frame head: [type,"id",... — the full frame is stored as sent.
        message_type = int(frame[1]) if len(frame) > 1 and frame[1].isdigit() else 0
        message_id: str | None = None
        action: str | None = None
        error_code: str | None = None
        try:
            parsed = msgspec.json.decode(frame)
            message_id = parsed[1]
            if message_type == MessageType.CALL:
                action = parsed[2]
            elif message_type == MessageType.CALLERROR:
                error_code = parsed[2]
        except (msgspec.DecodeError, IndexError, TypeError):
            pass
        self.log_frame(
            self.charge_point_id,
            "out",
            message_type,
            action,
            message_id,
            frame,
            error_code=error_code,
            at=datetime.now(UTC),
        )

    # ---- closing ----------------------------------------------------------------------------
    def mark_closed(self) -> None:
        """Fail every pending call and stop the loops; idempotent."""
        if self._closed:
            return
        self._closed = True
        for message_id, future in list(self._futures.items()):
            if not future.done():
                future.set_result(CallOutcome("closed", message_id=message_id))
                self.metrics.call_finished(self._actions.pop(message_id, "unknown"), "closed")
        self._futures.clear()
        self._outbox.put_nowait(None)
        self._wake_timer.set()

    async def close(self, code: int = 1001, reason: str = "") -> None:
        await self.close_transport(code, reason)
