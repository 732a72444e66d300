"""Properties of `price` over random tariffs and sessions (bounded hypothesis runs).

Sessions start near DST changes in several zones (Lord Howe moves its clocks by 30 minutes)
as well as on ordinary days, with readings up to seconds and microseconds apart.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kilowatt.billing.money import exponent, round_half_up, round_money
from kilowatt.billing.pricing import (
    ChargeRecord,
    Reading,
    breakdown_from_json,
    breakdown_to_json,
    charging_end,
    price,
)
from kilowatt.billing.tariffs import (
    WEEKDAYS,
    ComponentType,
    Restrictions,
    TariffSpec,
    parse_tariff,
    tariff_to_json,
)

PROPERTY = settings(max_examples=100, deadline=None)
Case = tuple[TariffSpec, ChargeRecord]
MINUTE = timedelta(minutes=1)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
# When those zones change their clocks in 2026 (Lord Howe by 30 minutes); UTC gets two
# ordinary instants. Sessions start up to 6 hours before one, so many span a change.
AROUND = {
    "Europe/Berlin": [datetime(2026, 3, 29, 1, 0), datetime(2026, 10, 25, 1, 0)],
    "America/New_York": [datetime(2026, 3, 8, 7, 0), datetime(2026, 11, 1, 6, 0)],
    "Australia/Lord_Howe": [datetime(2026, 4, 4, 15, 0), datetime(2026, 10, 3, 15, 30)],
    "UTC": [datetime(2026, 1, 17, 0, 0), datetime(2026, 3, 1, 0, 0)],
}
# Wall-clock times around the changes in those zones, and any other minute.
CLOCKS = st.one_of(
    st.sampled_from(["00:00", "01:00", "01:30", "01:45", "02:00", "02:15", "02:30", "03:00"]),
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
)


def starts(unit: timedelta, zone: str | None) -> st.SearchStrategy[datetime]:
    """Session starts on whole `unit`s up to 6 h before a clock change in `zone` (None: any)."""
    instants = [
        at.replace(tzinfo=UTC) for name, ats in AROUND.items() if zone in (None, name) for at in ats
    ]
    before = st.integers(0, timedelta(hours=6) // unit)
    return st.builds(lambda at, n: at - n * unit, st.sampled_from(instants), before)


TYPES = list(ComponentType)


def text(value: Decimal) -> str:
    return format(value, "f")


@st.composite
def ranges(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[Any, Any]:
    """An optional low and an optional high bound with low < high when both are given."""
    low, high = sorted(draw(st.lists(values, min_size=2, max_size=2, unique=True)))
    keep = draw(st.sampled_from(["low", "high", "both"]))
    return (low if keep != "high" else None, high if keep != "low" else None)


@st.composite
def window(draw: st.DrawFn) -> dict[str, str]:
    """A time-of-day window: from, until, or both (wrapping past midnight when until < from)."""
    start, end = draw(st.lists(CLOCKS, min_size=2, max_size=2, unique=True))
    keep = draw(st.sampled_from([("start_time",), ("end_time",), ("start_time", "end_time")]))
    return {
        name: value for name, value in (("start_time", start), ("end_time", end)) if name in keep
    }


@st.composite
def restrictions(
    draw: st.DrawFn, *, power: bool, kwh: bool, duration_unit: int = 1
) -> dict[str, Any]:
    out: dict[str, Any] = draw(window()) if draw(st.booleans()) else {}

    def maybe(name_low: str, name_high: str, values: st.SearchStrategy[Any], form: Any) -> None:
        if draw(st.booleans()):
            low, high = draw(ranges(values))
            for name, value in ((name_low, low), (name_high, high)):
                if value is not None:
                    out[name] = form(value)

    maybe("start_date", "end_date", st.dates(date(2026, 1, 1), date(2026, 12, 31)), date.isoformat)
    durations = st.integers(0, 8 * 3600 // duration_unit).map(lambda n: n * duration_unit)
    maybe("min_duration", "max_duration", durations, int)
    if kwh:
        maybe("min_kwh", "max_kwh", st.decimals(0, 60, places=1), text)
    if power:
        maybe("min_power", "max_power", st.decimals(0, 150, places=1), text)
    if draw(st.booleans()):
        days = st.sampled_from(
            ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
        )
        out["day_of_week"] = draw(st.lists(days, min_size=1, max_size=4, unique=True))
    return out


@st.composite
def tariffs(
    draw: st.DrawFn,
    *,
    steps: bool = True,
    power: bool = True,
    kwh: bool = True,
    energy_step: int | None = None,
    catch_all: bool = False,
    duration_unit: int = 1,
    windows_only: bool = False,
) -> TariffSpec:
    """A valid tariff; `catch_all` appends an unrestricted element pricing every dimension;
    `windows_only`: every other element is restricted to a time-of-day window, and only that."""
    step = st.sampled_from([1, 60, 300, 900, 1000, 3600]) if steps else st.just(1)

    def component(type_: ComponentType) -> dict[str, Any]:
        size = energy_step if energy_step and type_ is ComponentType.ENERGY else draw(step)
        return {
            "type": type_.value,
            "price": text(draw(st.decimals(0, 3, places=3))),
            "step_size": size,
        }

    elements = []
    for _ in range(draw(st.integers(1, 4))):
        types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=4, unique=True))
        item: dict[str, Any] = {"price_components": [component(t) for t in types]}
        if windows_only:
            item["restrictions"] = draw(window())
        elif draw(st.booleans()):
            item["restrictions"] = draw(
                restrictions(power=power, kwh=kwh, duration_unit=duration_unit)
            )
        elements.append(item)
    if catch_all:
        elements.append({"price_components": [component(t) for t in TYPES]})
    return parse_tariff(
        {
            "currency": draw(st.sampled_from(["EUR", "JPY", "KWD"])),
            "vat_percent": text(
                draw(st.sampled_from([Decimal(0), Decimal("7.7"), Decimal(19), Decimal(25)]))
            ),
            "timezone": draw(st.sampled_from(ZONES)),
            "idle_grace_minutes": draw(st.sampled_from([0, 15, 30])),
            "elements": elements,
        }
    )


@st.composite
def records(draw: st.DrawFn, *, zone: str | None = None, even: bool = False) -> ChargeRecord:
    """A plausible session, sometimes with two readings at one instant (a jump).

    `even`: readings at distinct instants, every gap and energy step divisible by two.
    """
    factor = 2 if even else 1
    start = draw(starts(timedelta(seconds=1), zone)) + timedelta(
        microseconds=draw(st.sampled_from([0, 1, 500_000]))
    )
    at, energy = start, draw(st.integers(0, 10**6))
    readings = [Reading(at, energy)]
    for _ in range(draw(st.integers(0, 6))):
        seconds = draw(st.integers(1 if even else 0, 5400))
        at += factor * timedelta(seconds=seconds, microseconds=draw(st.sampled_from([0, 7])))
        energy += factor * draw(st.integers(0, 15_000))
        readings.append(Reading(at, energy))
    end = at + timedelta(seconds=draw(st.integers(0, 3 * 3600)))
    choice = draw(st.sampled_from(["measured", "live", "random"]))
    ended: datetime | None = charging_end(readings, final=choice == "measured")
    if choice == "random":
        ended = start + timedelta(
            seconds=draw(st.integers(0, (end - start) // timedelta(seconds=1)))
        )
    return ChargeRecord(start, end, tuple(readings), ended)


@st.composite
def minute_records(draw: st.DrawFn, *, zone: str | None = None) -> ChargeRecord:
    """A session where everything happens on whole minutes, readings strictly in time order."""
    start = draw(starts(MINUTE, zone))
    at, energy = start, draw(st.integers(0, 10**6))
    readings = [Reading(at, energy)]
    for _ in range(draw(st.integers(0, 5))):
        at += timedelta(minutes=draw(st.integers(1, 120)))
        energy += draw(st.integers(0, 15_000))
        readings.append(Reading(at, energy))
    end = at + timedelta(minutes=draw(st.integers(0, 360)))
    ended = draw(
        st.sampled_from([None, charging_end(readings, final=True), start + (end - start) / 2])
    )
    if ended is not None:
        ended = ended.replace(second=0, microsecond=0)
    return ChargeRecord(start, end, tuple(readings), ended)


@st.composite
def cases(
    draw: st.DrawFn,
    /,
    tariff: st.SearchStrategy[TariffSpec],
    session: Any = records,
    **options: Any,
) -> tuple[TariffSpec, ChargeRecord]:
    """A tariff, and a session around a clock change of the tariff's timezone."""
    spec = draw(tariff)
    return spec, draw(session(zone=spec.timezone, **options))


