"""The simulated charger is phase-true: single-phase cars, ConnectorPhaseRotation (OCPP 1.6
§9.1.7), Current.Import and Voltage per grid phase in MeterValues, and the draw per phase."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sim_csms import MockCsms
from simkit import booted, within

from kilowatt.ocpp.v16.enums import Measurand, Phase, ReadingContext
from kilowatt.ocpp.v16.messages import (
    ChangeConfigurationRequest,
    GetConfigurationRequest,
    MeterValue,
    SetChargingProfileRequest,
)
from kilowatt.simulator import Ev, SimulatedStation, SimulatorConfig
from kilowatt.simulator import smart_charging as sc
from kilowatt.simulator.configuration import Configuration, core_keys
from kilowatt.simulator.meter import Meter, parse_measurands
from kilowatt.simulator.phases import grid_lines, neutral_current, parse_rotations

from support.charging_profiles import profile, typed

SAFE_V = sc.SAFE_VOLTAGE  # 226.55 V: the lowest voltage the simulated AC meter reports
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
PER_PHASE = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"


def single_phase_car(max_power_w: float = 7_400.0) -> Ev:
    return Ev(capacity_wh=60_000, soc=0.2, max_power_w=max_power_w, phases=1)


def three_phase_car() -> Ev:
    return Ev(capacity_wh=60_000, soc=0.2, max_power_w=22_000)


def readings(value: MeterValue) -> dict[tuple[str, str | None], float]:
    return {(s.measurand, s.phase): float(s.value) for s in value.sampled_value}


def samples_after(csms: MockCsms, seen: int, connector_id: int) -> list[MeterValue]:
    """Sample.Periodic values of the connector among the MeterValues after the first `seen`."""
    return [
        value
        for call in csms.calls("CP1", "MeterValues")[seen:]
        if call.payload.connector_id == connector_id
        for value in call.payload.meter_value
        if value.sampled_value[0].context == ReadingContext.SAMPLE_PERIODIC
    ]


async def plateau(
    csms: MockCsms, seen: int, connector_id: int, watts: float
) -> dict[tuple[str, str | None], float]:
    """The first sample after the first `seen` MeterValues whose total power is `watts` (the
    ramp is over): its readings."""

    def found() -> list[MeterValue]:
        return [
            v
            for v in samples_after(csms, seen, connector_id)
            if abs(readings(v)[(Measurand.POWER_ACTIVE_IMPORT, None)] - watts) <= 0.1
        ]

    await within(csms.wait_for(lambda: bool(found())))
    return readings(found()[0])


async def limit_transaction(csms: MockCsms, station: SimulatedStation, amps: float) -> int:
    """A TxProfile of `amps` on connector 1's running transaction; the MeterValues count then."""
    tx = station.transaction_id(1)
    assert tx is not None
    body = profile(id=9, purpose="TxProfile", kind="Relative", periods=[(0, amps)])
    body["transactionId"] = tx
    request = SetChargingProfileRequest(connector_id=1, cs_charging_profiles=typed(body))
    seen = len(csms.calls("CP1", "MeterValues"))
    answer = await within(csms.call("CP1", "SetChargingProfile", request))
    assert answer.status == "Accepted"
    return seen


async def set_key(csms: MockCsms, key: str, value: str) -> None:
    answer = await within(
        csms.call("CP1", "ChangeConfiguration", ChangeConfigurationRequest(key=key, value=value))
    )
    assert answer.status == "Accepted"


def power_matches_phases(r: dict[tuple[str, str | None], float]) -> None:
    """Power.Active.Import stays the total: Σ current x voltage over the phases (rounding)."""
    total = sum(
        r[(Measurand.CURRENT_IMPORT, f"L{p}")] * r[(Measurand.VOLTAGE, f"L{p}-N")]
        for p in (1, 2, 3)
    )
    assert total == pytest.approx(r[(Measurand.POWER_ACTIVE_IMPORT, None)], abs=3 * 0.05 * 234)


