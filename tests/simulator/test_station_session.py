"""A simulated station against a minimal real CSMS: boot, statuses, a charging session."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from decimal import Decimal

import pytest
from sim_csms import MockCsms
from simkit import booted, sim_config, statuses, within

from kilowatt.ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointStatus,
    Measurand,
    MessageTrigger,
    ReadingContext,
    Reason,
    RegistrationStatus,
)
from kilowatt.ocpp.v16.messages import GetConfigurationRequest, TriggerMessageRequest
from kilowatt.simulator import Ev, SimulatedStation

Status = ChargePointStatus


async def test_boot_reports_every_connector_available() -> None:
    async with MockCsms(heartbeat_interval=120) as csms, booted(csms) as station:
        assert station.accepted and station.boot_count == 1
        assert csms.actions("CP1") == ["BootNotification"] + ["StatusNotification"] * 3
        assert [r.payload.connector_id for r in csms.calls("CP1", "StatusNotification")] == [
            0,
            1,
            2,
        ]
        assert all(s == Status.AVAILABLE for s in statuses(csms, "CP1", 1))
        boot = csms.calls("CP1", "BootNotification")[0].payload
        assert (boot.charge_point_vendor, boot.charge_point_model) == ("Kilowatt", "Simulator")
        assert station.configuration["HeartbeatInterval"] == "120"


async def test_heartbeats_follow_the_interval() -> None:
    async with MockCsms() as csms, booted(csms, heartbeat_interval=0.05):
        await within(csms.wait_for(lambda: len(csms.calls("CP1", "Heartbeat")) >= 3))


async def test_tc_003_regular_charging_session() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        ev = Ev(capacity_wh=60_000, soc=0.3, max_power_w=22_000)
        await within(station.plug_in(1, ev))
        assert station.status(1) is Status.PREPARING
        status = await within(station.swipe(1, "TAG1"))
        assert status is AuthorizationStatus.ACCEPTED
        assert station.status(1) is Status.CHARGING
        transaction_id = station.transaction_id(1)
        assert transaction_id is not None
        start = csms.calls("CP1", "StartTransaction")[0].payload
        assert (start.connector_id, start.id_tag) == (1, "TAG1")

        await within(csms.wait_for(lambda: len(csms.calls("CP1", "MeterValues")) >= 4))
        meter_values = [r.payload for r in csms.calls("CP1", "MeterValues")]
        registers: list[int] = []
        samples: list[tuple[datetime, float, float]] = []  # (time, Wh, W)
        for request in meter_values:
            assert request.transaction_id == transaction_id
            (value,) = request.meter_value
            assert len(value.sampled_value) == 8
            assert {s.context for s in value.sampled_value} == {ReadingContext.SAMPLE_PERIODIC}
            by_key = {(s.measurand, s.phase): s for s in value.sampled_value}
            measurands = {m for m, _ in by_key}
            assert measurands == {
                Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                Measurand.POWER_ACTIVE_IMPORT,
                Measurand.CURRENT_IMPORT,
                Measurand.VOLTAGE,
                Measurand.SOC,
                Measurand.TEMPERATURE,
            }
            assert [p for m, p in by_key if m is Measurand.CURRENT_IMPORT] == ["L1", "L2", "L3"]
            energy = by_key[(Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, None)]
            power = by_key[(Measurand.POWER_ACTIVE_IMPORT, None)]
            assert (energy.unit, power.unit) == ("Wh", "W")
            registers.append(int(energy.value))
            samples.append((value.timestamp, float(energy.value), float(power.value)))
        assert registers[0] >= start.meter_start
        assert all(b > a for a, b in itertools.pairwise(registers))
        # Energy between samples is what the power readings say, over the timestamps.
        for (t0, e0, p0), (t1, e1, p1) in itertools.pairwise(samples):
            hours = (t1 - t0).total_seconds() / 3600
            assert min(p0, p1) * hours - 2 <= e1 - e0 <= max(p0, p1) * hours + 2

        result = await within(station.swipe(1, "TAG1"))  # same card again: stop
        assert result is AuthorizationStatus.ACCEPTED
        stop = csms.calls("CP1", "StopTransaction")[0].payload
        assert stop.transaction_id == transaction_id
        assert stop.reason is Reason.LOCAL and stop.id_tag == "TAG1"
        assert stop.meter_stop >= registers[-1]
        contexts = [v.sampled_value[0].context for v in stop.transaction_data]
        assert contexts == [ReadingContext.TRANSACTION_BEGIN, ReadingContext.TRANSACTION_END]
        assert int(stop.transaction_data[-1].sampled_value[0].value) == stop.meter_stop
        assert station.status(1) is Status.FINISHING

        await within(station.unplug(1))
        assert station.status(1) is Status.AVAILABLE
        assert statuses(csms, "CP1", 1) == [
            "Available",
            "Preparing",
            "Charging",
            "Finishing",
            "Available",
        ]
        tail = [a for a in csms.actions("CP1") if a not in ("MeterValues", "Heartbeat")]
        assert tail[4:] == [
            "StatusNotification",  # Preparing
            "Authorize",
            "StartTransaction",
            "StatusNotification",  # Charging
            "StopTransaction",
            "StatusNotification",  # Finishing
            "StatusNotification",  # Available
        ]


async def test_car_full_suspends_then_unplug_stops_with_ev_disconnected() -> None:
    async with (
        MockCsms() as csms,
        booted(csms, max_power_w=150_000.0, time_scale=2000.0, meter_interval=0.05) as station,
    ):
        ev = Ev(capacity_wh=40_000, soc=0.9, target_soc=0.95, max_power_w=150_000)
        await within(station.plug_in(1, ev))
        await within(station.swipe(1, "TAG1"))
        await within(station.wait_until(lambda: station.status(1) is Status.SUSPENDED_EV))
        await within(station.unplug(1))
        stop = csms.calls("CP1", "StopTransaction")[0].payload
        assert stop.reason is Reason.EV_DISCONNECTED
        assert statuses(csms, "CP1", 1)[-3:] == ["Charging", "SuspendedEV", "Available"]
        assert ev.soc >= 0.95
        # The DC default: 8 values with offered power and current instead of phases.
        value = csms.calls("CP1", "MeterValues")[0].payload.meter_value[0]
        assert len(value.sampled_value) == 8
        assert all(s.phase is None for s in value.sampled_value)


async def test_swipe_first_then_plug_in_starts_the_transaction() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        assert await within(station.swipe(2, "TAG9")) is AuthorizationStatus.ACCEPTED
        assert station.status(2) is Status.PREPARING
        await within(station.plug_in(2))
        assert station.status(2) is Status.CHARGING
        assert csms.calls("CP1", "StartTransaction")[0].payload.id_tag == "TAG9"


async def test_rejected_card_starts_nothing() -> None:
    async with MockCsms(rejected_tags=frozenset({"BAD"})) as csms, booted(csms) as station:
        await within(station.plug_in(1))
        assert await within(station.swipe(1, "BAD")) is AuthorizationStatus.INVALID
        assert station.transaction_id(1) is None and station.status(1) is Status.PREPARING
        await within(station.unplug(1))
        assert station.status(1) is Status.AVAILABLE
        assert not csms.calls("CP1", "StartTransaction")


async def test_start_not_accepted_stops_deauthorized() -> None:
    async with MockCsms(invalid_start_tags=frozenset({"GONE"})) as csms, booted(csms) as station:
        await within(station.plug_in(1))
        result = await within(station.start_transaction(1, "GONE"))
        assert result.status is AuthorizationStatus.INVALID and result.transaction_id is not None
        stop = csms.calls("CP1", "StopTransaction")[0].payload
        assert (stop.transaction_id, stop.reason) == (result.transaction_id, Reason.DE_AUTHORIZED)
        assert statuses(csms, "CP1", 1)[-2:] == ["SuspendedEVSE", "Finishing"]


async def test_pending_boot_sends_nothing_else_until_accepted() -> None:
    async with MockCsms() as csms:
        csms.boot_replies["CP1"] = [(RegistrationStatus.PENDING, 1)]
        station = SimulatedStation(sim_config(csms.url, heartbeat_interval=0.05), "CP1")
        async with station:
            await within(station.connect())
            boot = asyncio.create_task(station.boot())
            try:
                await within(station.wait_until(lambda: station.registration is not None))
                assert station.registration is RegistrationStatus.PENDING
                answer = await within(boot, 3)
            finally:
                boot.cancel()
            assert answer.status is RegistrationStatus.ACCEPTED
            boots = csms.calls("CP1", "BootNotification")
            assert len(boots) == 2 and boots[1].at - boots[0].at >= 0.9
            # Nothing but BootNotification in between, though heartbeats are due every 50 ms.
            assert csms.actions("CP1")[:2] == ["BootNotification", "BootNotification"]


async def test_pending_boot_ends_when_the_csms_triggers_a_boot() -> None:
    async with MockCsms() as csms:
        csms.boot_replies["CP1"] = [(RegistrationStatus.PENDING, 3600)]
        station = SimulatedStation(sim_config(csms.url), "CP1")
        async with station, asyncio.TaskGroup() as tg:
            await within(station.connect())
            boot = tg.create_task(station.boot())
            await within(station.wait_until(lambda: station.registration is not None))
            # While pending the CSMS may read the configuration, then accept.
            answer = await within(
                csms.call(
                    "CP1", "GetConfiguration", GetConfigurationRequest(key=["NumberOfConnectors"])
                )
            )
            assert answer.configuration_key[0].value == "2"
            trigger = TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION)
            assert (await within(csms.call("CP1", "TriggerMessage", trigger))).status == "Accepted"
            assert (await within(boot)).status is RegistrationStatus.ACCEPTED
        assert csms.actions("CP1")[:3] == [
            "BootNotification",
            "BootNotification",
            "StatusNotification",
        ]


async def test_meter_start_is_the_register_in_whole_wh() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        before = station.meter_wh(1)
        await within(station.plug_in(1))
        await within(station.swipe(1, "TAG1"))
        start = csms.calls("CP1", "StartTransaction")[0].payload
        assert start.meter_start == before
        assert isinstance(start.meter_start, int) and not isinstance(start.meter_start, Decimal)


@pytest.mark.parametrize("password", ["s3cret"])
async def test_basic_auth(password: str) -> None:
    from websockets.exceptions import InvalidStatus

    async with MockCsms(password=password) as csms:
        async with booted(csms, basic_auth_password=password) as station:
            assert station.accepted
        wrong = SimulatedStation(sim_config(csms.url, basic_auth_password="nope"), "CP2")
        async with wrong:
            with pytest.raises(InvalidStatus) as caught:
                await within(wrong.connect())
            assert caught.value.response.status_code == 401