def with_end(record: ChargeRecord, end: datetime) -> ChargeRecord:
    return dataclasses.replace(record, end=end)


# ---- the properties ---------------------------------------------------------------------------


@PROPERTY
@given(case=cases(tariffs()))
def test_the_bill_adds_up_and_is_never_negative(case: Case) -> None:
    spec, record = case
    b = price(spec, record)
    places = -exponent(spec.currency)
    amounts = [line.amount for line in b.lines]
    assert all(a >= 0 and a.as_tuple().exponent == places for a in amounts)
    assert sum(amounts, Decimal(0)) == b.subtotal == b.energy + b.time + b.parking + b.flat
    for type_, total in ((ComponentType.ENERGY, b.energy), (ComponentType.TIME, b.time)):
        assert sum((ln.amount for ln in b.lines if ln.type is type_), Decimal(0)) == total
    assert b.tax == round_money(b.subtotal * spec.vat_percent / 100, spec.currency)
    assert b.subtotal + b.tax == b.total >= 0
    assert {(ln.type, ln.element) for ln in b.lines} == {(ln.type, ln.element) for ln in b.lines[:]}
    assert len({(ln.type, ln.element) for ln in b.lines}) == len(b.lines)  # one line per pair


@PROPERTY
@given(case=cases(tariffs()))
def test_pricing_is_deterministic_and_survives_the_json_forms(case: Case) -> None:
    spec, record = case
    b = price(spec, record)
    assert price(parse_tariff(tariff_to_json(spec)), record) == b
    assert breakdown_from_json(breakdown_to_json(b)) == b


