"""The pure parts: the EV's power curve, the meter's measurands, configuration keys, config."""

from __future__ import annotations

import pytest

from kilowatt.ocpp.v16.enums import ConfigurationStatus, Measurand, Phase
from kilowatt.simulator import SimulatorConfig
from kilowatt.simulator.configuration import Configuration, core_keys
from kilowatt.simulator.ev import RAMP_SECONDS, Ev, advance, charge_power_w
from kilowatt.simulator.meter import DEFAULT_SAMPLED_DATA_AC, MeterItem, parse_measurands


def test_power_ramps_up_holds_then_tapers_to_zero_when_full() -> None:
    ev = Ev(capacity_wh=50_000, soc=0.2, max_power_w=11_000)
    assert charge_power_w(ev, 22_000, dc=False) == pytest.approx(0.25 * 11_000)
    ev.charging_seconds = RAMP_SECONDS
    assert charge_power_w(ev, 22_000, dc=False) == 11_000  # the car is the limit
    assert charge_power_w(ev, 7_400, dc=False) == 7_400  # the connector is the limit
    ev.soc = 0.97
    assert 0 < charge_power_w(ev, 22_000, dc=False) < 11_000
    ev.soc = 1.0
    assert charge_power_w(ev, 22_000, dc=False) == 0


def test_dc_tapers_earlier_than_ac() -> None:
    ac = Ev(capacity_wh=50_000, soc=0.8, max_power_w=150_000, charging_seconds=RAMP_SECONDS)
    dc = Ev(capacity_wh=50_000, soc=0.8, max_power_w=150_000, charging_seconds=RAMP_SECONDS)
    assert charge_power_w(ac, 22_000, dc=False) == 22_000
    assert charge_power_w(dc, 150_000, dc=True) < 0.6 * 150_000


def test_meter_sees_wall_time_and_battery_sees_scaled_time() -> None:
    ev = Ev(capacity_wh=60_000, soc=0.2, max_power_w=11_000, charging_seconds=RAMP_SECONDS)
    energy, power = advance(ev, 1.0, time_scale=60.0, connector_max_w=11_000, dc=False)
    assert power == 11_000
    assert energy == pytest.approx(11_000 / 3600)  # 1 s of wall time at 11 kW
    assert ev.soc == pytest.approx(0.2 + 11_000 * 60 / 3600 / 60_000)  # 60 s for the car


def test_measurand_lists_with_phases() -> None:
    items = parse_measurands(DEFAULT_SAMPLED_DATA_AC)
    assert len(items) == 8
    assert MeterItem(Measurand.CURRENT_IMPORT, Phase.L2) in items
    assert MeterItem(Measurand.VOLTAGE, Phase.L1_N) in items
    assert parse_measurands(" SoC , Energy.Active.Import.Register ") == (
        MeterItem(Measurand.SOC),
        MeterItem(Measurand.ENERGY_ACTIVE_IMPORT_REGISTER),
    )
    with pytest.raises(ValueError, match="unknown"):
        parse_measurands("Energy.Active.Import.Register,Bogus")
    with pytest.raises(ValueError, match="not sampled"):
        parse_measurands("RPM")


def test_configuration_keys() -> None:
    config = Configuration(
        core_keys(
            connectors=2, dc=False, sample_interval=10, heartbeat_interval=300, sampled_data="SoC"
        )
    )
    assert config.change("heartbeatinterval", " 60 ") is ConfigurationStatus.ACCEPTED
    assert config["HeartbeatInterval"] == "60"
    assert config.change("HeartbeatInterval", "0") is ConfigurationStatus.REJECTED
    assert config.change("StopTransactionOnInvalidId", "FALSE") is ConfigurationStatus.ACCEPTED
    assert config.get_bool("StopTransactionOnInvalidId") is False
    assert config.change("ConnectorPhaseRotation", "0.RST,1.RTS") is ConfigurationStatus.ACCEPTED
    assert config.change("ConnectorPhaseRotation", "1.XYZ") is ConfigurationStatus.REJECTED
    assert config.change("GetConfigurationMaxKeys", "5") is ConfigurationStatus.REJECTED
    assert config.change("Unknown", "5") is ConfigurationStatus.NOT_SUPPORTED
    found, unknown = config.key_values(["NUMBEROFCONNECTORS", "x"])
    assert [(kv.key, kv.value, kv.readonly) for kv in found] == [("NumberOfConnectors", "2", True)]
    assert unknown == ["x"]
    assert config["MeterValueSampleInterval"] == "10"


def test_simulator_config() -> None:
    config = SimulatorConfig(url="ws://localhost:8180/ocpp/", stations=12000)
    assert config.station_url("SIM00001") == "ws://localhost:8180/ocpp/SIM00001"
    assert config.station_id(0) == "SIM00001"
    assert not config.is_dc and SimulatorConfig(url="wss://x/o", max_power_w=50_000).is_dc
    for bad in (
        {"url": "http://x"},
        {"url": "ws://x", "connectors": 0},
        {"url": "ws://x", "id_tags": ("x" * 21,)},
    ):
        with pytest.raises(ValueError):
            SimulatorConfig(**bad)  # type: ignore[arg-type]