# -- the pure parts ----------------------------------------------------------------------------
def test_rotation_wires_the_connector_phases_to_grid_phases() -> None:
    assert grid_lines("RST", 1) == (1,)
    assert grid_lines("STR", 1) == (2,)  # the rotation's first letter is the car's phase
    assert grid_lines("TSR", 1) == (3,)
    assert grid_lines("RTS", 3) == (1, 3, 2)
    assert grid_lines("SRT", 2) == (2, 1)
    assert grid_lines("Unknown", 1) == grid_lines("NotApplicable", 1) == (1,)
    assert parse_rotations("0.RST, 1.RST, 2.STR") == {0: "RST", 1: "RST", 2: "STR"}
    for bad in ("1.XYZ", "A.RST", "1RST", "1.rst"):
        with pytest.raises(ValueError):
            parse_rotations(bad)


def test_neutral_carries_the_imbalance() -> None:
    assert neutral_current({1: 16.0, 2: 16.0, 3: 16.0}) == pytest.approx(0.0, abs=1e-9)
    assert neutral_current({1: 0.0, 2: 16.0, 3: 0.0}) == pytest.approx(16.0)
    assert neutral_current({1: 16.0, 2: 16.0, 3: 0.0}) == pytest.approx(16.0)


def test_about_a_quarter_of_random_ac_cars_are_single_phase() -> None:
    rng = random.Random(3)
    cars = [Ev.random(rng, dc=False) for _ in range(4000)]
    single = [c for c in cars if c.phases == 1]
    assert 0.22 <= len(single) / len(cars) <= 0.28
    assert {c.max_power_w for c in single} == {3_700.0, 7_400.0}
    assert {c.max_power_w for c in cars if c.phases == 3} == {11_000.0, 22_000.0}
    assert {c.phases for c in cars} == {1, 3}
    assert {Ev.random(rng, dc=True).phases for _ in range(200)} == {3}
    with pytest.raises(ValueError):
        Ev(capacity_wh=1, soc=0, phases=4)


def test_phase_rotation_is_a_config_option_reported_in_the_key() -> None:
    keys = Configuration(
        core_keys(
            connectors=3,
            dc=False,
            sample_interval=10,
            heartbeat_interval=300,
            sampled_data="SoC",
            phase_rotation=("STR", "TRS"),
        )
    )
    assert keys["ConnectorPhaseRotation"] == "0.RST,1.STR,2.TRS,3.RST"
    default = SimulatedStation(SimulatorConfig(url="ws://127.0.0.1:9/o"), "X")
    assert default.configuration["ConnectorPhaseRotation"] == "0.RST,1.RST,2.RST"
    dc = SimulatedStation(SimulatorConfig(url="ws://127.0.0.1:9/o", max_power_w=50_000), "X")
    assert (
        dc.configuration["ConnectorPhaseRotation"]
        == "0.NotApplicable,1.NotApplicable,2.NotApplicable"
    )
    for bad in (
        {"phase_rotation": ("XYZ",)},
        {"phase_rotation": ("RST", "RST", "RST")},  # 2 connectors
        {"phase_rotation": ("RST",), "max_power_w": 50_000},  # DC
    ):
        with pytest.raises(ValueError):
            SimulatorConfig(url="ws://x", **bad)  # type: ignore[arg-type]


def test_meter_reads_current_voltage_and_power_per_grid_phase() -> None:
    meter = Meter(22_000, dc=False)
    meter.rotation = "STR"
    meter.add(0.0, 16 * SAFE_V, random.Random(1), single_phase_car())
    items = parse_measurands(
        "Power.Active.Import,Current.Import,Voltage,Current.Import.N,Power.Active.Import.L2,"
        "Power.Active.Import.L1,Voltage.L1-L2"
    )
    value = meter.meter_value(items, ReadingContext.SAMPLE_PERIODIC, T0, None)
    r = readings(value)
    assert [(s.measurand, s.phase) for s in value.sampled_value][:7] == [
        (Measurand.POWER_ACTIVE_IMPORT, None),
        (Measurand.CURRENT_IMPORT, Phase.L1),
        (Measurand.CURRENT_IMPORT, Phase.L2),
        (Measurand.CURRENT_IMPORT, Phase.L3),
        (Measurand.VOLTAGE, Phase.L1_N),
        (Measurand.VOLTAGE, Phase.L2_N),
        (Measurand.VOLTAGE, Phase.L3_N),
    ]
    assert r[(Measurand.CURRENT_IMPORT, "L1")] == r[(Measurand.CURRENT_IMPORT, "L3")] == 0.0
    assert 15.5 <= r[(Measurand.CURRENT_IMPORT, "L2")] <= 16.0
    assert r[(Measurand.CURRENT_IMPORT, "N")] == r[(Measurand.CURRENT_IMPORT, "L2")]
    assert r[(Measurand.POWER_ACTIVE_IMPORT, None)] == pytest.approx(16 * SAFE_V, abs=0.05)
    assert r[(Measurand.POWER_ACTIVE_IMPORT, "L2")] == r[(Measurand.POWER_ACTIVE_IMPORT, None)]
    assert r[(Measurand.POWER_ACTIVE_IMPORT, "L1")] == 0.0
    assert all(SAFE_V - 0.05 <= r[(Measurand.VOLTAGE, f"L{p}-N")] <= 233.5 for p in (1, 2, 3))
    assert 392 <= r[(Measurand.VOLTAGE, "L1-L2")] <= 405  # √3 x 230 V
    power_matches_phases(r)
    # DC has no phases: an unphased current stays one value (the DC current)
    dc = Meter(50_000, dc=True)
    dc.add(0.0, 40_000, random.Random(1), Ev(capacity_wh=60_000, soc=0.5))
    dc_value = dc.meter_value(
        parse_measurands("Current.Import,Voltage"), ReadingContext.SAMPLE_PERIODIC, T0, None
    )
    assert [s.phase for s in dc_value.sampled_value] == [None, None]
    assert dc.phase_currents() == dict.fromkeys((1, 2, 3), pytest.approx(40_000 / 690))


