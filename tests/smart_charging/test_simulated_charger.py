"""The simulated charger holds profiles as a charger does (OCPP 1.6 §3.13, §5.16, §9.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from kilowatt.ocpp.v16.messages import (
    ClearChargingProfileRequest,
    GetCompositeScheduleRequest,
    SetChargingProfileRequest,
)
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.simulator import smart_charging as sc

from support.charging_profiles import profile, typed


def charger(**config: object) -> SimulatedStation:
    return SimulatedStation(SimulatorConfig(url="ws://127.0.0.1:9/ocpp", **config), "SIM-SC")  # type: ignore[arg-type]


def set_on(st: SimulatedStation, connector: int, **kw: object) -> str:
    request = SetChargingProfileRequest(
        connector_id=connector,
        cs_charging_profiles=typed(profile(**kw)),  # type: ignore[arg-type]
    )
    return sc.set_profile(st, request)


def test_it_reports_the_smart_charging_keys_and_profile() -> None:
    st = charger()
    assert "SmartCharging" in st.configuration["SupportedFeatureProfiles"].split(",")
    assert st.configuration["ChargeProfileMaxStackLevel"] == "8"
    assert st.configuration["MaxChargingProfilesInstalled"] == "16"


def test_replacement_by_id_and_by_stack_level_and_purpose() -> None:
    T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=1
    )  # at test time: a full run takes minutes
    st = charger()
    assert set_on(st, 1, id=1, start=T0, periods=[(0, 10)]) == "Accepted"
    assert set_on(st, 1, id=2, start=T0, periods=[(0, 12)]) == "Accepted"  # same stack: replaces
    assert [h.profile.charging_profile_id for h in st.profiles.held] == [2]
    assert set_on(st, 2, id=2, start=T0, stack=1) == "Accepted"  # same id: replaces
    assert [(h.connector_id, h.profile.stack_level) for h in st.profiles.held] == [(2, 1)]


def test_it_refuses_what_its_configuration_does_not_allow() -> None:
    T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=1
    )  # at test time: a full run takes minutes
    st = charger()
    assert set_on(st, 1, start=T0, stack=9) == "Rejected"  # ChargeProfileMaxStackLevel 8
    assert set_on(st, 3, start=T0) == "Rejected"  # no connector 3
    assert set_on(st, 1, purpose="TxProfile", kind="Relative") == "Rejected"  # no transaction
    assert set_on(st, 1, purpose="ChargePointMaxProfile", start=T0) == "Rejected"
    st.configuration.set("ChargingScheduleAllowedChargingRateUnit", "Current")
    assert set_on(st, 1, start=T0, unit="W", periods=[(0, 7000)]) == "Rejected"
    st.configuration.set("MaxChargingProfilesInstalled", "2")
    assert set_on(st, 0, id=1, start=T0) == "Accepted"
    assert set_on(st, 1, id=2, start=T0) == "Accepted"
    assert set_on(st, 2, id=3, start=T0) == "Rejected"
    assert set_on(st, 1, id=2, start=T0, periods=[(0, 8)]) == "Accepted"  # a replacement fits


def test_clear_matches_every_given_field() -> None:
    T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=1
    )  # at test time: a full run takes minutes
    st = charger()
    for pid, connector, stack in ((1, 0, 0), (2, 1, 0), (3, 1, 1), (4, 2, 1)):
        assert set_on(st, connector, id=pid, stack=stack, start=T0) == "Accepted"

    def clear(**kw: object) -> str:
        return sc.clear_profiles(st, msgspec.convert(kw, ClearChargingProfileRequest))

    assert clear(connectorId=1, stackLevel=1) == "Accepted"
    assert sorted(h.profile.charging_profile_id for h in st.profiles.held) == [1, 2, 4]
    assert clear(id=2, connectorId=2) == "Unknown"  # id 2 is on connector 1: no match
    assert clear(chargingProfilePurpose="TxDefaultProfile") == "Accepted"
    assert clear() == "Unknown"


def test_composite_answer_fills_unlimited_time_with_its_maximum() -> None:
    T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=1
    )  # at test time: a full run takes minutes
    st = charger(max_power_w=22_000.0)
    assert set_on(st, 1, start=T0, duration=600, periods=[(0, 10)]) == "Accepted"
    answer = sc.composite_answer(st, GetCompositeScheduleRequest(connector_id=1, duration=3600))
    assert answer.status == "Accepted" and answer.charging_schedule is not None
    periods = answer.charging_schedule.charging_schedule_period
    assert [float(p.limit) for p in periods] == [10.0, 31.8]  # 22 kW / (230 V x 3)
    assert answer.charging_schedule.charging_rate_unit == "A"
    unknown = sc.composite_answer(st, GetCompositeScheduleRequest(connector_id=7, duration=60))
    assert unknown.status == "Rejected"
