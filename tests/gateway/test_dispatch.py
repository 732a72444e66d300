"""The 1.6 dispatch table (STYLE.md principle 2): every action a charge point may send is
either handled, or deliberately answered NotSupported by the session."""

from __future__ import annotations

import json

import pytest

from kilowatt.gateway.dispatch_v16 import HANDLERS, SUPPORTED_ACTIONS
from kilowatt.ocpp import v16
from kilowatt.ocpp.session import CallReceived, OcppSession, Role

UNHANDLED = sorted(v16.CHARGE_POINT_TO_CENTRAL_SYSTEM - SUPPORTED_ACTIONS)


def test_every_handled_action_is_one_a_charge_point_sends() -> None:
    assert frozenset(HANDLERS) == SUPPORTED_ACTIONS
    assert SUPPORTED_ACTIONS <= v16.CHARGE_POINT_TO_CENTRAL_SYSTEM


def test_the_security_whitepaper_messages_are_handled() -> None:
    """SecurityEventNotification and SignCertificate (kilowatt.security) are dispatched."""
    assert {"SecurityEventNotification", "SignCertificate"} <= SUPPORTED_ACTIONS


@pytest.mark.parametrize("action", sorted(SUPPORTED_ACTIONS))
def test_a_handled_action_is_never_refused_as_not_supported(action: str) -> None:
    session = OcppSession(Role.CENTRAL_SYSTEM, supported_actions=SUPPORTED_ACTIONS)
    events = session.receive_text(json.dumps([2, "1", action, {}]), now=0.0)
    frames = [json.loads(f) for f in session.frames_to_send()]
    # An empty payload may break the action's schema (a CALLERROR), but never NotSupported.
    assert not any(f[0] == 4 and f[2] == "NotSupported" for f in frames)
    assert frames or isinstance(events[0], CallReceived)


@pytest.mark.parametrize("action", UNHANDLED or ["SignCertificate"])
def test_an_action_missing_from_the_table_is_answered_not_supported(action: str) -> None:
    """Every charge point action may be handled by now: then a table without one shows it."""
    table = SUPPORTED_ACTIONS - {action}
    session = OcppSession(Role.CENTRAL_SYSTEM, supported_actions=table)
    session.receive_text(json.dumps([2, "1", action, {"csr": "x"}]), now=0.0)
    (frame,) = session.frames_to_send()
    assert json.loads(frame)[:3] == [4, "1", "NotSupported"]