@PROPERTY
@given(case=cases(tariffs(steps=False)), extra=st.integers(1, 12 * 3600))
def test_staying_longer_never_costs_less(case: Case, extra: int) -> None:
    spec, record = case
    # With step sizes this does not hold in OCPI: the last element's step decides the rounding
    # of the whole dimension, so a cheap element with a fine step taking over later can lower
    # the bill. Hence step size 1 here.
    longer = with_end(record, record.end + timedelta(seconds=extra))
    assert price(spec, longer).total >= price(spec, record).total


@PROPERTY
@given(
    case=cases(tariffs(power=False, kwh=False)),
    extra=st.lists(st.integers(0, 20_000), min_size=7, max_size=7),
)
def test_more_energy_in_the_same_time_never_costs_less(case: Case, extra: list[int]) -> None:
    spec, record = case
    # Power and kWh restrictions are left out: more energy can reach a cheaper tier sooner
    # (a kWh tier that only applies at night, a TIME price that stops at 10 kWh).
    first = record.readings[0].energy_wh
    energies, added = [first], 0
    for before, after, more in zip(record.readings, record.readings[1:], extra, strict=False):
        added += more if after.energy_wh > before.energy_wh else 0  # flat stretches stay flat
        energies.append(after.energy_wh + added)
    scaled = dataclasses.replace(
        record,
        readings=tuple(Reading(r.at, wh) for r, wh in zip(record.readings, energies, strict=True)),
    )
    assert price(spec, scaled).total >= price(spec, record).total


