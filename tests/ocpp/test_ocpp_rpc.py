"""OCPP-J 1.6 §4: frame parsing and serialisation, and the code each malformed frame earns."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from kilowatt.ocpp import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    MessageType,
    OcppError,
    parse_frame,
    serialize,
)


def test_parse_call_from_the_spec_example() -> None:
    text = '[2, "19223201", "BootNotification", {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}]'
    assert parse_frame(text) == Call(
        "19223201",
        "BootNotification",
        {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"},
    )


def test_parse_callresult_and_callerror() -> None:
    assert parse_frame(b'[3,"19223201",{"currentTime":"2013-02-01T20:53:32.486Z"}]') == CallResult(
        "19223201", {"currentTime": "2013-02-01T20:53:32.486Z"}
    )
    assert parse_frame(
        '[4, "162376037", "NotSupported", "SendLocalList.req not implemented", {}]'
    ) == CallError("162376037", "NotSupported", "SendLocalList.req not implemented", {})


def test_null_payload_reads_as_empty_object() -> None:
    # §4.2.1: "If there is no payload JSON allows for two different notations: null or ... {}"
    assert parse_frame('[2,"1","Heartbeat",null]') == Call("1", "Heartbeat", {})
    assert parse_frame('[3,"1",null]') == CallResult("1", {})


@pytest.mark.parametrize(
    "frame",
    [
        Call("1", "Heartbeat", {}),
        CallResult("2", {"currentTime": "2026-01-01T00:00:00Z"}),
        CallError("3", ErrorCode.GENERIC_ERROR, "boom", {"why": ["x"]}),
    ],
)
def test_serialize_round_trip_is_compact(frame: Call | CallResult | CallError) -> None:
    text = serialize(frame)
    assert " " not in text.replace("boom", "")
    assert parse_frame(text) == frame


def test_serialize_writes_the_spec_shapes() -> None:
    assert serialize(Call("19", "Heartbeat", {})) == '[2,"19","Heartbeat",{}]'
    assert serialize(CallResult("19", {})) == '[3,"19",{}]'
    assert (
        serialize(CallError("19", ErrorCode.NOT_SUPPORTED, "", {}))
        == '[4,"19","NotSupported","",{}]'
    )


def test_serialize_writes_decimal_as_an_exact_json_number() -> None:
    text = serialize(
        CallResult("1", {"limit": Decimal("16.10"), "big": Decimal("12345678901234567.5")})
    )
    assert text == '[3,"1",{"limit":16.10,"big":12345678901234567.5}]'
    with pytest.raises(TypeError):
        serialize(CallResult("1", {"x": Decimal("NaN")}))


def test_error_code_spellings_are_those_of_ocpp_j_16() -> None:
    assert {c.value for c in ErrorCode} == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",  # sic, errata §5.1
        "TypeConstraintViolation",
        "GenericError",
    }
    assert [int(m) for m in MessageType] == [2, 3, 4]


FV, PE = ErrorCode.FORMATION_VIOLATION, ErrorCode.PROTOCOL_ERROR
LONG_ID = "x" * 37


@pytest.mark.parametrize(
    ("text", "code", "message_id", "message_type"),
    [
        # nothing readable: FormationViolation without a message id
        ("not json", FV, None, None),
        (b"\xff\xfe", FV, None, None),
        ('{"a": 1}', FV, None, None),
        ("42", FV, None, None),
        ("[]", FV, None, None),
        ("[2]", FV, None, None),
        ('[2, 19, "Heartbeat", {}]', FV, None, None),
        ('[2, null, "Heartbeat", {}]', FV, None, None),
        # message id readable: unknown message type (§4.1.3)
        ('[5, "a", "Heartbeat", {}]', FV, "a", None),
        ('["2", "a", "Heartbeat", {}]', FV, "a", None),
        ('[2.0, "a", "Heartbeat", {}]', FV, "a", None),
        ('[true, "a", "Heartbeat", {}]', FV, "a", None),
        # message id too long (§4.1.4 Table 3, §4.2.3): not echoed, or our CALLERROR would be
        # malformed itself (regression found by the frame fuzz: unknown type + long id)
        (f'[2, "{LONG_ID}", "Heartbeat", {{}}]', FV, None, MessageType.CALL),
        (f'[0, "{LONG_ID}", "Heartbeat", {{}}]', FV, None, None),
        # wrong element count: incomplete / not the PDU structure -> ProtocolError
        ('[2, "a", "Heartbeat"]', PE, "a", MessageType.CALL),
        ('[2, "a", "Heartbeat", {}, {}]', PE, "a", MessageType.CALL),
        ('[3, "a"]', PE, "a", MessageType.CALLRESULT),
        ('[4, "a", "GenericError", ""]', PE, "a", MessageType.CALLERROR),
        # wrong element types
        ('[2, "a", 7, {}]', FV, "a", MessageType.CALL),
        ('[2, "a", "", {}]', FV, "a", MessageType.CALL),
        ('[2, "a", "Heartbeat", []]', FV, "a", MessageType.CALL),
        ('[2, "a", "Heartbeat", "{}"]', FV, "a", MessageType.CALL),
        ('[3, "a", [1]]', FV, "a", MessageType.CALLRESULT),
        ('[4, "a", 1, "", {}]', FV, "a", MessageType.CALLERROR),
        ('[4, "a", "GenericError", null, {}]', FV, "a", MessageType.CALLERROR),
        ('[4, "a", "GenericError", "", 3]', FV, "a", MessageType.CALLERROR),
    ],
)
def test_malformed_frames(
    text: str | bytes, code: ErrorCode, message_id: str | None, message_type: MessageType | None
) -> None:
    with pytest.raises(OcppError) as info:
        parse_frame(text)
    assert info.value.code is code
    assert info.value.message_id == message_id
    assert info.value.message_type is message_type
    assert info.value.description
    assert info.value.details == {}


def test_message_id_of_exactly_36_chars_is_fine() -> None:
    mid = "x" * 36
    assert parse_frame(orjson.dumps([2, mid, "Heartbeat", {}])) == Call(mid, "Heartbeat", {})
