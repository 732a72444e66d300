"""OCPP 1.6 Smart Charging profile (TC_056, TC_057, TC_059, TC_066, TC_067), driven through the
operator API against the real server, with Kilowatt's simulator as the charge point: it holds
the profiles as a charger does, and its simulated draw obeys them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from kilowatt.simulator import SimulatedStation
from kilowatt.simulator.ev import Ev

from support.charging_profiles import profile
from support.server import RunningServer
from support.simulated import simulated_station
from support.steps import add_token, command, get_json

BOUND = 20  # seconds any single awaited condition may take before the test fails


#: A 22 kW AC charger metering every 0.2 s; its car's battery and ramp run 100 times faster (the
#: meter keeps real time).
station = partial(simulated_station, meter_interval=0.2, max_power_w=22_000.0, time_scale=100.0)


def car() -> Ev:
    return Ev(capacity_wh=80_000.0, soc=0.2, max_power_w=22_000.0)


async def charging(server: RunningServer, sim: SimulatedStation, connector: int, tag: str) -> int:
    await add_token(server, tag)
    await sim.plug_in(connector, car())
    await sim.swipe(connector, tag)
    tx = sim.transaction_id(connector)
    assert tx is not None
    return tx


async def post(server: RunningServer, path: str, body: Any, status: int = 200) -> Any:
    async with server.api() as api:
        response = await api.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def set_profile(server: RunningServer, cp: str, connector: int, body: Any) -> Any:
    return await post(
        server,
        f"/api/v1/stations/{cp}/charging-profiles",
        {"connector_id": connector, "profile": body},
    )


def held(sim: SimulatedStation) -> list[tuple[int, int, str]]:
    return sorted(
        (h.connector_id, h.profile.charging_profile_id, h.profile.charging_profile_purpose)
        for h in sim.profiles.held
    )


async def installed(server: RunningServer, cp: str) -> list[tuple[int, int, str, bool]]:
    data = await get_json(server, f"/api/v1/stations/{cp}/charging-profiles")
    return sorted(
        (p["connector_id"], p["charging_profile_id"], p["purpose"], p["in_force"])
        for p in data["installed"]
    )


async def test_tc_056_central_smart_charging_tx_default_profile(server: RunningServer) -> None:
    NOW = datetime.now(UTC).replace(microsecond=0)  # at test time: a full run takes minutes
    events: list[Any] = []
    unsubscribe = server.node.bus.subscribe(events.append)
    async with station(server, "SC056") as sim:
        amps = profile(
            id=56,
            purpose="TxDefaultProfile",
            kind="Absolute",
            start=NOW - timedelta(minutes=1),
            duration=3600,
            valid_from=NOW - timedelta(minutes=1),
            valid_to=NOW + timedelta(hours=1),
            periods=[(0, 6)],
        )
        answer = await set_profile(server, "SC056", 1, amps)
        assert (answer["status"], answer["operation"], answer["purpose"]) == (
            "Accepted",
            "set",
            "TxDefaultProfile",
        )
        assert answer["command_id"] and answer["requested_by"] == "node"
        [event] = [e for e in events if e.type == "charging_profile.updated"]
        assert (event.station, event.connector_id) == ("SC056", 1) and event.tenant_id
        assert (event.data["status"], event.data["chargingProfileId"]) == ("Accepted", 56)
        unsubscribe()
        watts = profile(
            id=57, start=NOW - timedelta(minutes=1), duration=3600, unit="W", periods=[(0, 6000)]
        )
        assert (await set_profile(server, "SC056", 2, watts))["status"] == "Accepted"
        assert held(sim) == [(1, 56, "TxDefaultProfile"), (2, 57, "TxDefaultProfile")]
        assert await installed(server, "SC056") == [
            (1, 56, "TxDefaultProfile", True),
            (2, 57, "TxDefaultProfile", True),
        ]
        # a new transaction on connector 1 charges at 6 A at most
        await charging(server, sim, 1, "TAG056")
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.stats.calls_sent.get("MeterValues", 0) >= 2)
        assert 0 < sim.draw_a(1) <= 6.0
        command_rows = await get_json(server, "/api/v1/stations/SC056/commands")
        assert [c["action"] for c in command_rows["items"]].count("SetChargingProfile") == 2


async def test_tc_057_central_smart_charging_tx_profile(server: RunningServer) -> None:
    async with station(server, "SC057") as sim:
        body = profile(id=7, purpose="TxProfile", kind="Relative", periods=[(0, 10)])
        # no transaction yet: refused by Kilowatt, nothing sent (OCPP 1.6 §5.16.4)
        async with server.api() as api:
            refused = await api.post(
                "/api/v1/stations/SC057/charging-profiles",
                json={"connector_id": 1, "profile": body},
            )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "InvalidChargingProfile"
        assert "transaction" in refused.json()["violations"][0]["message"]
        assert not [c for c in sim.received if c.action == "SetChargingProfile"]

        tx = await charging(server, sim, 1, "TAG057")
        answer = await set_profile(server, "SC057", 1, {**body, "transactionId": tx})
        assert (answer["status"], answer["transaction_id"]) == ("Accepted", tx)
        assert await installed(server, "SC057") == [(1, 7, "TxProfile", True)]
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.stats.calls_sent.get("MeterValues", 0) >= 2)
        assert 0 < sim.draw_a(1) <= 10.0
        # the TxProfile ends with its transaction (§3.13.1), at the charger and in Kilowatt
        await sim.swipe(1, "TAG057")
        assert held(sim) == [(1, 7, "TxProfile")]  # dropped when next looked at
        assert sim.profiles.in_force(sim.connectors) == []
        assert await installed(server, "SC057") == [(1, 7, "TxProfile", False)]


async def test_tc_059_remote_start_transaction_with_charging_profile(
    server: RunningServer,
) -> None:
    await add_token(server, "TAG059")
    async with station(server, "SC059") as sim:
        await sim.plug_in(1, car())
        tx_profile = profile(id=59, purpose="TxProfile", kind="Relative", periods=[(0, 8)])
        started = await command(
            server,
            "SC059",
            "RemoteStartTransaction",
            {"idTag": "TAG059", "connectorId": 1, "chargingProfile": tx_profile},
        )
        assert started["outcome"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is not None)
            await sim.wait_until(lambda: sim.stats.calls_sent.get("MeterValues", 0) >= 2)
        assert 0 < sim.draw_a(1) <= 8.0
        data = await get_json(server, "/api/v1/stations/SC059/charging-profiles")
        assert [(c["operation"], c["status"]) for c in data["history"]] == [
            ("remote_start", "Accepted")
        ]
        assert [(p["purpose"], p["in_force"]) for p in data["installed"]] == [("TxProfile", True)]
        # Kilowatt's expectation counts the Relative profile from the transaction's start
        view = await get_json(
            server, "/api/v1/stations/SC059/composite-schedule?connector=1&duration=60&unit=A"
        )
        assert view["expected"]["transaction_id"] == sim.transaction_id(1)
        assert [p["limit"] for p in view["expected"]["periods"]] == ["8"]


async def test_tc_066_get_composite_schedule(server: RunningServer) -> None:
    NOW = datetime.now(UTC).replace(microsecond=0)  # at test time: a full run takes minutes
    async with station(server, "SC066", connectors=2) as sim:
        start = NOW - timedelta(minutes=1)
        station_max = profile(
            id=1, purpose="ChargePointMaxProfile", start=start, unit="W", periods=[(0, 22080)]
        )
        default = profile(id=2, start=start, periods=[(0, 16), (600, 10)], duration=1200)
        assert (await set_profile(server, "SC066", 0, station_max))["status"] == "Accepted"
        assert (await set_profile(server, "SC066", 1, default))["status"] == "Accepted"
        view = await get_json(
            server, "/api/v1/stations/SC066/composite-schedule?connector=1&duration=3600&unit=A"
        )
        reported, expected = view["station"], view["expected"]
        assert (reported["state"], reported["status"]) == ("completed", "Accepted")
        schedule = reported["charging_schedule"]
        assert schedule["chargingRateUnit"] == "A" and schedule["duration"] == 3600
        # the station and Kilowatt agree: 16 A, then 10 A, then the station's 32 A cap
        ours = [(p["start_period"], float(p["limit"])) for p in expected["periods"]]
        theirs = [(p["startPeriod"], float(p["limit"])) for p in schedule["chargingSchedulePeriod"]]
        assert ours == theirs
        assert [limit for _, limit in ours] == [16.0, 10.0, 32.0]
        whole = await get_json(
            server, "/api/v1/stations/SC066/composite-schedule?connector=0&duration=60&unit=W"
        )
        assert [p["limit"] for p in whole["expected"]["periods"]] == ["22080"]
        unknown = await get_json(
            server, "/api/v1/stations/SC066/composite-schedule?connector=9&duration=60"
        )
        assert unknown["station"]["status"] == "Rejected"
        assert sim.received[-1].action == "GetCompositeSchedule"


async def test_tc_067_clear_charging_profile(server: RunningServer) -> None:
    NOW = datetime.now(UTC).replace(microsecond=0)  # at test time: a full run takes minutes
    async with station(server, "SC067") as sim:
        start = NOW - timedelta(minutes=1)
        tx = await charging(server, sim, 1, "TAG067")
        for connector, body in (
            (0, profile(id=1, purpose="ChargePointMaxProfile", start=start, periods=[(0, 32)])),
            (1, profile(id=2, purpose="TxDefaultProfile", start=start, periods=[(0, 20)])),
            (2, profile(id=3, purpose="TxDefaultProfile", start=start, periods=[(0, 20)])),
            (1, profile(id=4, purpose="TxProfile", kind="Relative", transaction_id=tx)),
        ):
            assert (await set_profile(server, "SC067", connector, body))["status"] == "Accepted"
        assert len(sim.profiles.held) == 4
        async with server.api() as api:
            by_id = await api.delete("/api/v1/stations/SC067/charging-profiles/4")
        assert by_id.status_code == 200 and by_id.json()["status"] == "Accepted"
        assert held(sim) == [
            (0, 1, "ChargePointMaxProfile"),
            (1, 2, "TxDefaultProfile"),
            (2, 3, "TxDefaultProfile"),
        ]
        by_criteria = await post(
            server,
            "/api/v1/stations/SC067/charging-profiles/clear",
            {"connector_id": 1, "purpose": "TxDefaultProfile"},
        )
        assert (by_criteria["status"], by_criteria["criteria"]) == (
            "Accepted",
            {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile"},
        )
        assert await installed(server, "SC067") == [
            (0, 1, "ChargePointMaxProfile", True),
            (2, 3, "TxDefaultProfile", True),
        ]
        everything = await post(server, "/api/v1/stations/SC067/charging-profiles/clear", {})
        assert everything["status"] == "Accepted"
        assert sim.profiles.held == [] and await installed(server, "SC067") == []
        again = await post(server, "/api/v1/stations/SC067/charging-profiles/clear", {})
        assert again["status"] == "Unknown"
        history = await get_json(server, "/api/v1/stations/SC067/charging-profiles")
        assert [c["status"] for c in history["history"]] == [
            "Unknown",
            "Accepted",
            "Accepted",
            "Accepted",
            "Accepted",
            "Accepted",
            "Accepted",
            "Accepted",
        ]


async def _energy_over(sim: SimulatedStation, connector: int, samples: int) -> tuple[float, float]:
    """(Wh metered, seconds) over the next ``samples`` meter samples."""
    loop = asyncio.get_running_loop()
    meter = sim.connector(connector).meter
    sim.draw_w(connector)  # brings the meter up to now
    t0, e0 = loop.time(), meter.register_wh
    target = sim.stats.calls_sent.get("MeterValues", 0) + samples
    async with asyncio.timeout(BOUND):
        await sim.wait_until(lambda: sim.stats.calls_sent.get("MeterValues", 0) >= target)
    sim.draw_w(connector)
    return meter.register_wh - e0, loop.time() - t0


async def test_simulated_draw_never_exceeds_an_applied_16_a_limit(server: RunningServer) -> None:
    async with station(server, "SC016") as sim:
        tx = await charging(server, sim, 1, "TAG016")
        await _energy_over(sim, 1, 3)
        assert sim.draw_a(1) > 20  # 22 kW: ~31.9 A per phase
        limit = await post(
            server, "/api/v1/stations/SC016/limit", {"connector_id": 1, "limit": 16, "unit": "A"}
        )
        assert (limit["status"], limit["purpose"]) == ("Accepted", "TxProfile")
        applied = datetime.now(UTC)
        draws: list[float] = []
        for _ in range(6):
            await _energy_over(sim, 1, 1)
            draws.append(sim.draw_a(1))
        assert all(0 < a <= 16.0 for a in draws), draws
        # energy follows the limit: at most 16 A x 230 V x 3 over the time, and close to it
        limited_wh, seconds = await _energy_over(sim, 1, 5)
        assert limited_wh <= 16 * 230 * 3 * seconds / 3600
        assert limited_wh >= 0.9 * 16 * 226.55 * 3 * seconds / 3600
        # what the CSMS received says the same
        data = await get_json(server, f"/api/v1/transactions/{tx}")
        after = [
            m
            for m in data["meter_values"]
            if datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")) > applied
        ]
        currents = [float(m["value"]) for m in after if m["measurand"] == "Current.Import"]
        powers = [float(m["value"]) for m in after if m["measurand"] == "Power.Active.Import"]
        assert currents and max(currents) <= 16.0
        assert powers and max(powers) <= 16 * 230 * 3
        # clearing the profile lifts the limit
        cleared = await post(server, "/api/v1/stations/SC016/charging-profiles/clear", {})
        assert cleared["status"] == "Accepted"
        await _energy_over(sim, 1, 2)
        assert sim.draw_a(1) > 20


async def test_limit_picks_the_purpose(server: RunningServer) -> None:
    NOW = datetime.now(UTC).replace(microsecond=0)  # at test time: a full run takes minutes
    async with station(server, "SCLIM") as sim:
        whole = await post(
            server, "/api/v1/stations/SCLIM/limit", {"connector_id": 0, "limit": 32, "unit": "A"}
        )
        idle = await post(
            server,
            "/api/v1/stations/SCLIM/limit",
            {
                "connector_id": 2,
                "limit": 7400,
                "unit": "W",
                "until": (NOW + timedelta(hours=1)).isoformat(),
            },
        )
        assert (whole["purpose"], whole["connector_id"], whole["status"]) == (
            "ChargePointMaxProfile",
            0,
            "Accepted",
        )
        assert (idle["purpose"], idle["status"]) == ("TxDefaultProfile", "Accepted")
        # at the station's highest stack level (ChargeProfileMaxStackLevel = 8, read back with
        # GetConfiguration before; unknown here, so the highest installed)
        assert idle["profile"]["validTo"].startswith((NOW + timedelta(hours=1)).isoformat()[:16])
        again = await post(
            server, "/api/v1/stations/SCLIM/limit", {"connector_id": 0, "limit": 25, "unit": "A"}
        )
        assert again["charging_profile_id"] == whole["charging_profile_id"]
        assert [
            float(h.profile.charging_schedule.charging_schedule_period[0].limit)
            for h in sim.profiles.held
            if h.connector_id == 0
        ] == [25.0]
