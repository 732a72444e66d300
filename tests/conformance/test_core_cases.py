"""OCPP 1.6 CSMS conformance, Core profile: the OCTT cases that had no test named after them.

Each test follows the steps of its OCTT case (CompliancyTestTool-TestCaseDocument, Section 3;
summaries in shared/spec/ocpp16-csms-test-cases.md). The OCTT plays the Charge Point: here the
``ocpp`` library's ChargePoint (tests/support/ocpp_client.py) against a real node, scripted to give
the answer the case needs. Where the case has the CSMS send a command, the operator asks for it
through the API (the OCTT's "manual action"), and the test checks what the CSMS makes of the
answer: the command's durable record, the session, the transaction, the station's state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from kilowatt.stations import repository as stations
from kilowatt.transactions.models import Transaction

from support.ocpp_client import LibChargePoint, lib_charge_point
from support.server import RunningServer
from support.steps import add_token, boot, command, get_json, now_iso, status

pytestmark = pytest.mark.asyncio


async def _operator_starts_session(
    server: RunningServer, cp_id: str, id_tag: str, connector: int = 1
) -> tuple[int, dict[str, Any]]:
    """The operator's remote start (POST /api/v1/sessions): the HTTP status and the session."""
    async with server.api() as api:
        response = await api.post(
            "/api/v1/sessions",
            json={"station": cp_id, "connector_number": connector, "id_tag": id_tag},
        )
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def _command_log(server: RunningServer, cp_id: str) -> list[dict[str, Any]]:
    page = await get_json(server, f"/api/v1/stations/{cp_id}/commands?limit=50")
    items: list[dict[str, Any]] = page["items"]
    return items


async def _transactions(server: RunningServer, cp_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get_json(server, f"/api/v1/transactions?station={cp_id}"))[
        "items"
    ]
    return items


async def _refused_command(
    server: RunningServer,
    cp: LibChargePoint,
    cp_id: str,
    action: str,
    payload: dict[str, Any],
    answer: str,
) -> dict[str, Any]:
    """Send ``action`` through the operator API with the charge point scripted to answer
    ``answer``; check what reached the charge point and that the command recorded the answer."""
    cp.answers[action] = answer
    result: dict[str, Any] = await command(server, cp_id, action, payload)
    received_action, _ = await cp.next_command()
    assert received_action == action
    assert (result["state"], result["outcome"]) == ("completed", answer)
    assert result["response"]["status"] == answer
    assert result["request"] == payload
    stored = await get_json(server, f"/api/v1/commands/{result['id']}")
    assert (stored["state"], stored["outcome"], stored["completed_at"] is not None) == (
        "completed",
        answer,
        True,
    )
    return result


# ---- 3.2 / 3.3 Regular charging sessions -------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param({"expiry_date": datetime(2020, 1, 1, tzinfo=UTC)}, "Expired", id="expired"),
        pytest.param({"status": "Blocked"}, "Blocked", id="blocked"),
    ],
)
async def test_start_transaction_with_an_expired_or_blocked_tag_keeps_its_status(
    server: RunningServer, token: dict[str, Any], expected: str
) -> None:
    """Beyond TC_023_2 / TC_023_3: Authorize.conf carries the token's status, and a
    StartTransaction the charger sends anyway (e.g. from its cache) gets a transactionId with
    the same status (OCPP 1.6 §5.13/§4.8), so the charger can stop it as DeAuthorized."""
    await add_token(server, "TAG-023X", **token)
    async with lib_charge_point(server.ws_url("CP023X"), "CP023X") as cp:
        await boot(cp)
        auth = await cp.call(call.Authorize(id_tag="TAG-023X"))
        assert auth.id_tag_info["status"] == expected
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-023X", meter_start=0, timestamp=now_iso()
            )
        )
    assert start.id_tag_info["status"] == expected and start.transaction_id > 0
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["start_auth_status"] == expected


