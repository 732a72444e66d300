"""OCPP 1.6: typed payloads, who may send which action, and dict <-> Struct conversion."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from ..rpc import ErrorCode, OcppError
from . import enums, messages
from .messages import REQUESTS, RESPONSES, OcppStruct

__all__ = [
    "CENTRAL_SYSTEM_TO_CHARGE_POINT",
    "CHARGE_POINT_TO_CENTRAL_SYSTEM",
    "REQUESTS",
    "RESPONSES",
    "OcppStruct",
    "decode_request",
    "decode_response",
    "encode",
    "enums",
    "messages",
]

#: Actions a Charge Point sends (CALLs a Central System receives): OCPP 1.6 §4 "Operations
#: initiated by Charge Point", plus the security whitepaper (edition 3) §2-§4 messages.
CHARGE_POINT_TO_CENTRAL_SYSTEM: frozenset[str] = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        # security whitepaper
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)

#: Actions a Central System sends (CALLs a Charge Point receives): OCPP 1.6 §5 "Operations
#: initiated by Central System", plus the security whitepaper. DataTransfer is the one action
#: both sides may initiate (OCPP 1.6 §4.3 and §5.6).
CENTRAL_SYSTEM_TO_CHARGE_POINT: frozenset[str] = frozenset(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
        # security whitepaper
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)


def _error_from_msgspec(action: str, kind: str, exc: msgspec.ValidationError) -> OcppError:
    # Only reached for payloads that skipped schema validation (or a schema/struct mismatch).
    text = str(exc)
    if text.startswith("Object missing required field"):
        code = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    elif text.startswith("Expected `"):
        code = ErrorCode.TYPE_CONSTRAINT_VIOLATION
    else:
        code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    return OcppError(code, f"{action}.{kind}: {text}")


def _decode(
    table: dict[str, type[OcppStruct]], action: str, payload: dict[str, Any], kind: str
) -> OcppStruct:
    cls = table.get(action)
    if cls is None:
        raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"unknown OCPP 1.6 action {action!r}")
    try:
        return msgspec.convert(payload, cls)
    except msgspec.ValidationError as exc:
        raise _error_from_msgspec(action, kind, exc) from None


def decode_request(action: str, payload: dict[str, Any]) -> OcppStruct:
    """The typed `<Action>Request` for a (schema-valid) payload dict; OcppError if it isn't one.

    Numbers become Decimal, date-times timezone-aware UTC datetimes, enums their StrEnum.
    """
    return _decode(REQUESTS, action, payload, "req")


def decode_response(action: str, payload: dict[str, Any]) -> OcppStruct:
    """The typed `<Action>Response` for a (schema-valid) payload dict; OcppError if it isn't one."""
    return _decode(RESPONSES, action, payload, "conf")


def _numbers(value: Any) -> Any:
    # Decimal -> JSON number: int when integral, else float (OCPP 1.6 decimals carry at most
    # one fractional digit, far inside float's exact range).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _leaves(tp: Any) -> list[Any]:
    args = getattr(tp, "__args__", None)
    if not args:
        return [tp]
    return [leaf for arg in args for leaf in _leaves(arg)]


def _has_decimal(cls: type[msgspec.Struct]) -> bool:
    for field in msgspec.structs.fields(cls):
        for leaf in _leaves(field.type):
            if leaf is Decimal:
                return True
            if isinstance(leaf, type) and issubclass(leaf, msgspec.Struct) and _has_decimal(leaf):
                return True
    return False


# Payload types that can hold a Decimal anywhere inside (a handful of smart-charging messages):
# only those pay for the walk in encode().
_WITH_DECIMALS: frozenset[type[msgspec.Struct]] = frozenset(
    cls for cls in (*REQUESTS.values(), *RESPONSES.values()) if _has_decimal(cls)
)


def encode(struct: msgspec.Struct) -> dict[str, Any]:
    """A payload dict for the wire: camelCase keys, datetimes ISO-8601 with "Z", Decimals as
    JSON numbers, None and defaults left out."""
    data: dict[str, Any] = msgspec.to_builtins(struct, builtin_types=(Decimal,))
    if type(struct) in _WITH_DECIMALS:
        result: dict[str, Any] = _numbers(data)
        return result
    return data
