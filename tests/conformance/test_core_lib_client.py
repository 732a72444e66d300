"""OCPP 1.6 CSMS conformance (Core profile), driven by the ``ocpp`` library's ChargePoint.

Each test mirrors the OCTT test case in its name (shared/spec/ocpp16-csms-test-cases.md).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocpp.v16 import call

from support.ocpp_client import lib_charge_point
from support.server import RunningServer, running_server
from support.steps import add_token, boot, command, get_json, now_iso, status

pytestmark = pytest.mark.asyncio


async def test_tc_001_cold_boot(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP001"), "CP001") as cp:
        response = await boot(cp)
        assert response.status == "Accepted"
        assert response.interval > 0
        assert datetime.fromisoformat(response.current_time).tzinfo is not None
        heartbeat = await cp.call(call.Heartbeat())
        assert abs(datetime.fromisoformat(heartbeat.current_time) - datetime.now(UTC)) < timedelta(
            minutes=1
        )

        station = await get_json(server, "/api/v1/stations/CP001")
    assert station["vendor"] == "VendorY" and station["model"] == "Model-X"
    assert station["online"] is True and station["last_heartbeat_at"] is not None
    assert [(c["connector_id"], c["status"]) for c in station["connectors"]] == [
        (0, "Available"),
        (1, "Available"),
        (2, "Available"),
    ]


async def test_tc_003_regular_charging_session_plugin_first(server: RunningServer) -> None:
    await add_token(server, "TAG-003")
    async with lib_charge_point(server.ws_url("CP003"), "CP003") as cp:
        await boot(cp)
        await status(cp, 1, "Preparing")
        auth = await cp.call(call.Authorize(id_tag="TAG-003"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-003", meter_start=1000, timestamp=now_iso()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        assert isinstance(start.transaction_id, int)
        await status(cp, 1, "Charging")
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampledValue": [
                            {
                                "value": "2.5",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "kWh",
                            },
                            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                            {
                                "value": "16.1",
                                "measurand": "Current.Import",
                                "unit": "A",
                                "phase": "L1",
                            },
                            {"value": "231", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
                            {
                                "value": "55",
                                "measurand": "SoC",
                                "unit": "Percent",
                                "location": "EV",
                            },
                        ],
                    }
                ],
            )
        )
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=4000,
                timestamp=now_iso(),
                id_tag="TAG-003",
                reason="Local",
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"
        await status(cp, 1, "Finishing")
        await status(cp, 1, "Available")

    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["state"] == "stopped" and tx["energy_wh"] == 3000 and tx["stop_reason"] == "Local"
    by_measurand = {
        (m["measurand"], m["phase"]): (m["value"], m["unit"]) for m in tx["meter_values"]
    }
    assert by_measurand[("Energy.Active.Import.Register", None)] == ("2500.000", "Wh")
    assert by_measurand[("Power.Active.Import", None)] == ("7200.000", "W")
    assert by_measurand[("Current.Import", "L1")] == ("16.100", "A")
    assert by_measurand[("SoC", None)] == ("55.000", "%")


async def test_tc_004_1_regular_charging_session_identification_first(
    server: RunningServer,
) -> None:
    await add_token(server, "TAG-004")
    async with lib_charge_point(server.ws_url("CP004"), "CP004") as cp:
        await boot(cp)
        auth = await cp.call(call.Authorize(id_tag="TAG-004"))
        assert auth.id_tag_info["status"] == "Accepted"
        await status(cp, 1, "Preparing")
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-004", meter_start=0, timestamp=now_iso()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        await status(cp, 1, "Charging")
        station = await get_json(server, "/api/v1/stations/CP004")
    assert station["connectors"][1]["status"] == "Charging"


async def test_tc_004_2_identification_first_connection_timeout(server: RunningServer) -> None:
    await add_token(server, "TAG-0042")
    async with lib_charge_point(server.ws_url("CP0042"), "CP0042") as cp:
        await boot(cp)
        await cp.call(call.Authorize(id_tag="TAG-0042"))
        await status(cp, 1, "Preparing")
        await status(cp, 1, "Available")
        station = await get_json(server, "/api/v1/stations/CP0042")
        transactions = (await get_json(server, "/api/v1/transactions?station=CP0042"))["items"]
    assert station["connectors"][1]["status"] == "Available"
    assert transactions == []


async def test_tc_005_1_ev_side_disconnected(server: RunningServer) -> None:
    await add_token(server, "TAG-005")
    async with lib_charge_point(server.ws_url("CP005"), "CP005") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-005", meter_start=10, timestamp=now_iso()
            )
        )
        await status(cp, 1, "Charging")
        await status(cp, 1, "SuspendedEV")
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=510,
                timestamp=now_iso(),
                reason="EVDisconnected",
            )
        )
        assert stop.id_tag_info is None
        await status(cp, 1, "Finishing")
        await status(cp, 1, "Available")
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["stop_reason"] == "EVDisconnected" and tx["energy_wh"] == 500


async def test_tc_007_regular_start_charging_session_cached_id(server: RunningServer) -> None:
    await add_token(server, "TAG-007")
    async with lib_charge_point(server.ws_url("CP007"), "CP007") as cp:
        await boot(cp)
        await status(cp, 1, "Preparing")
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-007", meter_start=0, timestamp=now_iso()
            )
        )
    assert start.id_tag_info["status"] == "Accepted"


@pytest.mark.parametrize(
    ("case", "kw", "expected"),
    [
        ("tc_023_1_invalid", None, "Invalid"),
        ("tc_023_2_expired", {"expiry_date": datetime(2020, 1, 1, tzinfo=UTC)}, "Expired"),
        ("tc_023_3_blocked", {"status": "Blocked"}, "Blocked"),
    ],
)
async def test_tc_023_1_tc_023_2_tc_023_3_authorize_refused(
    server: RunningServer, case: str, kw: dict[str, object] | None, expected: str
) -> None:
    if kw is not None:
        await add_token(server, "TAG-023", **kw)
    async with lib_charge_point(server.ws_url("CP023"), "CP023") as cp:
        await boot(cp)
        auth = await cp.call(call.Authorize(id_tag="TAG-023"))
    assert auth.id_tag_info["status"] == expected, case


async def test_tc_024_start_charging_session_lock_failure(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP024"), "CP024") as cp:
        await boot(cp)
        await status(cp, 1, "Faulted", error_code="ConnectorLockFailure")
        station = await get_json(server, "/api/v1/stations/CP024")
    assert (station["connectors"][1]["status"], station["connectors"][1]["error_code"]) == (
        "Faulted",
        "ConnectorLockFailure",
    )


async def test_start_transaction_repeated_gets_same_transaction_id(server: RunningServer) -> None:
    await add_token(server, "TAG-R")
    timestamp = now_iso()
    async with lib_charge_point(server.ws_url("CPR"), "CPR") as cp:
        await boot(cp)
        request = call.StartTransaction(
            connector_id=2, id_tag="TAG-R", meter_start=77, timestamp=timestamp
        )
        first = await cp.call(request)
        second = await cp.call(request)
    assert first.transaction_id == second.transaction_id
    assert second.id_tag_info["status"] == "Accepted"
    assert (await get_json(server, "/api/v1/transactions?station=CPR"))["total"] == 1


@pytest.mark.parametrize("transaction_id", [-1, 987654])
async def test_stop_transaction_with_unknown_id_is_acknowledged(
    server: RunningServer, transaction_id: int
) -> None:
    async with lib_charge_point(server.ws_url("CPU"), "CPU") as cp:
        await boot(cp)
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=transaction_id,
                meter_stop=1234,
                timestamp=now_iso(),
                reason="Local",
                transaction_data=[
                    {
                        "timestamp": now_iso(),
                        "sampledValue": [{"value": "1234", "context": "Transaction.End"}],
                    }
                ],
            )
        )
        assert stop.id_tag_info is None
        heartbeat = await cp.call(call.Heartbeat())
        assert heartbeat.current_time
    from sqlalchemy import select

    from kilowatt.transactions.models import MeterValueRecord, UnmatchedStop

    async with server.node.sessions() as db:
        kept = (await db.scalars(select(UnmatchedStop))).all()
        samples = (await db.scalars(select(MeterValueRecord))).all()
    assert [(s.transaction_id, s.meter_stop) for s in kept] == [(transaction_id, 1234)]
    assert [(s.raw_value, s.source) for s in samples] == [("1234", "StopTransaction")]


async def test_stop_transaction_repeated_is_acknowledged_once(server: RunningServer) -> None:
    await add_token(server, "TAG-S")
    async with lib_charge_point(server.ws_url("CPS"), "CPS") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-S", meter_start=0, timestamp=now_iso()
            )
        )
        stop = call.StopTransaction(
            transaction_id=start.transaction_id, meter_stop=900, timestamp=now_iso()
        )
        await cp.call(stop)
        await cp.call(stop)
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["energy_wh"] == 900 and tx["review_reason"] is None


async def test_tc_032_1_power_failure_during_transaction(server: RunningServer) -> None:
    await add_token(server, "TAG-032")
    async with lib_charge_point(server.ws_url("CP032"), "CP032") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-032", meter_start=100, timestamp=now_iso()
            )
        )
        await status(cp, 1, "Charging")
    # The station lost power; it reboots, reconnects and closes the transaction it left open.
    async with lib_charge_point(server.ws_url("CP032"), "CP032") as cp:
        assert (await boot(cp)).status == "Accepted"
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=700,
                timestamp=now_iso(),
                reason="PowerLoss",
            )
        )
        assert stop is not None
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert (tx["state"], tx["stop_reason"], tx["energy_wh"]) == ("stopped", "PowerLoss", 600)


async def test_tc_039_offline_transaction_replayed_hours_later(server: RunningServer) -> None:
    await add_token(server, "TAG-039")
    started = datetime.now(UTC) - timedelta(hours=5)
    stopped = started + timedelta(hours=1, minutes=30)
    async with lib_charge_point(server.ws_url("CP039"), "CP039") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-039", meter_start=5000, timestamp=started.isoformat()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": (started + timedelta(minutes=45)).isoformat(),
                        "sampledValue": [
                            {"value": "9000", "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            )
        )
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=16000,
                timestamp=stopped.isoformat(),
                id_tag="TAG-039",
                reason="Local",
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert datetime.fromisoformat(tx["start_timestamp"]) == started
    assert datetime.fromisoformat(tx["stop_timestamp"]) == stopped
    assert tx["energy_wh"] == 11000 and tx["review_reason"] is None


async def test_tc_037_3_offline_start_invalid_id_tag(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP0373"), "CP0373") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="UNKNOWN-TAG",
                meter_start=0,
                timestamp=(datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            )
        )
        assert start.id_tag_info["status"] == "Invalid" and start.transaction_id > 0
        stop = await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=0,
                timestamp=now_iso(),
                reason="DeAuthorized",
            )
        )
        assert stop is not None
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert (tx["start_auth_status"], tx["stop_reason"]) == ("Invalid", "DeAuthorized")


async def test_tc_064_data_transfer_to_central_system(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP064"), "CP064") as cp:
        await boot(cp)
        response = await cp.call(
            call.DataTransfer(vendor_id="com.example.unknown", message_id="x", data="{}")
        )
    assert response.status == "UnknownVendorId"


async def test_firmware_and_diagnostics_status_are_stored(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CPF"), "CPF") as cp:
        await boot(cp)
        await cp.call(call.FirmwareStatusNotification(status="Downloading"))
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        station = await get_json(server, "/api/v1/stations/CPF")
    assert (station["firmware_status"], station["diagnostics_status"]) == (
        "Downloading",
        "Uploaded",
    )


# ---- commands from the central system ---------------------------------------------------------


async def test_tc_010_remote_start_charging_session_cable_plugged_in_first(
    server: RunningServer,
) -> None:
    await add_token(server, "TAG-010")
    async with lib_charge_point(server.ws_url("CP010"), "CP010") as cp:
        await boot(cp)
        await status(cp, 1, "Preparing")
        result = await command(
            server, "CP010", "RemoteStartTransaction", {"idTag": "TAG-010", "connectorId": 1}
        )
        assert (result["state"], result["outcome"]) == ("completed", "Accepted")
        assert await cp.next_command() == (
            "RemoteStartTransaction",
            {"id_tag": "TAG-010", "connector_id": 1},
        )
        assert (await cp.call(call.Authorize(id_tag="TAG-010"))).id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-010", meter_start=0, timestamp=now_iso()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"


async def test_tc_012_remote_stop_charging_session(server: RunningServer) -> None:
    await add_token(server, "TAG-012")
    async with lib_charge_point(server.ws_url("CP012"), "CP012") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-012", meter_start=0, timestamp=now_iso()
            )
        )
        result = await command(
            server, "CP012", "RemoteStopTransaction", {"transactionId": start.transaction_id}
        )
        assert result["outcome"] == "Accepted"
        assert await cp.next_command() == (
            "RemoteStopTransaction",
            {"transaction_id": start.transaction_id},
        )
        await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=100,
                timestamp=now_iso(),
                reason="Remote",
            )
        )
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["stop_reason"] == "Remote"


@pytest.mark.parametrize(
    ("case", "action", "payload", "answer"),
    [
        (
            "tc_026_remote_start_rejected",
            "RemoteStartTransaction",
            {"idTag": "T", "connectorId": 1},
            "Rejected",
        ),
        (
            "tc_028_remote_stop_rejected",
            "RemoteStopTransaction",
            {"transactionId": 424242},
            "Rejected",
        ),
        ("tc_013_hard_reset", "Reset", {"type": "Hard"}, "Accepted"),
        ("tc_014_soft_reset", "Reset", {"type": "Soft"}, "Accepted"),
        ("tc_017_1_unlock_not_fixed_cable", "UnlockConnector", {"connectorId": 1}, "Unlocked"),
        ("tc_017_2_unlock_fixed_cable", "UnlockConnector", {"connectorId": 1}, "NotSupported"),
        ("tc_030_unlock_failure", "UnlockConnector", {"connectorId": 1}, "UnlockFailed"),
        ("tc_031_unlock_unknown_connector", "UnlockConnector", {"connectorId": 9}, "NotSupported"),
        ("tc_061_clear_cache", "ClearCache", {}, "Accepted"),
        (
            "tc_055_trigger_message_rejected",
            "TriggerMessage",
            {"requestedMessage": "Heartbeat"},
            "Rejected",
        ),
        (
            "change_availability_inoperative",
            "ChangeAvailability",
            {"connectorId": 1, "type": "Inoperative"},
            "Accepted",
        ),
        (
            "change_availability_scheduled",
            "ChangeAvailability",
            {"connectorId": 0, "type": "Operative"},
            "Scheduled",
        ),
    ],
)
async def test_command_outcomes(
    server: RunningServer, case: str, action: str, payload: dict[str, object], answer: str
) -> None:
    async with lib_charge_point(server.ws_url("CPX"), "CPX") as cp:
        await boot(cp)
        cp.answers[action] = answer
        result = await command(server, "CPX", action, payload)
        received = await cp.next_command()
    assert (result["state"], result["outcome"]) == ("completed", answer), case
    assert received[0] == action
    assert result["response"]["status"] == answer
    assert result["latency_ms"] is not None


async def test_tc_013_hard_reset_then_reboot(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP013"), "CP013") as cp:
        await boot(cp)
        result = await command(server, "CP013", "Reset", {"type": "Hard"})
        assert result["outcome"] == "Accepted"
    async with lib_charge_point(server.ws_url("CP013"), "CP013") as cp:
        assert (await boot(cp)).status == "Accepted"


async def test_tc_018_1_unlock_with_charging_session(server: RunningServer) -> None:
    await add_token(server, "TAG-018")
    async with lib_charge_point(server.ws_url("CP018"), "CP018") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-018", meter_start=0, timestamp=now_iso()
            )
        )
        result = await command(server, "CP018", "UnlockConnector", {"connectorId": 1})
        assert result["outcome"] == "Unlocked"
        await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=50,
                timestamp=now_iso(),
                reason="UnlockCommand",
            )
        )
    tx = await get_json(server, f"/api/v1/transactions/{start.transaction_id}")
    assert tx["stop_reason"] == "UnlockCommand"


async def test_tc_019_1_retrieve_all_configuration_keys(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP019"), "CP019") as cp:
        await boot(cp)
        result = await command(server, "CP019", "GetConfiguration", {})
        assert result["state"] == "completed"
        keys = {
            k["key"]: (k["value"], k["readonly"]) for k in result["response"]["configurationKey"]
        }
        assert keys["SupportedFeatureProfiles"][1] is True
        station = await get_json(server, "/api/v1/stations/CP019")
    assert station["configuration"]["MeterValueSampleInterval"] == "60"
    assert set(station["configuration"]) == set(keys)


async def test_tc_019_2_retrieve_specific_configuration_key(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP0192"), "CP0192") as cp:
        await boot(cp)
        result = await command(
            server, "CP0192", "GetConfiguration", {"key": ["SupportedFeatureProfiles"]}
        )
        assert await cp.next_command() == (
            "GetConfiguration",
            {"key": ["SupportedFeatureProfiles"]},
        )
    assert [k["key"] for k in result["response"]["configurationKey"]] == [
        "SupportedFeatureProfiles"
    ]


@pytest.mark.parametrize(
    ("case", "key", "value", "expected"),
    [
        ("tc_021_change_configuration", "MeterValueSampleInterval", "60", "Accepted"),
        ("tc_040_1_not_supported", "NoSuchKey", "1", "NotSupported"),
        ("tc_040_2_invalid_value", "MeterValueSampleInterval", "-1x", "Rejected"),
    ],
)
async def test_tc_021_tc_040_1_tc_040_2_change_configuration(
    server: RunningServer, case: str, key: str, value: str, expected: str
) -> None:
    async with lib_charge_point(server.ws_url("CP021"), "CP021") as cp:
        await boot(cp)
        result = await command(server, "CP021", "ChangeConfiguration", {"key": key, "value": value})
        station = await get_json(server, "/api/v1/stations/CP021")
    assert result["outcome"] == expected, case
    assert (station["configuration"].get(key) == value) == (expected == "Accepted")


async def test_tc_054_trigger_message(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CP054"), "CP054") as cp:
        await boot(cp)
        for message in (
            "MeterValues",
            "Heartbeat",
            "StatusNotification",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
        ):
            result = await command(server, "CP054", "TriggerMessage", {"requestedMessage": message})
            assert result["outcome"] == "Accepted"
            assert await cp.next_command() == ("TriggerMessage", {"requested_message": message})
        # ... and the triggered messages are answered.
        await cp.call(call.Heartbeat())
        await cp.call(call.DiagnosticsStatusNotification(status="Idle"))
        await cp.call(call.FirmwareStatusNotification(status="Idle"))


async def test_data_transfer_to_the_station(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CPDT"), "CPDT") as cp:
        await boot(cp)
        result = await command(
            server, "CPDT", "DataTransfer", {"vendorId": "com.example", "data": "hello"}
        )
    assert result["outcome"] == "UnknownVendorId"


async def test_command_to_an_offline_station_is_recorded_offline(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("CPO"), "CPO") as cp:
        await boot(cp)
    await asyncio.wait_for(server.node.registry.wait_for("CPO", present=False), 10)
    result = await command(server, "CPO", "Reset", {"type": "Soft"})
    assert (result["state"], result["outcome"]) == ("offline", "Offline")


async def test_tc_059_remote_start_transaction_with_charging_profile(server: RunningServer) -> None:
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    }
    async with lib_charge_point(server.ws_url("CP059"), "CP059") as cp:
        await boot(cp)
        result = await command(
            server,
            "CP059",
            "RemoteStartTransaction",
            {"idTag": "T", "connectorId": 1, "chargingProfile": profile},
        )
        action, fields = await cp.next_command()
    assert (result["outcome"], action) == ("Accepted", "RemoteStartTransaction")
    assert fields["charging_profile"]["charging_profile_purpose"] == "TxProfile"
    assert "transaction_id" not in fields["charging_profile"]


async def test_data_transfer_vendor_hook_answers(database_url: str, tmp_path: Path) -> None:
    async def echo(
        db: object, station_id: int, message_id: str | None, data: str | None
    ) -> tuple[str, str | None]:
        return "Accepted", f"{message_id}:{data}"

    async with running_server(
        database_url, tmp_path, vendor_hooks={"com.example.echo": echo}
    ) as srv:
        async with lib_charge_point(srv.ws_url("CPHOOK"), "CPHOOK") as cp:
            await boot(cp)
            response = await cp.call(
                call.DataTransfer(vendor_id="com.example.echo", message_id="ping", data="42")
            )
    assert (response.status, response.data) == ("Accepted", "ping:42")