async def test_tc_023_2_start_charging_session_authorize_expired(server: RunningServer) -> None:
    """TC_023_2: the expired tag's Authorize.conf is Expired, never Accepted (OCPP 1.6 §7.2)."""
    await add_token(server, "TAG-EXP", expiry_date=datetime.now(UTC) - timedelta(seconds=1))
    async with lib_charge_point(server.ws_url("CP0232"), "CP0232") as cp:
        await boot(cp)
        await status(cp, 1, "Preparing")
        auth = await cp.call(call.Authorize(id_tag="TAG-EXP"))
        await status(cp, 1, "Available")
    assert auth.id_tag_info["status"] == "Expired"
    assert await _transactions(server, "CP0232") == []


async def test_tc_023_3_start_charging_session_authorize_blocked(server: RunningServer) -> None:
    """TC_023_3: the blocked tag's Authorize.conf is Blocked."""
    await add_token(server, "TAG-BLK", status="Blocked")
    async with lib_charge_point(server.ws_url("CP0233"), "CP0233") as cp:
        await boot(cp)
        await status(cp, 1, "Preparing")
        auth = await cp.call(call.Authorize(id_tag="TAG-BLK"))
        await status(cp, 1, "Available")
    assert auth.id_tag_info["status"] == "Blocked"
    assert await _transactions(server, "CP0233") == []


# ---- 3.4 Remote actions, happy flow ------------------------------------------------------------


async def test_tc_011_2_remote_start_charging_session_time_out(server: RunningServer) -> None:
    """TC_011_2: the operator remote-starts, the charger accepts, authorizes and goes Preparing,
    and no cable arrives: after its ConnectionTimeOut the connector is Available again (OCPP 1.6
    §9.1.6 ConnectionTimeOut). The CSMS ends the pending session there, without a transaction."""
    await add_token(server, "TAG-0112")
    async with lib_charge_point(server.ws_url("CP0112"), "CP0112") as cp:
        await boot(cp)
        # 1-2. RemoteStartTransaction.req / .conf Accepted
        code, session = await _operator_starts_session(server, "CP0112", "TAG-0112")
        assert code == 201, session
        assert (session["state"], session["ocppStartStatus"]) == ("pending", "Accepted")
        action, fields = await cp.next_command()
        assert (action, fields) == (
            "RemoteStartTransaction",
            {"id_tag": "TAG-0112", "connector_id": 1},
        )
        # 3-4. Authorize.req / .conf Accepted
        auth = await cp.call(call.Authorize(id_tag="TAG-0112"))
        assert auth.id_tag_info["status"] == "Accepted"
        # 5-6. StatusNotification Preparing; [connection timeout]; 7-8. Available
        await status(cp, 1, "Preparing")
        await status(cp, 1, "Available")
        ended = await get_json(server, f"/api/v1/sessions/{session['sessionId']}")
        station = await get_json(server, "/api/v1/stations/CP0112")
    assert station["connectors"][1]["status"] == "Available"
    assert await _transactions(server, "CP0112") == []
    assert ended["state"] == "expired" and ended["transactionId"] is None
    assert "ConnectionTimeOut" in ended["failureReason"]
    # The connector is free for the next driver at once (no stale pending session blocks it).
    async with lib_charge_point(server.ws_url("CP0112"), "CP0112") as cp:
        await boot(cp)
        code, again = await _operator_starts_session(server, "CP0112", "TAG-0112")
    assert (code, again["state"]) == (201, "pending")


