"""The sans-I/O OCPP-J session: text frames and `now` in, typed events and frames out.

One OcppSession per WebSocket connection. It does no I/O and reads no clock: the caller passes
`now` (monotonic seconds) into every method that needs time, writes `frames_to_send()` to the
socket and calls `check_timeouts(now)` by `next_deadline()`.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from . import v16
from .rpc import (
    MAX_DESCRIPTION_LENGTH,
    UNREADABLE_MESSAGE_ID,
    Call,
    CallError,
    CallResult,
    ErrorCode,
    MessageType,
    OcppError,
    parse_frame,
    serialize,
)
from .validation import SchemaValidator

__all__ = [
    "CallErrorReceived",
    "CallReceived",
    "CallResultReceived",
    "CallTimedOut",
    "Event",
    "FrameRejected",
    "OcppSession",
    "Role",
]


class Role(StrEnum):
    CENTRAL_SYSTEM = "central_system"
    CHARGE_POINT = "charge_point"


@dataclass(frozen=True, slots=True)
class CallReceived:
    """A valid CALL from the peer; answer it with send_result() or send_error()."""

    message_id: str
    action: str
    payload: msgspec.Struct
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResultReceived:
    """A valid CALLRESULT to the call we sent as `message_id`."""

    message_id: str
    action: str
    payload: msgspec.Struct
    raw: dict[str, Any]
    latency: float


@dataclass(frozen=True, slots=True)
class CallErrorReceived:
    """The call we sent failed: a CALLERROR from the peer, or a result that broke the schema
    (then `error_code` is the violation we found and `details["source"]` is "local")."""

    message_id: str
    action: str
    error_code: str
    description: str
    details: dict[str, Any]
    latency: float


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """No answer to the call we sent within `call_timeout` (OCPP-J 1.6 §4.1.1)."""

    message_id: str
    action: str


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """An incoming frame we answered with a CALLERROR, or ignored (e.g. a CALLRESULT for an
    id we are not waiting for): for logging and metrics."""

    message_id: str | None
    error_code: str
    description: str
    text: str


Event = CallReceived | CallResultReceived | CallErrorReceived | CallTimedOut | FrameRejected


@dataclass(slots=True)
class _Outgoing:
    message_id: str
    action: str
    frame: str
    sent_at: float = 0.0
    deadline: float = 0.0


def _text(text: str | bytes) -> str:
    if isinstance(text, str):
        return text
    return text.decode("utf-8", errors="replace")


class OcppSession:
    """One OCPP-J connection's protocol state, for either end (see docs/ocpp-core.md)."""

    def __init__(
        self,
        role: Role,
        *,
        version: str = "1.6",
        call_timeout: float = 30.0,
        validator: SchemaValidator | None = None,
        supported_actions: frozenset[str] | None = None,
    ) -> None:
        if version != "1.6":
            raise ValueError(f"OcppSession supports OCPP 1.6 only, not {version!r}")
        if validator is not None and validator.version != version:
            raise ValueError("validator is for another OCPP version")
        self.role = Role(role)
        self.version = version
        self.call_timeout = call_timeout
        self._validator = validator if validator is not None else SchemaValidator(version)
        if self.role is Role.CENTRAL_SYSTEM:
            incoming, outgoing = (
                v16.CHARGE_POINT_TO_CENTRAL_SYSTEM,
                v16.CENTRAL_SYSTEM_TO_CHARGE_POINT,
            )
        else:
            incoming, outgoing = (
                v16.CENTRAL_SYSTEM_TO_CHARGE_POINT,
                v16.CHARGE_POINT_TO_CENTRAL_SYSTEM,
            )
        self._incoming = incoming if supported_actions is None else incoming & supported_actions
        self._outgoing_actions = outgoing
        self._requests = v16.REQUESTS
        self._outbox: list[str] = []
        self._outstanding: _Outgoing | None = None
        self._queue: deque[_Outgoing] = deque()
        # message id -> action of each CALL received and not yet answered
        self._unanswered: dict[str, str] = {}

    # -- introspection -------------------------------------------------------------------
    @property
    def incoming_actions(self) -> frozenset[str]:
        """Actions this session accepts from the peer."""
        return self._incoming

    @property
    def outstanding_call(self) -> str | None:
        """Message id of the call sent and awaiting its answer, if any."""
        return self._outstanding.message_id if self._outstanding else None

    @property
    def pending_calls(self) -> tuple[str, ...]:
        """Message ids of calls queued behind the outstanding one, in send order."""
        return tuple(c.message_id for c in self._queue)

    @property
    def unanswered_calls(self) -> dict[str, str]:
        """Received calls awaiting our send_result/send_error: message id -> action."""
        return dict(self._unanswered)

    def next_deadline(self) -> float | None:
        """When check_timeouts() next has something to do, or None."""
        return self._outstanding.deadline if self._outstanding else None

    def frames_to_send(self) -> list[str]:
        """Drain the frames to write to the socket, in order."""
        out, self._outbox = self._outbox, []
        return out

    # -- receiving -----------------------------------------------------------------------
    def receive_text(self, text: str | bytes, now: float) -> list[Event]:
        """Feed one WebSocket text message; returns what happened. Never raises on bad input."""
        try:
            frame = parse_frame(text)
        except OcppError as exc:
            return [self._bad_frame(exc, text, now)]
        if type(frame) is Call:
            return [self._on_call(frame, text)]
        if type(frame) is CallResult:
            return self._on_result(frame, text, now)
        assert type(frame) is CallError
        return self._on_error(frame, text, now)

    def _reject(
        self,
        message_id: str,
        code: ErrorCode,
        description: str,
        details: dict[str, Any],
        text: str | bytes,
    ) -> FrameRejected:
        description = description[:MAX_DESCRIPTION_LENGTH]
        self._outbox.append(serialize(CallError(message_id, code, description, details)))
        return FrameRejected(message_id, code, description, _text(text))

    def _bad_frame(self, exc: OcppError, text: str | bytes, now: float) -> Event:
        if exc.message_type in (MessageType.CALLRESULT, MessageType.CALLERROR):
            # A CALLERROR only ever answers a CALL (OCPP-J 1.6 §4.2.3): a broken response is not
            # answered. If it was meant for our outstanding call, that call ends here with the
            # fault we found, as for a result that breaks its schema.
            out = self._take_outstanding(exc.message_id) if exc.message_id else None
            if out is not None:
                self._send_next(now)
                return CallErrorReceived(
                    out.message_id,
                    out.action,
                    exc.code,
                    exc.description,
                    {**exc.details, "source": "local"},
                    now - out.sent_at,
                )
            return FrameRejected(exc.message_id, exc.code, exc.description, _text(text))
        message_id = exc.message_id if exc.message_id is not None else UNREADABLE_MESSAGE_ID
        return self._reject(message_id, exc.code, exc.description, exc.details, text)

    def _on_call(self, call: Call, text: str | bytes) -> Event:
        message_id, action = call.message_id, call.action
        if message_id in self._unanswered:
            # The same id while we are still working on it (a retry, OCPP-J errata 2025-04
            # §3.1 allows the same id): the reply we are preparing answers it, so don't send a
            # second one for the same id.
            return FrameRejected(
                message_id, ErrorCode.PROTOCOL_ERROR, "duplicate of an unanswered call", _text(text)
            )
        if action not in self._incoming:
            if action in self._requests:
                return self._reject(
                    message_id,
                    ErrorCode.NOT_SUPPORTED,
                    f"{action} is not supported by this {self.role.value}",
                    {},
                    text,
                )
            return self._reject(
                message_id,
                ErrorCode.NOT_IMPLEMENTED,
                f"{action!r} is not an OCPP {self.version} action",
                {},
                text,
            )
        try:
            self._validator.validate_request(action, call.payload)
            # Still can fail where a draft-06 (security) schema takes 5.0 as an integer: the
            # typed payload does not, and all 1.6 draft-04 schemas agree (TypeConstraint).
            payload = v16.decode_request(action, call.payload)
        except OcppError as exc:
            return self._reject(message_id, exc.code, exc.description, exc.details, text)
        self._unanswered[message_id] = action
        return CallReceived(message_id, action, payload, call.payload)

    def _take_outstanding(self, message_id: str) -> _Outgoing | None:
        out = self._outstanding
        if out is None or out.message_id != message_id:
            return None
        self._outstanding = None
        return out

    def _on_result(self, result: CallResult, text: str | bytes, now: float) -> list[Event]:
        out = self._take_outstanding(result.message_id)
        if out is None:
            # Unknown, late (after its timeout) or duplicate: nothing to match it to.
            return [
                FrameRejected(
                    result.message_id,
                    ErrorCode.PROTOCOL_ERROR,
                    "CALLRESULT for no outstanding call",
                    _text(text),
                )
            ]
        self._send_next(now)
        latency = now - out.sent_at
        try:
            self._validator.validate_response(out.action, result.payload)
            payload = v16.decode_response(out.action, result.payload)
        except OcppError as exc:
            details = {**exc.details, "source": "local"}
            return [
                CallErrorReceived(
                    out.message_id, out.action, exc.code, exc.description, details, latency
                )
            ]
        return [CallResultReceived(out.message_id, out.action, payload, result.payload, latency)]

    def _on_error(self, error: CallError, text: str | bytes, now: float) -> list[Event]:
        out = self._take_outstanding(error.message_id)
        if out is None:
            return [
                FrameRejected(
                    error.message_id,
                    ErrorCode.PROTOCOL_ERROR,
                    "CALLERROR for no outstanding call",
                    _text(text),
                )
            ]
        self._send_next(now)
        return [
            CallErrorReceived(
                out.message_id,
                out.action,
                error.error_code,
                error.error_description,
                error.error_details,
                now - out.sent_at,
            )
        ]

    # -- sending -------------------------------------------------------------------------
    def _payload_dict(self, payload: msgspec.Struct | dict[str, Any]) -> dict[str, Any]:
        if isinstance(payload, dict):
            return payload
        return v16.encode(payload)

    def send_call(self, action: str, payload: msgspec.Struct | dict[str, Any], now: float) -> str:
        """Queue a CALL and return its message id; raises OcppError if the payload is invalid.

        Only one call is outstanding at a time (OCPP-J 1.6 §4.1.1): a call made while another
        awaits its answer is sent, and its timeout started, once that one is answered or timed out.
        """
        if action not in self._outgoing_actions:
            if action in self._requests:
                raise OcppError(
                    ErrorCode.NOT_SUPPORTED, f"a {self.role.value} does not send {action}"
                )
            raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"{action!r} is not an OCPP 1.6 action")
        data = self._payload_dict(payload)
        self._validator.validate_request(action, data)
        message_id = str(uuid.uuid4())
        call = _Outgoing(message_id, action, serialize(Call(message_id, action, data)))
        self._queue.append(call)
        if self._outstanding is None:
            self._send_next(now)
        return message_id

    def _send_next(self, now: float) -> None:
        if self._outstanding is None and self._queue:
            call = self._queue.popleft()
            call.sent_at = now
            call.deadline = now + self.call_timeout
            self._outstanding = call
            self._outbox.append(call.frame)

    def _answer(self, message_id: str) -> str:
        action = self._unanswered.get(message_id)
        if action is None:
            raise ValueError(f"{message_id!r} is not an unanswered received call")
        return action

    def send_result(self, message_id: str, payload: msgspec.Struct | dict[str, Any]) -> None:
        """Answer received call `message_id`. If the payload breaks the response schema, raise
        OcppError(InternalError) and keep the call unanswered (answer it with send_error)."""
        action = self._answer(message_id)
        data = self._payload_dict(payload)
        try:
            self._validator.validate_response(action, data)
        except OcppError as exc:
            raise OcppError(
                ErrorCode.INTERNAL_ERROR,
                f"invalid {action} result: {exc.description}",
                exc.details,
                message_id=message_id,
            ) from exc
        del self._unanswered[message_id]
        self._outbox.append(serialize(CallResult(message_id, data)))

    def send_error(
        self,
        message_id: str,
        code: ErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Answer received call `message_id` with a CALLERROR."""
        self._answer(message_id)
        del self._unanswered[message_id]
        frame = CallError(
            message_id, ErrorCode(code), description[:MAX_DESCRIPTION_LENGTH], details or {}
        )
        self._outbox.append(serialize(frame))

    # -- time ----------------------------------------------------------------------------
    def check_timeouts(self, now: float) -> list[Event]:
        """Time out the outstanding call if its deadline has passed, and send the next one."""
        events: list[Event] = []
        while self._outstanding is not None and now >= self._outstanding.deadline:
            out = self._outstanding
            self._outstanding = None
            events.append(CallTimedOut(out.message_id, out.action))
            self._send_next(now)
        return events
