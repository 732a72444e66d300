"""Property-based fuzz: whatever arrives, a central-system session never raises, answers each
faulty CALL with exactly one CALLERROR, never answers a response frame, and keeps working."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp_testkit import T0, example_payload

from kilowatt.ocpp import (
    Call,
    CallError,
    CallReceived,
    ErrorCode,
    FrameRejected,
    MessageType,
    OcppError,
    OcppSession,
    Role,
    parse_frame,
)
from kilowatt.ocpp.v16 import CHARGE_POINT_TO_CENTRAL_SYSTEM, REQUESTS

CODES = {c.value for c in ErrorCode}
CS_ACTIONS = sorted(CHARGE_POINT_TO_CENTRAL_SYSTEM)

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
message_ids = st.text(max_size=40) | st.integers() | st.none()
actions = st.sampled_from([*sorted(REQUESTS), "Teleport", "", "heartbeat"]) | st.text(max_size=20)
message_types = st.sampled_from([2, 3, 4]) | st.integers(-3, 9) | json_scalars


def _dumps(value: Any) -> str:
    return json.dumps(value)


@st.composite
def wrong_shapes(draw: st.DrawFn) -> str:
    head = [draw(message_types), draw(message_ids)]
    tail = draw(st.lists(actions | json_values, max_size=5))
    return _dumps((head + tail)[: draw(st.integers(0, 7))])


@st.composite
def mutated_calls(draw: st.DrawFn) -> str:
    action = draw(st.sampled_from(CS_ACTIONS))
    payload = example_payload(action, full=draw(st.booleans()))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "set", "add", "nest", "replace"]))
        keys = sorted(payload)
        if how == "drop" and keys:
            payload.pop(draw(st.sampled_from(keys)))
        elif how == "set" and keys:
            payload[draw(st.sampled_from(keys))] = draw(json_values)
        elif how == "add":
            payload[draw(st.text(max_size=12))] = draw(json_values)
        elif how == "nest" and keys:
            key = draw(st.sampled_from(keys))
            inner = payload[key]
            if isinstance(inner, list) and inner and isinstance(inner[0], dict) and inner[0]:
                inner[0][draw(st.sampled_from(sorted(inner[0])))] = draw(json_values)
        elif how == "replace":
            return _dumps([2, draw(st.text(max_size=36)), action, draw(json_values)])
    return _dumps([2, draw(st.text(max_size=36)), action, payload])


def _as_text(raw: bytes) -> str | bytes:
    return raw


frames = (
    st.binary(max_size=200).map(_as_text)
    | st.text(max_size=200)
    | json_values.map(_dumps)
    | wrong_shapes()
    | mutated_calls()
)


def expected_reply(text: str | bytes) -> bool | None:
    """True: the spec wants a CALLERROR; False: no reply; None: a valid CALL (may be accepted)."""
    try:
        frame = parse_frame(text)
    except OcppError as exc:
        return exc.message_type not in (MessageType.CALLRESULT, MessageType.CALLERROR)
    return None if isinstance(frame, Call) else False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, min_size=1, max_size=8))
def test_malformed_frames_never_break_a_central_system_session(texts: list[str | bytes]) -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    for i, text in enumerate(texts):
        events = cs.receive_text(text, now=T0 + i)
        out = cs.frames_to_send()
        assert len(events) == 1
        event = events[0]
        wants_reply = expected_reply(text)
        if isinstance(event, CallReceived):
            assert wants_reply is None and out == []
            # answer it, so ids the fuzz reuses are not duplicates of an open call
            cs.send_error(event.message_id, ErrorCode.GENERIC_ERROR, "fuzz")
            cs.frames_to_send()
            continue
        assert isinstance(event, FrameRejected)
        assert event.error_code in CODES
        if wants_reply is False:
            assert out == []  # a response frame is never answered (OCPP-J 1.6 §4.2.3)
            continue
        assert len(out) == 1, (text, out)
        reply = parse_frame(out[0])  # our own CALLERROR is itself a well-formed frame
        assert isinstance(reply, CallError)
        assert reply.message_id == event.message_id
        assert reply.error_code == event.error_code
        assert len(reply.error_description) <= 255
    assert cs.unanswered_calls == {}

    # ... and the session still works
    heartbeat = cs.receive_text('[2,"x","Heartbeat",{}]', now=T0 + 100)
    assert len(heartbeat) == 1 and isinstance(heartbeat[0], CallReceived)
    cs.send_result("x", {"currentTime": "2026-01-01T00:00:00Z"})
    assert cs.frames_to_send() == ['[3,"x",{"currentTime":"2026-01-01T00:00:00Z"}]']


@settings(max_examples=200, deadline=None)
@given(mutated_calls())
def test_mutated_payloads_get_a_schema_code_or_pass(text: str) -> None:
    cs = OcppSession(Role.CENTRAL_SYSTEM)
    (event,) = cs.receive_text(text, now=T0)
    if isinstance(event, FrameRejected):
        assert event.error_code in {
            ErrorCode.FORMATION_VIOLATION,  # the payload replaced by a non-object
            ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        }, event
    else:
        assert isinstance(event, CallReceived)