async def test_connection_timeout_ends_only_the_start_waiting_on_that_connector(
    server: RunningServer,
) -> None:
    """Only Preparing → Available on the session's own connector ends it (TC_011_2's rule): a
    start waiting on another connector, or a connector that reports Available again without
    having been Preparing, keeps its pending session."""
    await add_token(server, "TAG-CT1")
    await add_token(server, "TAG-CT2")
    async with lib_charge_point(server.ws_url("CPCT"), "CPCT") as cp:
        await boot(cp)
        _, first = await _operator_starts_session(server, "CPCT", "TAG-CT1", connector=1)
        _, second = await _operator_starts_session(server, "CPCT", "TAG-CT2", connector=2)
        await status(cp, 2, "Available")  # a repeated Available: no cancelled start
        await status(cp, 1, "Preparing")
        await status(cp, 1, "Available")
        first_now = await get_json(server, f"/api/v1/sessions/{first['sessionId']}")
        second_now = await get_json(server, f"/api/v1/sessions/{second['sessionId']}")
        # The start still waiting on connector 2 goes ahead as usual.
        await status(cp, 2, "Preparing")
        start = await cp.call(
            call.StartTransaction(
                connector_id=2, id_tag="TAG-CT2", meter_start=0, timestamp=now_iso()
            )
        )
        await status(cp, 2, "Charging")
        second_later = await get_json(server, f"/api/v1/sessions/{second['sessionId']}")
    assert (first_now["state"], second_now["state"]) == ("expired", "pending")
    assert (second_later["state"], second_later["transactionId"]) == (
        "active",
        start.transaction_id,
    )


# ---- 3.5 Resetting -----------------------------------------------------------------------------


async def test_tc_014_soft_reset(server: RunningServer) -> None:
    """TC_014: Reset.req type Soft; the charger accepts, reboots, boots again (Accepted) and
    reports each connector, connectorId 0 included, as Available."""
    async with lib_charge_point(server.ws_url("CP014"), "CP014") as cp:
        await boot(cp)
        result = await command(server, "CP014", "Reset", {"type": "Soft"})
        assert await cp.next_command() == ("Reset", {"type": "Soft"})
    assert (result["state"], result["outcome"]) == ("completed", "Accepted")
    async with lib_charge_point(server.ws_url("CP014"), "CP014") as cp:
        reboot = await cp.call(
            call.BootNotification(charge_point_model="Model-X", charge_point_vendor="VendorY")
        )
        assert reboot.status == "Accepted" and reboot.interval > 0
        for connector_id in (0, 1, 2):
            await status(cp, connector_id, "Available")
        station = await get_json(server, "/api/v1/stations/CP014")
        messages = await get_json(server, "/api/v1/stations/CP014/messages?limit=1000")
    boots = [m for m in messages if m["action"] == "BootNotification" and m["direction"] == "in"]
    assert len(boots) == 2
    assert station["online"] is True
    assert [c["status"] for c in station["connectors"]] == ["Available"] * 3


# ---- 3.6 / 3.10 Unlocking ----------------------------------------------------------------------


async def test_tc_017_1_unlock_connector_no_charging_session_not_fixed_cable(
    server: RunningServer,
) -> None:
    """TC_017_1: UnlockConnector.req with no transaction running; the charger answers Unlocked,
    and no transaction is touched."""
    async with lib_charge_point(server.ws_url("CP0171"), "CP0171") as cp:
        await boot(cp)
        result = await _refused_command(
            server, cp, "CP0171", "UnlockConnector", {"connectorId": 1}, "Unlocked"
        )
    assert await _transactions(server, "CP0171") == []
    assert [c["id"] for c in await _command_log(server, "CP0171")] == [result["id"]]


async def test_tc_017_2_unlock_connector_no_charging_session_fixed_cable(
    server: RunningServer,
) -> None:
    """TC_017_2: a fixed-cable charger answers NotSupported; the CSMS records it, and whoever
    asks to unlock through the connector API is told the cable is fixed (a 4xx, not a 5xx)."""
    async with lib_charge_point(server.ws_url("CP0172"), "CP0172") as cp:
        await boot(cp)
        await _refused_command(
            server, cp, "CP0172", "UnlockConnector", {"connectorId": 1}, "NotSupported"
        )
        async with server.node.sessions() as db:
            station = await stations.by_charge_point_id(db, "CP0172")
        assert station is not None
        evse = f"{server.node.settings.evse_operator_id}*E{station.id}*1"
        async with server.api() as api:
            unlock = await api.post(f"/api/v1/connectors/{evse}/unlock")
        assert await cp.next_command() == ("UnlockConnector", {"connector_id": 1})
    assert unlock.status_code == 422, unlock.text
    assert unlock.json()["status"] == "NotSupported"
    assert "fixed" in unlock.json()["message"]