def test_car_phases_and_number_phases_both_cap_the_power() -> None:
    st = SimulatedStation(SimulatorConfig(url="ws://127.0.0.1:9/o", max_power_w=22_000), "X")
    connector = st.connectors[1]
    window = (T0 + timedelta(minutes=2), T0 + timedelta(minutes=2, seconds=10))

    def cap(ev: Ev) -> float:
        connector.ev = ev
        [(_, watts)] = sc.caps_w(st, connector, *window)
        return watts

    # no profile: the connector's current rating per phase times the car's phases
    assert cap(single_phase_car(max_power_w=22_000)) == pytest.approx(22_000 / 3)
    assert cap(three_phase_car()) == 22_000
    request = SetChargingProfileRequest(
        connector_id=1, cs_charging_profiles=typed(profile(start=T0, periods=[(0, 16)]))
    )
    assert sc.set_profile(st, request) == "Accepted"
    assert cap(single_phase_car()) == pytest.approx(16 * SAFE_V)
    assert cap(three_phase_car()) == pytest.approx(16 * SAFE_V * 3)
    request = SetChargingProfileRequest(
        connector_id=1,
        cs_charging_profiles=typed(profile(start=T0, periods=[(0, 16)], phases=1)),
    )
    assert sc.set_profile(st, request) == "Accepted"
    assert cap(three_phase_car()) == pytest.approx(16 * SAFE_V)  # numberPhases 1 < 3
    assert cap(single_phase_car()) == pytest.approx(16 * SAFE_V)


# -- against a CSMS ----------------------------------------------------------------------------
async def test_single_phase_car_under_a_16_a_tx_profile_draws_16_a_on_one_phase() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=0.1) as station:
        await set_key(csms, "MeterValuesSampledData", PER_PHASE)
        await within(station.plug_in(1, single_phase_car()))
        await within(station.swipe(1, "TAG1"))
        unlimited = await plateau(csms, 0, 1, 22_000 / 3)  # 32 A rating x 1 phase
        assert unlimited[(Measurand.CURRENT_IMPORT, "L1")] > 31
        seen = await limit_transaction(csms, station, 16)

        r = await plateau(csms, seen, 1, round(16 * SAFE_V, 1))
        assert 15.5 <= r[(Measurand.CURRENT_IMPORT, "L1")] <= 16.0
        assert r[(Measurand.CURRENT_IMPORT, "L2")] == r[(Measurand.CURRENT_IMPORT, "L3")] == 0.0
        power_matches_phases(r)
        phases = station.draw_phases(1)
        assert [p for p, amps in phases.items() if amps > 0] == [1]
        assert 15.5 <= phases[1] <= 16.0 and 15.5 <= station.draw_a(1) <= 16.0
        assert station.draw_w(1) == pytest.approx(16 * SAFE_V)
        for value in samples_after(csms, seen, 1):
            assert readings(value)[(Measurand.CURRENT_IMPORT, "L1")] <= 16.0