@PROPERTY
@given(step=st.sampled_from([1, 100, 1000]), data=st.data())
def test_energy_lines_bill_the_delivered_energy_rounded_up_to_the_step(
    step: int, data: st.DataObject
) -> None:
    spec, record = data.draw(cases(tariffs(energy_step=step, catch_all=True)))
    b = price(spec, record)
    billed = sum((ln.quantity for ln in b.lines if ln.type is ComponentType.ENERGY), Decimal(0))
    expected = Fraction(math.ceil(Fraction(b.energy_wh, step)) * step, 1000)
    # each line's kWh is shown to 3 decimals: exact for whole Wh, else within half a Wh per line
    assert abs(Fraction(billed) - expected) <= Fraction(len(b.lines), 2000)
    assert b.energy_wh == record.readings[-1].energy_wh - record.readings[0].energy_wh


@PROPERTY
@given(case=cases(tariffs(steps=False, catch_all=True)))
def test_time_lines_bill_the_charging_and_parking_time(case: Case) -> None:
    spec, record = case
    b = price(spec, record)
    for type_, seconds in (
        (ComponentType.TIME, b.charging_seconds),
        (ComponentType.PARKING_TIME, b.parking_seconds),
    ):
        hours = sum((ln.quantity for ln in b.lines if ln.type is type_), Decimal(0))
        # whole seconds are floored; each line's hours are shown to 4 decimals
        tolerance = Fraction(1, 3600) + Fraction(len(b.lines), 20_000)
        assert abs(Fraction(hours) - Fraction(seconds, 3600)) <= tolerance


@PROPERTY
@given(case=cases(tariffs(), even=True))
def test_a_reading_on_the_straight_line_between_two_readings_changes_nothing(case: Case) -> None:
    spec, record = case
    # Power is constant between readings, so a reading that agrees with the interpolation adds
    # no information. (Not so for a jump, two readings at one instant: its power is undefined
    # and depends on the period it falls in; such data is implausible anyway.)
    points = list(record.readings)
    for before, after in zip(record.readings, record.readings[1:], strict=False):
        middle = Reading(
            before.at + (after.at - before.at) / 2, (before.energy_wh + after.energy_wh) // 2
        )
        points.insert(points.index(after), middle)
    denser = dataclasses.replace(record, readings=tuple(points))
    assert price(spec, denser) == price(spec, record)


# ---- an independent reference: price each minute on its own ----------------------------------

# raw unit (Wh, s, session) per billed unit, and the decimals a line shows
SCALE = {
    ComponentType.ENERGY: (1000, 3),
    ComponentType.TIME: (3600, 4),
    ComponentType.PARKING_TIME: (3600, 4),
    ComponentType.FLAT: (1, 0),
}


@PROPERTY
@given(case=cases(tariffs(steps=False, kwh=False, duration_unit=60), minute_records))
def test_prices_match_a_minute_by_minute_reference(case: Case) -> None:
    # With every reading, restriction and clock change on whole minutes, nothing can change
    # inside a minute, so pricing minute by minute is exact. kWh tiers are left out: they
    # switch wherever the energy crosses them, inside a minute too.
    assert_matches_reference(*case)


@PROPERTY
@given(case=cases(tariffs(steps=False, windows_only=True), minute_records))
def test_time_windows_across_clock_changes_match_the_minute_by_minute_reference(case: Case) -> None:
    # Every element behind a wall-clock window, most of them near the hours that are skipped
    # or repeated when the clocks change.
    assert_matches_reference(*case)


def assert_matches_reference(spec: TariffSpec, record: ChargeRecord) -> None:
    usage, charging, parking = reference_usage(spec, record)
    expected = []
    for (type_, element), raw in usage.items():
        per, places = SCALE[type_]
        unit_price = next(
            c.price for c in spec.elements[element].price_components if c.type is type_
        )
        amount = round_money(raw / per * Fraction(unit_price), spec.currency)
        expected.append((type_, element, round_half_up(raw / per, places), amount))
    b = price(spec, record)
    assert sorted((ln.type, ln.element, ln.quantity, ln.amount) for ln in b.lines) == sorted(
        expected
    )
    assert (b.charging_seconds, b.parking_seconds) == (charging, parking)


