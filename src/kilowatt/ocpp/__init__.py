"""Kilowatt's OCPP-J protocol core: frames, schema validation, typed messages, the session.

Protocol only: no I/O, no clock, nothing else from kilowatt. See docs/ocpp-core.md.
"""

from .rpc import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    Frame,
    MessageType,
    OcppError,
    parse_frame,
    serialize,
)
from .session import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    Event,
    FrameRejected,
    OcppSession,
    Role,
)
from .validation import SchemaValidator

__all__ = [
    "Call",
    "CallError",
    "CallErrorReceived",
    "CallReceived",
    "CallResult",
    "CallResultReceived",
    "CallTimedOut",
    "ErrorCode",
    "Event",
    "Frame",
    "FrameRejected",
    "MessageType",
    "OcppError",
    "OcppSession",
    "Role",
    "SchemaValidator",
    "parse_frame",
    "serialize",
]
