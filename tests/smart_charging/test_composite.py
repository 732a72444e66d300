"""The composite schedule (OCPP 1.6 §3.13): examples from the spec, then properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kilowatt.ocpp.v16.enums import ChargingRateUnitType
from kilowatt.smart_charging.composite import (
    Composite,
    Installed,
    Limit,
    composite_schedule,
    convert,
)

from support.charging_profiles import profile, typed

A, W = ChargingRateUnitType.AMPS, ChargingRateUnitType.WATTS
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def on(connector: int, **kw: object) -> Installed:
    return Installed(connector, typed(profile(**kw)))  # type: ignore[arg-type]


def limits(c: Composite) -> list[tuple[int, Decimal | None]]:
    return [(p.start, p.limit) for p in c.periods]


def test_no_profiles_no_limit() -> None:
    c = composite_schedule([], connector_id=1, start=T0, duration=3600, unit=A)
    assert limits(c) == [(0, None)] and not c.limited()
    assert c.as_schedule() is None
    schedule = c.as_schedule(Decimal(32))
    assert schedule is not None and schedule.charging_schedule_period[0].limit == Decimal(32)


def test_spec_example_daily_recurring_6kw_from_8_to_20() -> None:
    # OCPP 1.6 §3.13.7: a daily TxDefaultProfile, 11 kW except 6 kW between 08:00 and 20:00.
    daily = on(
        0,
        id=100,
        kind="Recurring",
        recurrency="Daily",
        unit="W",
        start=datetime(2013, 1, 1, tzinfo=UTC),
        duration=86400,
        periods=[(0, 11000), (28800, 6000), (72000, 11000)],
        phases=3,
    )
    c = composite_schedule([daily], connector_id=2, start=T0, duration=2 * 86400, unit=W)
    assert limits(c) == [
        (0, Decimal(11000)),
        (28800, Decimal(6000)),
        (72000, Decimal(11000)),
        (86400 + 28800, Decimal(6000)),
        (86400 + 72000, Decimal(11000)),
    ]
    # in amperes: 6000 W / (230 V x 3) = 8.69… -> 8.6 A (rounded down)
    amps = composite_schedule([daily], connector_id=2, start=T0, duration=86400, unit=A)
    assert limits(amps) == [(0, Decimal("15.9")), (28800, Decimal("8.6")), (72000, Decimal("15.9"))]


def test_weekly_recurrence_and_duration_shorter_than_the_recurrence() -> None:
    weekly = on(
        1,
        kind="Recurring",
        recurrency="Weekly",
        start=T0,  # Monday 00:00, 10 A for one day, then nothing until next Monday
        duration=86400,
        periods=[(0, 10)],
    )
    c = composite_schedule([weekly], connector_id=1, start=T0, duration=8 * 86400, unit=A)
    assert limits(c) == [(0, Decimal(10)), (86400, None), (7 * 86400, Decimal(10))]


def test_highest_stack_level_wins_and_falls_back_when_its_duration_ends() -> None:
    base = on(1, id=1, stack=0, start=T0, periods=[(0, 32)])
    top = on(1, id=2, stack=1, start=T0, duration=600, periods=[(0, 6)])
    c = composite_schedule([top, base], connector_id=1, start=T0, duration=3600, unit=A)
    assert limits(c) == [(0, Decimal(6)), (600, Decimal(32))]
    higher_but_more = on(1, id=3, stack=2, start=T0, duration=300, periods=[(0, 40)])
    c = composite_schedule(
        [top, base, higher_but_more], connector_id=1, start=T0, duration=3600, unit=A
    )
    # the prevailing profile is the highest stack level, even when its limit is higher
    assert limits(c) == [(0, Decimal(40)), (300, Decimal(6)), (600, Decimal(32))]


def test_valid_from_and_valid_to() -> None:
    p = on(
        1,
        start=T0,
        periods=[(0, 10)],
        valid_from=T0 + timedelta(minutes=10),
        valid_to=T0 + timedelta(minutes=20),
    )
    c = composite_schedule([p], connector_id=1, start=T0, duration=3600, unit=A)
    assert limits(c) == [(0, None), (600, Decimal(10)), (1200, None)]


def test_tx_profile_overrules_tx_default_and_charge_point_max_caps_both() -> None:
    default = on(0, id=1, start=T0, periods=[(0, 10)])
    tx = on(1, id=2, purpose="TxProfile", kind="Relative", periods=[(0, 24), (600, 8)])
    station = on(0, id=3, purpose="ChargePointMaxProfile", start=T0, periods=[(0, 20)])
    started = T0 - timedelta(minutes=5)
    c = composite_schedule(
        [default, tx, station],
        connector_id=1,
        start=T0,
        duration=3600,
        unit=A,
        transaction_id=7,
        transaction_start=started,
    )
    # Relative: 24 A from the transaction's start (capped to 20 A), 8 A after 600 s of it
    assert limits(c) == [(0, Decimal(20)), (300, Decimal(8))]
    # without a transaction only the default applies (and the station's cap)
    idle = composite_schedule([default, tx, station], connector_id=1, start=T0, duration=60, unit=A)
    assert limits(idle) == [(0, Decimal(10))]
    # a TxProfile of another transaction does not apply
    other = on(1, id=4, purpose="TxProfile", kind="Relative", transaction_id=99, periods=[(0, 2)])
    c = composite_schedule(
        [default, other], connector_id=1, start=T0, duration=60, unit=A, transaction_start=T0
    )
    assert limits(c) == [(0, Decimal(10))]
    # connector 0 reports the station's limit
    whole = composite_schedule(
        [default, tx, station], connector_id=0, start=T0, duration=60, unit=W
    )
    assert limits(whole) == [(0, Decimal(13800))]


def test_connector_tx_default_replaces_connector_0_at_the_same_stack_level() -> None:
    everywhere = on(0, id=1, stack=0, start=T0, periods=[(0, 10)])
    here = on(2, id=2, stack=0, start=T0, periods=[(0, 20)])
    assert limits(
        composite_schedule([everywhere, here], connector_id=2, start=T0, duration=60, unit=A)
    ) == [(0, Decimal(20))]
    assert limits(
        composite_schedule([everywhere, here], connector_id=1, start=T0, duration=60, unit=A)
    ) == [(0, Decimal(10))]


def test_conversion_uses_the_period_phases() -> None:
    one_phase = Limit(Decimal(16), A, 1)
    assert convert(one_phase, W) == Decimal(3680)
    assert convert(Limit(Decimal(11040), W, None), A) == Decimal(16)
    assert convert(Limit(Decimal(7400), W, 1), A, Decimal(230)) == Decimal("32.1")


def test_start_is_resolved_to_whole_seconds() -> None:
    p = on(1, start=T0, periods=[(0, 10), (60, 5)])
    c = composite_schedule(
        [p], connector_id=1, start=T0 + timedelta(milliseconds=300), duration=120, unit=A
    )
    assert c.start == T0 + timedelta(seconds=1)
    assert limits(c) == [(0, Decimal(10)), (59, Decimal(5))]


# ---- properties -------------------------------------------------------------------------------
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")


@st.composite
def installed_profiles(draw: st.DrawFn) -> list[Installed]:
    count = draw(st.integers(0, 6))
    result: list[Installed] = []
    for i in range(count):
        purpose = draw(st.sampled_from(PURPOSES))
        kind = draw(st.sampled_from(("Absolute", "Recurring", "Relative")))
        starts = sorted(draw(st.sets(st.integers(1, 20_000), max_size=4)))
        periods = [(s, float(Decimal(draw(st.integers(0, 800))) / 10)) for s in [0, *starts]]
        unit = draw(st.sampled_from(("A", "W")))
        if unit == "W":
            periods = [(s, lim * 700) for s, lim in periods]
        connector = 0 if purpose == "ChargePointMaxProfile" else draw(st.integers(0, 2))
        if purpose == "TxProfile":
            connector = 1
        start = None
        if kind != "Relative":
            start = T0 + timedelta(seconds=draw(st.integers(-90_000, 20_000)))
        duration = draw(st.none() | st.integers(max(s for s, _ in periods) + 1, 100_000))
        result.append(
            on(
                connector,
                id=i + 1,
                purpose=purpose,
                kind=kind,
                stack=draw(st.integers(0, 3)),
                unit=unit,
                periods=periods,
                start=start,
                duration=duration,
                recurrency=draw(st.sampled_from(("Daily", "Weekly")))
                if kind == "Recurring"
                else None,
                phases=draw(st.none() | st.integers(1, 3)),
                valid_from=draw(st.none() | st.just(T0 + timedelta(seconds=500))),
            )
        )
    return result


def _compute(profiles: list[Installed], unit: ChargingRateUnitType) -> Composite:
    return composite_schedule(
        profiles,
        connector_id=1,
        start=T0,
        duration=30_000,
        unit=unit,
        transaction_id=5,
        transaction_start=T0 - timedelta(seconds=100),
    )


@settings(max_examples=150, deadline=None)
@given(installed_profiles(), st.sampled_from((A, W)))
def test_never_above_any_charge_point_max_limit(
    profiles: list[Installed], unit: ChargingRateUnitType
) -> None:
    # The prevailing ChargePointMaxProfile (the highest valid stack level) caps the result.
    c = _compute(profiles, unit)
    station = _compute(
        [p for p in profiles if p.profile.charging_profile_purpose == "ChargePointMaxProfile"],
        unit,
    )
    for t in sorted({p.start for p in c.periods} | {p.start for p in station.periods}):
        cap = station.at(t).limit
        if cap is not None:
            got = c.at(t).limit
            assert got is not None and got <= cap


@settings(max_examples=150, deadline=None)
@given(installed_profiles(), st.sampled_from((A, W)))
def test_piecewise_constant_and_deterministic(
    profiles: list[Installed], unit: ChargingRateUnitType
) -> None:
    c = _compute(profiles, unit)
    starts = [p.start for p in c.periods]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < c.duration
    for before, after in zip(c.periods, c.periods[1:], strict=False):
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)
    shuffled = list(profiles)
    random.Random(len(profiles)).shuffle(shuffled)
    assert _compute(shuffled, unit) == c


@settings(max_examples=150, deadline=None)
@given(installed_profiles(), st.sampled_from((A, W)))
def test_tx_profile_beats_tx_default(profiles: list[Installed], unit: ChargingRateUnitType) -> None:
    without_station = [
        p for p in profiles if p.profile.charging_profile_purpose != "ChargePointMaxProfile"
    ]
    tx_only = [p for p in without_station if p.profile.charging_profile_purpose == "TxProfile"]
    c = _compute(without_station, unit)
    tx = _compute(tx_only, unit)
    for t in sorted({p.start for p in c.periods} | {p.start for p in tx.periods}):
        if tx.at(t).limit is not None:  # a TxProfile is in force: the defaults do not matter
            assert c.at(t).limit == tx.at(t).limit
