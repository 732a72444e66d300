"""The sans-I/O session: a central system and a charge point joined by a fake link."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import orjson
import pytest
from ocpp_testkit import T0, Link

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
from kilowatt.ocpp.v16 import messages as m
from kilowatt.ocpp.v16.enums import RegistrationStatus, ResetType

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")
BOOT = m.BootNotificationRequest(charge_point_vendor="VendorX", charge_point_model="Single")


def pair(call_timeout: float = 30.0) -> tuple[OcppSession, OcppSession, Link]:
    cs = OcppSession(Role.CENTRAL_SYSTEM, call_timeout=call_timeout)
    cp = OcppSession(Role.CHARGE_POINT, call_timeout=call_timeout)
    return cs, cp, Link(cs, cp)


def only(events: Sequence[object], kind: type[T]) -> T:
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, kind), event
    return event


def sent(session: OcppSession) -> list[list[object]]:
    return [orjson.loads(f) for f in session.frames_to_send()]


# -- the style guide's example ---------------------------------------------------------------
def test_heartbeat_as_in_the_style_guide() -> None:
    server = OcppSession(Role.CENTRAL_SYSTEM)
    call = only(server.receive_text('[2,"19","Heartbeat",{}]', now=T0), CallReceived)
    assert (call.message_id, call.action, call.raw) == ("19", "Heartbeat", {})
    assert isinstance(call.payload, m.HeartbeatRequest)
    server.send_result("19", m.HeartbeatResponse(current_time=datetime(2026, 1, 1, tzinfo=UTC)))
    assert server.frames_to_send() == ['[3,"19",{"currentTime":"2026-01-01T00:00:00Z"}]']
    assert server.frames_to_send() == []


# -- pair of sessions --------------------------------------------------------------------------
def test_boot_notification_then_result() -> None:
    cs, cp, link = pair()
    message_id = cp.send_call("BootNotification", BOOT, now=T0)
    assert cp.outstanding_call == message_id
    assert cp.next_deadline() == T0 + 30.0
    at_cs, at_cp = link.pump(now=T0)
    boot = only(at_cs, CallReceived)
    assert boot.message_id == message_id and boot.payload == BOOT
    assert cs.unanswered_calls == {message_id: "BootNotification"}

    cs.send_result(
        message_id,
        m.BootNotificationResponse(
            status=RegistrationStatus.ACCEPTED, current_time=NOON, interval=300
        ),
    )
    at_cs, at_cp = link.pump(now=T0 + 0.25)
    result = only(at_cp, CallResultReceived)
    assert result.action == "BootNotification"
    assert isinstance(result.payload, m.BootNotificationResponse)
    assert result.payload.status is RegistrationStatus.ACCEPTED
    assert result.payload.current_time == NOON
    assert result.raw == {
        "status": "Accepted",
        "currentTime": "2026-01-01T12:00:00Z",
        "interval": 300,
    }
    assert result.latency == pytest.approx(0.25)
    assert cp.outstanding_call is None and cp.next_deadline() is None
    assert cs.unanswered_calls == {}


def test_second_call_is_queued_until_the_first_is_answered() -> None:
    cs, cp, link = pair()
    first = cp.send_call("BootNotification", BOOT, now=T0)
    second = cp.send_call("Heartbeat", m.HeartbeatRequest(), now=T0 + 1)
    assert cp.outstanding_call == first
    assert cp.pending_calls == (second,)

    at_cs, _ = link.pump(now=T0 + 1)
    assert [e.message_id for e in at_cs if isinstance(e, CallReceived)] == [first]

    cs.send_result(
        first, {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 60}
    )
    at_cs, at_cp = link.pump(now=T0 + 5)
    assert only(at_cp, CallResultReceived).message_id == first
    heartbeat = only(at_cs, CallReceived)
    assert heartbeat.message_id == second and heartbeat.action == "Heartbeat"
    # the queued call's clock starts when it is actually sent
    assert cp.outstanding_call == second and cp.next_deadline() == T0 + 5 + 30
    assert cp.pending_calls == ()


def test_timeout_then_the_next_call_goes_out() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM, call_timeout=10)
    first = cs.send_call("Reset", m.ResetRequest(type=ResetType.SOFT), now=T0)
    second = cs.send_call("ClearCache", {}, now=T0)
    assert cs.frames_to_send() == [f'[2,"{first}","Reset",{{"type":"Soft"}}]']

    assert cs.check_timeouts(now=T0 + 9.99) == []
    assert cs.frames_to_send() == []
    assert cs.check_timeouts(now=T0 + 10) == [CallTimedOut(first, "Reset")]
    assert cs.frames_to_send() == [f'[2,"{second}","ClearCache",{{}}]']
    assert cs.next_deadline() == T0 + 20

    # A late answer to the timed-out call matches nothing: ignored, not answered.
    late = only(
        cs.receive_text(f'[3,"{first}",{{"status":"Accepted"}}]', now=T0 + 11), FrameRejected
    )
    assert late.message_id == first
    assert cs.frames_to_send() == []
    assert cs.outstanding_call == second
    assert cs.check_timeouts(now=T0 + 20) == [CallTimedOut(second, "ClearCache")]
    assert cs.next_deadline() is None


def test_callerror_round_trip() -> None:
    cs, cp, link = pair()
    message_id = cs.send_call("UnlockConnector", m.UnlockConnectorRequest(connector_id=1), now=T0)
    _, at_cp = link.pump(now=T0)
    assert only(at_cp, CallReceived).action == "UnlockConnector"
    cp.send_error(message_id, ErrorCode.GENERIC_ERROR, "motor stuck", {"retry": False})
    at_cs, _ = link.pump(now=T0 + 2)
    error = only(at_cs, CallErrorReceived)
    assert error == CallErrorReceived(
        message_id, "UnlockConnector", "GenericError", "motor stuck", {"retry": False}, 2.0
    )
    assert cs.outstanding_call is None


def test_result_for_unknown_id_is_ignored() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    rejected = only(cs.receive_text('[3,"nobody",{}]', now=T0), FrameRejected)
    assert rejected.message_id == "nobody" and rejected.text == '[3,"nobody",{}]'
    only(cs.receive_text('[4,"nobody","GenericError","",{}]', now=T0), FrameRejected)
    assert cs.frames_to_send() == []


def test_invalid_result_becomes_a_call_error_event_and_is_not_retried() -> None:
    _cs, cp, link = pair()
    first = cp.send_call("Authorize", m.AuthorizeRequest(id_tag="TAG"), now=T0)
    second = cp.send_call("Heartbeat", {}, now=T0)
    link.pump(now=T0)
    events = cp.receive_text(f'[3,"{first}",{{"idTagInfo":{{"status":"Maybe"}}}}]', now=T0 + 1)
    error = only(events, CallErrorReceived)
    assert error.message_id == first and error.action == "Authorize"
    assert error.error_code == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert "idTagInfo.status" in error.description
    assert error.details["source"] == "local" and error.latency == 1.0
    # a result is never answered; the queue moves on to the next call
    assert cp.frames_to_send() == [f'[2,"{second}","Heartbeat",{{}}]']
    assert cp.outstanding_call == second


def test_malformed_response_to_the_outstanding_call_ends_it() -> None:
    cp = OcppSession(Role.CHARGE_POINT)
    first = cp.send_call("Heartbeat", {}, now=T0)
    second = cp.send_call("Heartbeat", {}, now=T0)
    cp.frames_to_send()
    error = only(cp.receive_text(f'[3,"{first}"]', now=T0 + 1), CallErrorReceived)
    assert error.error_code == ErrorCode.PROTOCOL_ERROR
    assert cp.frames_to_send() == [f'[2,"{second}","Heartbeat",{{}}]']


# -- every CALLERROR code from the fault that earns it ---------------------------------------
@pytest.mark.parametrize(
    ("text", "code", "message_id"),
    [
        ("{not json", ErrorCode.FORMATION_VIOLATION, "-1"),
        ('[2, 5, "Heartbeat", {}]', ErrorCode.FORMATION_VIOLATION, "-1"),
        ('[7,"m1","Heartbeat",{}]', ErrorCode.FORMATION_VIOLATION, "m1"),
        ('[2,"m1","Heartbeat"]', ErrorCode.PROTOCOL_ERROR, "m1"),
        ('[2,"m1","Reset",{"type":"Hard"}]', ErrorCode.NOT_SUPPORTED, "m1"),
        ('[2,"m1","Teleport",{}]', ErrorCode.NOT_IMPLEMENTED, "m1"),
        ('[2,"m1","Authorize",{}]', ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "m1"),
        ('[2,"m1","Authorize",{"idTag":42}]', ErrorCode.TYPE_CONSTRAINT_VIOLATION, "m1"),
        (
            '[2,"m1","Authorize",{"idTag":"123456789012345678901"}]',
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            "m1",
        ),
    ],
)
def test_fault_to_callerror(text: str, code: ErrorCode, message_id: str) -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    rejected = only(cs.receive_text(text, now=T0), FrameRejected)
    assert rejected.error_code == code and rejected.message_id == message_id
    assert rejected.text == text
    frames = sent(cs)
    assert len(frames) == 1
    assert frames[0][:3] == [4, message_id, code.value]
    assert isinstance(frames[0][3], str) and frames[0][4] in ({}, frames[0][4])
    assert cs.unanswered_calls == {}


def test_supported_actions_narrow_what_is_accepted() -> None:
    cs = OcppSession(
        Role.CENTRAL_SYSTEM, supported_actions=frozenset({"BootNotification", "Heartbeat"})
    )
    only(cs.receive_text('[2,"a","Heartbeat",{}]', now=T0), CallReceived)
    rejected = only(cs.receive_text('[2,"b","Authorize",{"idTag":"T"}]', now=T0), FrameRejected)
    assert rejected.error_code == ErrorCode.NOT_SUPPORTED
    assert cs.incoming_actions == {"BootNotification", "Heartbeat"}


def test_charge_point_role_accepts_the_reverse_set() -> None:
    cp = OcppSession(Role.CHARGE_POINT)
    only(cp.receive_text('[2,"a","Reset",{"type":"Hard"}]', now=T0), CallReceived)
    only(cp.receive_text('[2,"b","DataTransfer",{"vendorId":"V"}]', now=T0), CallReceived)
    assert only(cp.receive_text('[2,"c","Heartbeat",{}]', now=T0), FrameRejected).error_code == (
        ErrorCode.NOT_SUPPORTED
    )


def test_generic_and_security_errors_via_send_error() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    cs.receive_text('[2,"a","Heartbeat",{}]', now=T0)
    cs.receive_text('[2,"b","Authorize",{"idTag":"T"}]', now=T0)
    cs.send_error("a", ErrorCode.GENERIC_ERROR, "x" * 300)
    cs.send_error("b", ErrorCode.SECURITY_ERROR, "not accepted yet")  # errata §3.10 (5.6)
    a, b = sent(cs)
    assert a[:3] == [4, "a", "GenericError"] and a[3] == "x" * 255 and a[4] == {}
    assert b == [4, "b", "SecurityError", "not accepted yet", {}]


def test_invalid_result_payload_raises_internal_error_and_the_call_stays_open() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    cs.receive_text('[2,"a","Heartbeat",{}]', now=T0)
    with pytest.raises(OcppError) as info:
        cs.send_result("a", {"currentTime": "yesterday"})
    assert info.value.code is ErrorCode.INTERNAL_ERROR
    assert "currentTime" in info.value.description
    assert cs.frames_to_send() == []
    cs.send_error("a", ErrorCode.INTERNAL_ERROR, info.value.description)
    assert sent(cs)[0][:3] == [4, "a", "InternalError"]


def test_replying_to_an_unknown_or_answered_id_raises() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    with pytest.raises(ValueError):
        cs.send_result("nope", {})
    cs.receive_text('[2,"a","Heartbeat",{}]', now=T0)
    cs.send_result("a", {"currentTime": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValueError):
        cs.send_error("a", ErrorCode.GENERIC_ERROR)


def test_invalid_outgoing_call_raises_and_sends_nothing() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    with pytest.raises(OcppError) as info:
        cs.send_call("Reset", {"type": "Medium"}, now=T0)
    assert info.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    with pytest.raises(OcppError) as info:
        cs.send_call("BootNotification", BOOT, now=T0)  # a charge point's call
    assert info.value.code is ErrorCode.NOT_SUPPORTED
    with pytest.raises(OcppError) as info:
        cs.send_call("Teleport", {}, now=T0)
    assert info.value.code is ErrorCode.NOT_IMPLEMENTED
    assert cs.frames_to_send() == [] and cs.outstanding_call is None


def test_duplicate_of_an_unanswered_call_is_ignored() -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    only(cs.receive_text('[2,"a","Heartbeat",{}]', now=T0), CallReceived)
    only(cs.receive_text('[2,"a","Heartbeat",{}]', now=T0 + 1), FrameRejected)
    assert cs.frames_to_send() == []
    cs.send_result("a", {"currentTime": "2026-01-01T00:00:00Z"})
    # once answered, the id may be used again (a retry after a lost answer)
    only(cs.receive_text('[2,"a","Heartbeat",{}]', now=T0 + 2), CallReceived)


def test_message_ids_are_unique_uuids() -> None:
    cp = OcppSession(Role.CHARGE_POINT)
    ids = {cp.send_call("Heartbeat", {}, now=T0) for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 36 for i in ids)


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        OcppSession(Role.CENTRAL_SYSTEM, version="2.0.1")
    with pytest.raises(ValueError):
        OcppSession(Role.CENTRAL_SYSTEM, validator=SchemaValidator("2.0.1"))
    shared = SchemaValidator()
    assert OcppSession("charge_point", validator=shared).role is Role.CHARGE_POINT


def test_regression_integral_float_in_a_draft06_schema_is_a_type_violation() -> None:
    # The security-whitepaper schemas are draft-06, where 5.0 counts as an integer; the typed
    # payload (and every draft-04 1.6 schema) does not. Found by the fuzz: was InternalError.
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    for value in ("5.0", "1e300"):
        text = f'[2,"a","LogStatusNotification",{{"status":"Idle","requestId":{value}}}]'
        rejected = only(cs.receive_text(text, now=T0), FrameRejected)
        assert rejected.error_code == ErrorCode.TYPE_CONSTRAINT_VIOLATION
        assert "requestId" in rejected.description