def reference_usage(
    spec: TariffSpec, record: ChargeRecord
) -> tuple[dict[tuple[ComponentType, int], Fraction], int, int]:
    """Raw quantities per (dimension, element), and the charging and billable parking seconds."""
    zone = ZoneInfo(spec.timezone)
    ended, grace = record.charging_ended_at, timedelta(minutes=spec.idle_grace_minutes)
    usage: dict[tuple[ComponentType, int], Fraction] = {}
    flat = first(spec, ComponentType.FLAT, record.start.astimezone(zone), 0, None)
    if flat is not None:
        usage[(ComponentType.FLAT, flat)] = Fraction(1)
    charging = parking = 0
    last: dict[ComponentType, int] = {}
    for k in range((record.end - record.start) // MINUTE):
        t = record.start + k * MINUTE
        wh = register(record, t + MINUTE) - register(record, t)
        is_charging = ended is None or t < ended
        is_parking = ended is not None and t >= ended + grace
        charging += 60 * is_charging
        parking += 60 * is_parking
        for type_, quantity in (
            (ComponentType.ENERGY, wh),
            (ComponentType.TIME, Fraction(60 * is_charging)),
            (ComponentType.PARKING_TIME, Fraction(60 * is_parking)),
        ):
            element = first(spec, type_, t.astimezone(zone), 60 * k, wh * 60 / 1000)
            if quantity and element is not None:
                usage[(type_, element)] = usage.get((type_, element), Fraction(0)) + quantity
                last[type_] = element
    for type_, element in last.items():  # step size 1: whole Wh and seconds, OCPI-style
        total = sum(q for (t, _), q in usage.items() if t is type_)
        usage[(type_, element)] += math.ceil(total) - total
    return usage, charging, parking


def register(record: ChargeRecord, t: datetime) -> Fraction:
    """Wh delivered by `t`: linear between readings, which are whole minutes apart."""
    base = record.readings[0].energy_wh
    for a, b in zip(record.readings, record.readings[1:], strict=False):
        if a.at <= t <= b.at:
            share = Fraction((t - a.at) // MINUTE, (b.at - a.at) // MINUTE)
            return a.energy_wh - base + (b.energy_wh - a.energy_wh) * share
    return Fraction(record.readings[-1].energy_wh - base)


def first(
    spec: TariffSpec, type_: ComponentType, local: datetime, seconds: int, kw: Fraction | None
) -> int | None:
    for i, element in enumerate(spec.elements):
        has = any(c.type is type_ for c in element.price_components)
        if has and allows(element.restrictions, local, seconds, kw):
            return i
    return None


def allows(r: Restrictions | None, local: datetime, seconds: int, kw: Fraction | None) -> bool:
    if r is None:
        return True
    return (
        in_window(r, local.hour * 60 + local.minute)
        and (r.start_date is None or local.date() >= r.start_date)
        and (r.end_date is None or local.date() < r.end_date)
        and (r.day_of_week is None or WEEKDAYS[local.weekday()] in r.day_of_week)
        and (r.min_duration is None or seconds >= r.min_duration)
        and (r.max_duration is None or seconds < r.max_duration)
        and (kw is None or r.min_power is None or kw >= r.min_power)
        and (kw is None or r.max_power is None or kw < r.max_power)
    )


def in_window(r: Restrictions, minute_of_day: int) -> bool:
    """Minutes since local midnight in [start_time, end_time), modulo a day if both are given."""
    start = None if r.start_time is None else r.start_time.hour * 60 + r.start_time.minute
    end = None if r.end_time is None else r.end_time.hour * 60 + r.end_time.minute
    if start is not None and end is not None:
        return (minute_of_day - start) % 1440 < (end - start) % 1440
    return (start is None or minute_of_day >= start) and (end is None or minute_of_day < end)
