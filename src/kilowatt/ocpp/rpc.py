"""OCPP-J RPC frames: CALL / CALLRESULT / CALLERROR, parse and serialise, error codes.

Everything here follows OCPP-J 1.6 §4 ("RPC framework"); where 1.6 is silent we follow
the OCPP-J 2.0.1 text (edition 3, part 4), which states what 1.6 implementations do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import orjson

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MESSAGE_ID_LENGTH",
    "UNREADABLE_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "ErrorCode",
    "Frame",
    "MessageType",
    "OcppError",
    "parse_frame",
    "serialize",
]

#: OCPP-J 1.6 §4.1.4, Table 3: "Maximum of 36 characters".
MAX_MESSAGE_ID_LENGTH = 36
#: OCPP-J 2.0.1 part 4 §4.2.3: "When also the MessageId cannot be read, the CALLERROR SHALL
#: contain "-1" as MessageId." (1.6 does not say; this is what its successor made explicit.)
UNREADABLE_MESSAGE_ID = "-1"
#: OCPP-J 2.0.1 part 4 Table 7 caps ErrorDescription at 255 characters; we keep to it in 1.6 too.
MAX_DESCRIPTION_LENGTH = 255


class MessageType(IntEnum):
    """Message Type Numbers, OCPP-J 1.6 §4.1.3 Table 2."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


class ErrorCode(StrEnum):
    """CALLERROR error codes, OCPP-J 1.6 §4.2.3 Table 7 (with the 1.6 spellings kept)."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    # Misspelt on purpose: OCPP-J 1.6 errata §5.1 "Do not fix, ... might break implementations".
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


@dataclass(frozen=True, slots=True)
class Call:
    """`[2, "<messageId>", "<action>", {<payload>}]` (OCPP-J 1.6 §4.2.1)."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """`[3, "<messageId>", {<payload>}]` (OCPP-J 1.6 §4.2.2)."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """`[4, "<messageId>", "<errorCode>", "<errorDescription>", {<errorDetails>}]` (§4.2.3)."""

    message_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any]


Frame = Call | CallResult | CallError


class OcppError(Exception):
    """A fault that maps onto an OCPP-J CALLERROR.

    `message_id` is the id of the offending frame when it could be read, else None.
    `message_type` is the frame's message type when it could be read (a session only answers
    faulty CALLs, or frames of unknown type, with a CALLERROR; never faulty responses).
    """

    def __init__(
        self,
        code: ErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
        *,
        message_id: str | None = None,
        message_type: MessageType | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}" if description else str(code))
        self.code = code
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}
        self.message_id = message_id
        self.message_type = message_type


_ELEMENTS = {MessageType.CALL: 4, MessageType.CALLRESULT: 3, MessageType.CALLERROR: 5}
_TYPES = {2: MessageType.CALL, 3: MessageType.CALLRESULT, 4: MessageType.CALLERROR}


def _payload(value: Any) -> dict[str, Any] | None:
    # §4.2.1/§4.2.2: "If there is no payload JSON allows for two different notations: null or
    # an empty object {}" -- so null is accepted and read as {}.
    if type(value) is dict:
        return value
    if value is None:
        return {}
    return None


def parse_frame(text: str | bytes) -> Frame:
    """Decode one OCPP-J frame; raise OcppError (see docs/ocpp-core.md for the code table).

    Codes: FormationViolation for anything syntactically wrong (not JSON, not an array, an
    element of the wrong JSON type, an unknown message type, a message id over 36 chars);
    ProtocolError for a frame of a known type with the wrong number of elements ("incomplete",
    Table 7; "not conform the PDU structure" in OCPP-J 2.0.1 Table 8).
    """
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise OcppError(ErrorCode.FORMATION_VIOLATION, f"not valid JSON: {exc}") from None
    if type(msg) is not list:
        raise OcppError(ErrorCode.FORMATION_VIOLATION, "frame is not a JSON array")
    n = len(msg)
    message_id = msg[1] if n >= 2 else None
    if type(message_id) is not str:
        # No message id could be read: the caller answers with UNREADABLE_MESSAGE_ID.
        raise OcppError(ErrorCode.FORMATION_VIOLATION, "frame has no string message id")
    raw_type = msg[0]
    mtype = _TYPES.get(raw_type) if type(raw_type) is int else None
    if mtype is None:
        # §4.1.3: a Message Type Number not in Table 2 -> the payload is ignored; we still
        # answer, as OCPP-J 2.0.1 does with MessageTypeNotSupported.
        raise OcppError(
            ErrorCode.FORMATION_VIOLATION,
            f"unknown message type {raw_type!r}",
            # An id too long to echo in a well-formed CALLERROR reads as unreadable.
            message_id=message_id if len(message_id) <= MAX_MESSAGE_ID_LENGTH else None,
        )
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        # §4.2.3 lists "unique identifier too long" as a reason for a CallError; echoing the
        # id would make our CALLERROR malformed itself, so it answers the unreadable id.
        raise OcppError(
            ErrorCode.FORMATION_VIOLATION,
            f"message id longer than {MAX_MESSAGE_ID_LENGTH} characters",
            message_type=mtype,
        )
    if n != _ELEMENTS[mtype]:
        raise OcppError(
            ErrorCode.PROTOCOL_ERROR,
            f"{mtype.name} frame must have {_ELEMENTS[mtype]} elements, got {n}",
            message_id=message_id,
            message_type=mtype,
        )
    if mtype is MessageType.CALL:
        action = msg[2]
        payload = _payload(msg[3])
        if type(action) is not str or not action:
            raise OcppError(
                ErrorCode.FORMATION_VIOLATION,
                "action must be a non-empty string",
                message_id=message_id,
                message_type=mtype,
            )
        if payload is None:
            raise OcppError(
                ErrorCode.FORMATION_VIOLATION,
                "payload must be a JSON object",
                message_id=message_id,
                message_type=mtype,
            )
        return Call(message_id, action, payload)
    if mtype is MessageType.CALLRESULT:
        payload = _payload(msg[2])
        if payload is None:
            raise OcppError(
                ErrorCode.FORMATION_VIOLATION,
                "payload must be a JSON object",
                message_id=message_id,
                message_type=mtype,
            )
        return CallResult(message_id, payload)
    code, description, details = msg[2], msg[3], _payload(msg[4])
    if type(code) is not str or type(description) is not str or details is None:
        raise OcppError(
            ErrorCode.FORMATION_VIOLATION,
            "CALLERROR needs string errorCode and errorDescription and an object errorDetails",
            message_id=message_id,
            message_type=mtype,
        )
    return CallError(message_id, code, description, details)


def _default(obj: Any) -> Any:
    # Decimal is a JSON number on the wire, written exactly as held (never via float).
    if isinstance(obj, Decimal) and obj.is_finite():
        return orjson.Fragment(str(obj))
    raise TypeError(f"cannot serialise {type(obj).__name__} in an OCPP payload")


def serialize(frame: Frame) -> str:
    """Encode one frame as compact JSON text."""
    if type(frame) is Call:
        data: list[Any] = [MessageType.CALL, frame.message_id, frame.action, frame.payload]
    elif type(frame) is CallResult:
        data = [MessageType.CALLRESULT, frame.message_id, frame.payload]
    elif type(frame) is CallError:
        data = [
            MessageType.CALLERROR,
            frame.message_id,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        ]
    else:
        raise TypeError(f"not an OCPP frame: {frame!r}")
    return orjson.dumps(data, default=_default).decode()
