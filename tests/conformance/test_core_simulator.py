"""OCPP 1.6 CSMS conformance, driven by Kilowatt's own simulator against the real server.

The same cases as test_core_lib_client.py, from a charger that behaves end to end (status
transitions, meter values with 8 sampled values, offline queue, reboot on Reset).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from kilowatt.ocpp.v16.enums import AuthorizationStatus, ChargePointStatus, Reason
from kilowatt.simulator import SimulatedStation, SimulatorConfig

from support.server import RunningServer
from support.steps import add_token, command, get_json

BOUND = 20  # seconds any single awaited condition may take before the test fails


@asynccontextmanager
async def station(
    server: RunningServer, charge_point_id: str, **config: object
) -> AsyncIterator[SimulatedStation]:
    cfg = SimulatorConfig(
        url=f"ws://127.0.0.1:{server.port}/ocpp",
        auto_sessions=False,
        meter_interval=0.2,
        reconnect_min=0.05,
        reconnect_max=0.2,
        seed=1,
        **config,  # type: ignore[arg-type]
    )
    sim = SimulatedStation(cfg, charge_point_id)
    async with asyncio.timeout(60), sim:
        await sim.connect()
        await sim.boot()
        yield sim


async def test_tc_001_cold_boot(server: RunningServer) -> None:
    async with station(server, "SIM001") as sim:
        await sim.heartbeat()
        data = await get_json(server, "/api/v1/stations/SIM001")
    assert (data["vendor"], data["model"], data["firmware_version"]) == (
        "Kilowatt",
        "Simulator",
        "sim-1.0",
    )
    assert [(c["connector_id"], c["status"]) for c in data["connectors"]] == [
        (0, "Available"),
        (1, "Available"),
        (2, "Available"),
    ]
    assert data["last_heartbeat_at"] is not None


async def test_tc_003_regular_charging_session_plugin_first(server: RunningServer) -> None:
    await add_token(server, "SIMTAG003")
    async with station(server, "SIM003") as sim:
        await sim.plug_in(1)
        assert await sim.swipe(1, "SIMTAG003") is AuthorizationStatus.ACCEPTED
        tx_id = sim.transaction_id(1)
        assert tx_id is not None
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.stats.calls_sent.get("MeterValues", 0) >= 3)
        await sim.swipe(1, "SIMTAG003")  # the same card stops it (reason Local)
        await sim.unplug(1)
        meter_wh = sim.meter_wh(1)
    tx = await get_json(server, f"/api/v1/transactions/{tx_id}")
    assert (tx["state"], tx["stop_reason"], tx["review_reason"]) == ("stopped", "Local", None)
    assert tx["meter_stop_wh"] == meter_wh and tx["energy_wh"] == meter_wh - tx["meter_start_wh"]
    periodic = [m for m in tx["meter_values"] if m["source"] == "MeterValues"]
    stamps = sorted({m["timestamp"] for m in periodic})
    assert len(stamps) >= 3 and len(periodic) == 8 * len(stamps)
    energy = [
        int(m["value"].split(".")[0])
        for m in sorted(periodic, key=lambda m: m["timestamp"])
        if m["measurand"] == "Energy.Active.Import.Register"
    ]
    assert energy == sorted(energy)
    station_data = await get_json(server, "/api/v1/stations/SIM003")
    assert station_data["connectors"][1]["status"] == "Available"


async def test_tc_004_1_identification_first(server: RunningServer) -> None:
    await add_token(server, "SIMTAG004")
    async with station(server, "SIM004") as sim:
        assert await sim.swipe(2, "SIMTAG004") is AuthorizationStatus.ACCEPTED
        assert sim.status(2) is ChargePointStatus.PREPARING
        await sim.plug_in(2)
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(2) is not None)
        data = await get_json(server, "/api/v1/stations/SIM004")
    assert data["connectors"][2]["status"] == "Charging"


async def test_tc_023_1_authorize_invalid(server: RunningServer) -> None:
    async with station(server, "SIM023") as sim:
        assert await sim.swipe(1, "NOBODY") is AuthorizationStatus.INVALID
        assert sim.transaction_id(1) is None


async def test_tc_011_1_remote_start_then_tc_012_remote_stop(server: RunningServer) -> None:
    await add_token(server, "SIMTAG011")
    async with station(server, "SIM011") as sim:
        started = await command(
            server, "SIM011", "RemoteStartTransaction", {"idTag": "SIMTAG011", "connectorId": 1}
        )
        assert started["outcome"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is not None)
        tx_id = sim.transaction_id(1)
        stopped = await command(server, "SIM011", "RemoteStopTransaction", {"transactionId": tx_id})
        assert stopped["outcome"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is None)
    tx = await get_json(server, f"/api/v1/transactions/{tx_id}")
    assert (tx["id_tag"], tx["stop_reason"]) == ("SIMTAG011", "Remote")


async def test_tc_018_1_unlock_with_charging_session(server: RunningServer) -> None:
    await add_token(server, "SIMTAG018")
    async with station(server, "SIM018") as sim:
        await sim.plug_in(1)
        await sim.swipe(1, "SIMTAG018")
        tx_id = sim.transaction_id(1)
        result = await command(server, "SIM018", "UnlockConnector", {"connectorId": 1})
        assert result["outcome"] == "Unlocked"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is None)
    tx = await get_json(server, f"/api/v1/transactions/{tx_id}")
    assert tx["stop_reason"] == "UnlockCommand"


async def test_tc_013_hard_reset_reboots(server: RunningServer) -> None:
    async with station(server, "SIM013") as sim:
        result = await command(server, "SIM013", "Reset", {"type": "Hard"})
        assert result["outcome"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.boot_count == 2 and sim.accepted)
    messages = await get_json(server, "/api/v1/stations/SIM013/messages?limit=1000")
    boots = [m for m in messages if m["action"] == "BootNotification" and m["direction"] == "in"]
    assert len(boots) == 2


async def test_tc_021_tc_040_1_tc_040_2_tc_019_2_change_and_get_configuration(
    server: RunningServer,
) -> None:
    async with station(server, "SIM019") as sim:
        changed = await command(
            server,
            "SIM019",
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "30"},
        )
        refused = await command(
            server,
            "SIM019",
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "soon"},
        )
        unknown = await command(
            server, "SIM019", "ChangeConfiguration", {"key": "NoSuchKey", "value": "1"}
        )
        read = await command(
            server, "SIM019", "GetConfiguration", {"key": ["MeterValueSampleInterval", "NoSuchKey"]}
        )
        assert sim.sample_interval() == 30
    assert (changed["outcome"], refused["outcome"], unknown["outcome"]) == (
        "Accepted",
        "Rejected",
        "NotSupported",
    )
    assert read["response"]["configurationKey"][0]["value"] == "30"
    assert read["response"]["unknownKey"] == ["NoSuchKey"]


async def test_tc_054_trigger_status_notification(server: RunningServer) -> None:
    async with station(server, "SIM054") as sim:
        before = sim.stats.calls_sent.get("StatusNotification", 0)
        result = await command(
            server,
            "SIM054",
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        )
        assert result["outcome"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.stats.calls_sent.get("StatusNotification", 0) > before)


async def test_tc_039_offline_transaction_is_replayed(server: RunningServer) -> None:
    await add_token(server, "SIMTAG039")
    async with station(server, "SIM039") as sim:
        await sim.plug_in(1)
        await sim.swipe(1, "SIMTAG039")
        tx_id = sim.transaction_id(1)
        sim.drop_connection()
        # Offline: the driver stops at the charger; the StopTransaction is queued with its time.
        await sim.stop_transaction(1, Reason.LOCAL, id_tag="SIMTAG039")
        stopped_at = datetime.now().astimezone()
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.online and sim.queued_messages == 0)
    tx = await get_json(server, f"/api/v1/transactions/{tx_id}")
    assert tx["state"] == "stopped" and tx["stop_reason"] == "Local"
    assert datetime.fromisoformat(tx["stop_timestamp"]) <= stopped_at