async def test_tc_030_unlock_connector_unlock_failure(server: RunningServer) -> None:
    """TC_030: the charger answers UnlockFailed; recorded as such, the station stays usable."""
    async with lib_charge_point(server.ws_url("CP030"), "CP030") as cp:
        await boot(cp)
        await _refused_command(
            server, cp, "CP030", "UnlockConnector", {"connectorId": 1}, "UnlockFailed"
        )
        # Still connected and answering: the next command goes through.
        again = await command(server, "CP030", "UnlockConnector", {"connectorId": 1})
        assert again["outcome"] == "UnlockFailed"
    station = await get_json(server, "/api/v1/stations/CP030")
    assert station["connectors"][1]["status"] == "Available"


async def test_tc_031_unlock_connector_unknown_connector(server: RunningServer) -> None:
    """TC_031: the CSMS sends UnlockConnector for a connector the charger does not have (it
    does not second-guess the charger) and records its NotSupported."""
    async with lib_charge_point(server.ws_url("CP031"), "CP031") as cp:
        await boot(cp)
        result = await _refused_command(
            server, cp, "CP031", "UnlockConnector", {"connectorId": 9}, "NotSupported"
        )
    assert result["request"] == {"connectorId": 9}
    station = await get_json(server, "/api/v1/stations/CP031")
    assert [c["connector_id"] for c in station["connectors"]] == [0, 1, 2]


# ---- 3.9 Remote actions, non-happy flow --------------------------------------------------------


async def test_tc_026_remote_start_charging_session_rejected(server: RunningServer) -> None:
    """TC_026: the operator remote-starts and the charger answers Rejected: the session fails
    with that status (not left pending), no transaction exists, and the connector is free."""
    await add_token(server, "TAG-026")
    async with lib_charge_point(server.ws_url("CP026"), "CP026") as cp:
        await boot(cp)
        cp.answers["RemoteStartTransaction"] = "Rejected"
        code, session = await _operator_starts_session(server, "CP026", "TAG-026")
        assert await cp.next_command() == (
            "RemoteStartTransaction",
            {"id_tag": "TAG-026", "connector_id": 1},
        )
        cp.answers["RemoteStartTransaction"] = "Accepted"
        code_again, again = await _operator_starts_session(server, "CP026", "TAG-026")
    assert code == 409, session
    assert (session["state"], session["ocppStartStatus"]) == ("failed", "Rejected")
    assert session["failureReason"]
    log = await _command_log(server, "CP026")
    rejected = [c for c in log if c["outcome"] == "Rejected"]
    assert [c["action"] for c in rejected] == ["RemoteStartTransaction"]
    assert await _transactions(server, "CP026") == []
    assert (code_again, again["state"]) == (201, "pending")


async def test_tc_028_remote_stop_transaction_rejected(server: RunningServer) -> None:
    """TC_028: with a transaction running (reusable state Charging), the CSMS sends a remote
    stop for a transactionId the charger does not know; the charger answers Rejected. The
    command records it and the running transaction stays open."""
    await add_token(server, "TAG-028")
    async with lib_charge_point(server.ws_url("CP028"), "CP028") as cp:
        await boot(cp)
        await cp.call(call.Authorize(id_tag="TAG-028"))
        await status(cp, 1, "Preparing")
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-028", meter_start=0, timestamp=now_iso()
            )
        )
        await status(cp, 1, "Charging")
        unknown = start.transaction_id + 1000
        await _refused_command(
            server, cp, "CP028", "RemoteStopTransaction", {"transactionId": unknown}, "Rejected"
        )
        running = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert running["state"] == "running" and running["stop_reason"] is None
    async with server.node.sessions() as db:
        assert await db.get(Transaction, unknown) is None