async def test_rotation_str_puts_a_single_phase_car_on_l2_and_the_station_sums() -> None:
    async with (
        MockCsms() as csms,
        booted(csms, meter_interval=0.1, phase_rotation=("RST", "STR")) as station,
    ):
        key = await within(
            csms.call(
                "CP1", "GetConfiguration", GetConfigurationRequest(key=["ConnectorPhaseRotation"])
            )
        )
        assert [(k.key, k.value) for k in key.configuration_key] == [
            ("ConnectorPhaseRotation", "0.RST,1.RST,2.STR")
        ]
        await set_key(csms, "MeterValuesSampledData", PER_PHASE)
        await within(station.plug_in(2, single_phase_car()))
        await within(station.swipe(2, "TAG2"))
        r = await plateau(csms, 0, 2, 22_000 / 3)
        assert r[(Measurand.CURRENT_IMPORT, "L1")] == r[(Measurand.CURRENT_IMPORT, "L3")] == 0.0
        assert 31 <= r[(Measurand.CURRENT_IMPORT, "L2")] <= 32.4
        power_matches_phases(r)
        car = station.draw_phases(2)
        assert car[1] == car[3] == 0.0 and car[2] > 31

        await within(station.plug_in(1, three_phase_car()))
        await within(station.swipe(1, "TAG1"))
        await plateau(csms, len(csms.calls("CP1", "MeterValues")), 1, 22_000)
        whole = station.draw_phases()
        # each draw is a new reading (the voltages vary): sum the meters of that same one
        one, two = (station.connectors[c].meter.phase_currents() for c in (1, 2))
        assert whole == {p: pytest.approx(one[p] + two[p]) for p in (1, 2, 3)}
        assert whole[2] > whole[1] + 30 and whole[1] == one[1] > 31
        assert 31 <= station.draw_a(1) <= 32.4

        # the key is the wiring: a CSMS correcting it moves the reported load
        await set_key(csms, "ConnectorPhaseRotation", "0.RST,1.RST,2.TRS")
        seen = len(csms.calls("CP1", "MeterValues"))
        moved = await plateau(csms, seen, 2, 22_000 / 3)
        assert moved[(Measurand.CURRENT_IMPORT, "L2")] == 0.0
        assert moved[(Measurand.CURRENT_IMPORT, "L3")] > 31


async def test_a_three_phase_car_is_unchanged() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=0.1) as station:
        await set_key(csms, "MeterValuesSampledData", PER_PHASE)
        await within(station.plug_in(1, three_phase_car()))
        await within(station.swipe(1, "TAG1"))
        unlimited = await plateau(csms, 0, 1, 22_000)
        assert all(31 <= unlimited[(Measurand.CURRENT_IMPORT, f"L{p}")] <= 32.4 for p in (1, 2, 3))
        seen = await limit_transaction(csms, station, 16)
        r = await plateau(csms, seen, 1, round(16 * SAFE_V * 3, 1))
        assert all(15.5 <= r[(Measurand.CURRENT_IMPORT, f"L{p}")] <= 16.0 for p in (1, 2, 3))
        power_matches_phases(r)
        assert min(station.draw_phases(1).values()) > 15.5
        assert station.draw_w(1) == pytest.approx(16 * SAFE_V * 3)


async def test_energy_follows_the_total_power_of_a_single_phase_car() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=0.1) as station:
        await set_key(csms, "MeterValuesSampledData", PER_PHASE)
        await within(station.plug_in(1, single_phase_car()))
        await within(station.swipe(1, "TAG1"))
        await plateau(csms, 0, 1, 22_000 / 3)
        connector = station.connectors[1]
        watts = station.draw_w(1)  # brings the meter up to now
        e0, t0 = connector.meter.register_wh, connector.last_tick
        seen = len(csms.calls("CP1", "MeterValues"))
        await within(csms.wait_for(lambda: len(samples_after(csms, seen, 1)) >= 5))
        assert station.draw_w(1) == watts == pytest.approx(22_000 / 3)
        wh, hours = connector.meter.register_wh - e0, (connector.last_tick - t0) / 3600
        assert wh == pytest.approx(watts * hours, rel=1e-6)  # the total, not per phase
        for value in samples_after(csms, seen, 1):
            assert len(value.sampled_value) == 8  # energy, power, 3 currents, 3 voltages
            power_matches_phases(readings(value))