# ---- 3.12 Offline behaviour ---------------------------------------------------------------------


async def test_tc_037_1_offline_start_transaction_valid_id_tag(server: RunningServer) -> None:
    """TC_037_1: after connectivity returns, the queued StartTransaction (valid idTag, started
    while offline) is Accepted and keeps its own start time; the Charging status follows."""
    await add_token(server, "TAG-0371")
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    async with lib_charge_point(server.ws_url("CP0371"), "CP0371") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="TAG-0371",
                meter_start=1234,
                timestamp=started.isoformat(),
            )
        )
        assert start.id_tag_info["status"] == "Accepted" and start.transaction_id > 0
        await status(cp, 1, "Charging")
        station = await get_json(server, "/api/v1/stations/CP0371")
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert datetime.fromisoformat(tx["start_timestamp"]) == started
    assert (tx["state"], tx["meter_start_wh"], tx["start_auth_status"]) == (
        "running",
        1234,
        "Accepted",
    )
    assert station["connectors"][1]["status"] == "Charging"


# ---- 3.13 Configuration keys --------------------------------------------------------------------


async def _configuration_value(server: RunningServer, cp_id: str, key: str) -> str | None:
    """The value Kilowatt keeps for the station's key (as last read or changed), or None."""
    station = await get_json(server, f"/api/v1/stations/{cp_id}")
    value: str | None = station["configuration"].get(key)
    return value


async def test_tc_040_1_configuration_keys_not_supported(server: RunningServer) -> None:
    """TC_040_1: ChangeConfiguration for a key the charger does not know: NotSupported is
    recorded and the key is not added to the station's known configuration."""
    async with lib_charge_point(server.ws_url("CP0401"), "CP0401") as cp:
        await boot(cp)
        await command(server, "CP0401", "GetConfiguration", {})
        await cp.next_command()
        await _refused_command(
            server,
            cp,
            "CP0401",
            "ChangeConfiguration",
            {"key": "NoSuchVendorKey", "value": "1"},
            "NotSupported",
        )
    assert await _configuration_value(server, "CP0401", "NoSuchVendorKey") is None


async def test_tc_040_2_configuration_keys_invalid_value(server: RunningServer) -> None:
    """TC_040_2: ChangeConfiguration of MeterValueSampleInterval with a bad value: Rejected is
    recorded and the stored value stays what the charger last reported."""
    async with lib_charge_point(server.ws_url("CP0402"), "CP0402") as cp:
        await boot(cp)
        await command(server, "CP0402", "GetConfiguration", {})
        await cp.next_command()
        result = await _refused_command(
            server,
            cp,
            "CP0402",
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "-5"},
            "Rejected",
        )
    assert result["request"]["key"] == "MeterValueSampleInterval"
    assert await _configuration_value(server, "CP0402", "MeterValueSampleInterval") == "60"


# ---- 3.7 Authorization cache --------------------------------------------------------------------


async def test_tc_061_clear_authorization_data_in_authorization_cache(
    server: RunningServer,
) -> None:
    """TC_061: ClearCache.req (no fields); the charger answers Accepted, and Rejected is
    recorded as well when a charger has no cache to clear."""
    async with lib_charge_point(server.ws_url("CP061"), "CP061") as cp:
        await boot(cp)
        result = await command(server, "CP061", "ClearCache", {})
        assert await cp.next_command() == ("ClearCache", {})
        await _refused_command(server, cp, "CP061", "ClearCache", {}, "Rejected")
    assert (result["state"], result["outcome"], result["request"]) == ("completed", "Accepted", {})
