"""Hand-worked prices of charging sessions (OCPI 2.2.1 tariff semantics).

Each test writes its arithmetic out; amounts exclude VAT until `tax` and `total`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kilowatt.billing.pricing import (
    ChargeRecord,
    CostBreakdown,
    ImplausibleData,
    PlainPrice,
    Reading,
    applicable_prices,
    breakdown_from_json,
    breakdown_to_json,
    charging_end,
    implausibilities,
    price,
)
from kilowatt.billing.tariffs import TariffSpec, parse_tariff

# ---- how tests say tariffs and sessions -------------------------------------------------------


def tariff(*elements: dict[str, Any], **fields: Any) -> TariffSpec:
    """A tariff from its JSON form (EUR, 19 % VAT, UTC unless said otherwise)."""
    return parse_tariff(
        {"currency": "EUR", "vat_percent": "19", **fields, "elements": list(elements)}
    )


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def energy(price: str, step: int = 1) -> dict[str, Any]:
    return {"type": "ENERGY", "price": price, "step_size": step}


def charging_time(price: str, step: int = 1) -> dict[str, Any]:
    return {"type": "TIME", "price": price, "step_size": step}


def parking(price: str, step: int = 1) -> dict[str, Any]:
    return {"type": "PARKING_TIME", "price": price, "step_size": step}


def flat(price: str) -> dict[str, Any]:
    return {"type": "FLAT", "price": price}


def utc(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def session(*readings: tuple[datetime, int], end: datetime | None = None) -> ChargeRecord:
    """A finished session from its first reading to `end` (default: the last reading)."""
    points = tuple(Reading(at, wh) for at, wh in readings)
    return ChargeRecord(
        start=points[0].at,
        end=end or points[-1].at,
        readings=points,
        charging_ended_at=charging_end(points, final=True),
    )


def lines(b: CostBreakdown) -> list[tuple[str, int, str, str, str]]:
    """(type, element, quantity, unit, amount) per line, decimals as written on the bill."""
    return [(ln.type, ln.element, str(ln.quantity), ln.unit, str(ln.amount)) for ln in b.lines]


def totals(b: CostBreakdown) -> tuple[str, str, str]:
    return str(b.subtotal), str(b.tax), str(b.total)


DAY = "2026-01-15"  # a Thursday in winter: Europe/Berlin is UTC+1


# ---- the examples -----------------------------------------------------------------------------


def test_flat_fee_plus_energy() -> None:
    spec = tariff(element(flat("1.00"), energy("0.35")))
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "11:00"), 12_345)))
    # 12.345 kWh x 0.35 = 4.32075 → 4.32; flat 1.00
    assert lines(b) == [("FLAT", 0, "1", "session", "1.00"), ("ENERGY", 0, "12.345", "kWh", "4.32")]
    # subtotal 5.32; VAT 19 % = 1.0108 → 1.01
    assert totals(b) == ("5.32", "1.01", "6.33")
    assert [str(x) for x in (b.flat, b.energy, b.time, b.parking)] == [
        "1.00",
        "4.32",
        "0.00",
        "0.00",
    ]
    assert (b.energy_wh, b.charging_seconds, b.parking_seconds) == (12_345, 3600, 0)


def test_a_time_of_day_boundary_splits_the_energy_by_interpolation() -> None:
    spec = tariff(
        element(energy("0.45"), start_time="08:00", end_time="20:00"),
        element(energy("0.30")),
        timezone="Europe/Berlin",
    )
    # 19:30-20:30 local. 18:45 → 19:30 UTC is 9000 Wh in 45 min = 200 Wh/min, so at 20:00
    # local (19:00 UTC) the register is 2000 + 15 x 200 = 5000 Wh.
    b = price(
        spec,
        session((utc(DAY, "18:30"), 0), (utc(DAY, "18:45"), 2_000), (utc(DAY, "19:30"), 11_000)),
    )
    # day 5 kWh x 0.45 = 2.25; night 6 kWh x 0.30 = 1.80
    assert lines(b) == [
        ("ENERGY", 0, "5.000", "kWh", "2.25"),
        ("ENERGY", 1, "6.000", "kWh", "1.80"),
    ]
    # subtotal 4.05; VAT 0.7695 → 0.77
    assert totals(b) == ("4.05", "0.77", "4.82")


def test_lines_of_one_dimension_are_listed_in_order_of_first_use() -> None:
    spec = tariff(
        element(energy("0.45"), start_time="08:00", end_time="20:00"),
        element(energy("0.30")),
        element(flat("0.50")),
        timezone="Europe/Berlin",
    )
    # 07:30-08:30 local, 10 kWh evenly: night (element 1) first, then day (element 0)
    b = price(spec, session((utc(DAY, "06:30"), 0), (utc(DAY, "07:30"), 10_000)))
    assert lines(b) == [
        ("FLAT", 2, "1", "session", "0.50"),
        ("ENERGY", 1, "5.000", "kWh", "1.50"),
        ("ENERGY", 0, "5.000", "kWh", "2.25"),
    ]


def test_the_night_ends_at_local_six_on_the_day_clocks_go_forward() -> None:
    spec = tariff(
        element(charging_time("1.00"), start_time="22:00", end_time="06:00"),
        element(charging_time("3.00")),
        timezone="Europe/Berlin",
    )
    day = "2026-03-29"  # 02:00 CET becomes 03:00 CEST at 01:00 UTC
    b = price(spec, session((utc(day, "00:00"), 0), (utc(day, "06:00"), 30_000)))
    # 00:00 UTC is 01:00 CET; 06:00 CEST is 04:00 UTC: the night lasts 4 real hours (the wall
    # clock shows 5), the day 04:00-06:00 UTC. A fixed +1 offset would say 5 h and 1 h.
    assert lines(b) == [("TIME", 0, "4.0000", "h", "4.00"), ("TIME", 1, "2.0000", "h", "6.00")]


def test_a_window_opening_at_a_skipped_local_time_opens_when_the_clock_jumps() -> None:
    spec = tariff(
        element(charging_time("1.00"), start_time="02:30", end_time="05:00"),
        timezone="Europe/Berlin",
    )
    day = "2026-03-29"
    b = price(spec, session((utc(day, "00:00"), 0), (utc(day, "04:00"), 20_000)))
    # 02:30 local never happens: the clock jumps from 02:00 CET to 03:00 CEST at 01:00 UTC,
    # and the window is open from then to 05:00 CEST = 03:00 UTC: 2 h.
    assert lines(b) == [("TIME", 0, "2.0000", "h", "2.00")]


def test_a_window_inside_the_repeated_hour_counts_twice_when_clocks_go_back() -> None:
    spec = tariff(
        element(charging_time("60.00"), start_time="02:30", end_time="03:00"),
        timezone="Europe/Berlin",
    )
    day = "2026-10-25"  # 03:00 CEST becomes 02:00 CET at 01:00 UTC
    b = price(spec, session((utc(day, "00:00"), 0), (utc(day, "03:00"), 20_000)))
    # 02:30-03:00 CEST = 00:30-01:00 UTC, and 02:30-03:00 CET = 01:30-02:00 UTC: 1 h at 60/h
    assert lines(b) == [("TIME", 0, "1.0000", "h", "60.00")]


def test_parking_is_billed_after_the_grace_time_and_charging_time_only_while_charging() -> None:
    spec = tariff(
        element(energy("0.40"), charging_time("1.20"), parking("12.00")), idle_grace_minutes=30
    )
    b = price(
        spec,
        session(
            (utc(DAY, "10:00"), 0),
            (utc(DAY, "10:20"), 5_000),
            (utc(DAY, "10:40"), 10_000),  # charging finished
            (utc(DAY, "11:00"), 10_000),
            (utc(DAY, "11:30"), 10_000),  # the car leaves
        ),
    )
    # energy 10 kWh x 0.40 = 4.00; charging 10:00-10:40 = 2/3 h x 1.20 = 0.80;
    # grace until 11:10, parking 11:10-11:30 = 1/3 h x 12.00 = 4.00
    assert lines(b) == [
        ("ENERGY", 0, "10.000", "kWh", "4.00"),
        ("TIME", 0, "0.6667", "h", "0.80"),
        ("PARKING_TIME", 0, "0.3333", "h", "4.00"),
    ]
    # subtotal 8.80; VAT 1.672 → 1.67
    assert totals(b) == ("8.80", "1.67", "10.47")
    assert (b.charging_seconds, b.parking_seconds) == (2400, 1200)


def test_leaving_within_the_grace_time_costs_no_parking() -> None:
    spec = tariff(element(energy("0.40"), parking("12.00")), idle_grace_minutes=30)
    b = price(
        spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "10:40"), 10_000), end=utc(DAY, "11:10"))
    )
    assert lines(b) == [("ENERGY", 0, "10.000", "kWh", "4.00")]
    assert b.parking_seconds == 0


def test_a_live_session_still_charging_has_no_parking() -> None:
    spec = tariff(element(parking("12.00"), charging_time("1.20")))
    points = (Reading(utc(DAY, "10:00"), 0), Reading(utc(DAY, "10:30"), 5_000))
    live = ChargeRecord(points[0].at, utc(DAY, "11:00"), points, charging_end(points, final=False))
    assert live.charging_ended_at is None
    # 1 h charging x 1.20 (the register after the last reading is not known yet)
    assert lines(price(spec, live)) == [("TIME", 0, "1.0000", "h", "1.20")]


def test_a_car_that_never_draws_energy_parks_for_the_whole_stay() -> None:
    spec = tariff(element(energy("0.40"), charging_time("1.20"), parking("6.00")))
    b = price(spec, session((utc(DAY, "10:00"), 500), (utc(DAY, "11:00"), 500)))
    assert lines(b) == [("PARKING_TIME", 0, "1.0000", "h", "6.00")]
    assert (b.energy_wh, b.charging_seconds, b.parking_seconds) == (0, 0, 3600)


def test_step_sizes_round_the_billed_quantity_up() -> None:
    spec = tariff(element(energy("0.30", step=1000), charging_time("2.00", step=900)))
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "10:50"), 12_345)))
    # 12 345 Wh in 1000 Wh steps → 13 kWh x 0.30 = 3.90; 50 min in 15 min steps → 1 h x 2.00
    assert lines(b) == [("ENERGY", 0, "13.000", "kWh", "3.90"), ("TIME", 0, "1.0000", "h", "2.00")]
    assert b.energy_wh == 12_345  # what was delivered, not what was billed


DAY_AND_NIGHT_TIME = (
    element(charging_time("6.00", step=900), start_time="08:00", end_time="20:00"),
    element(charging_time("3.00", step=300)),
)


def test_the_step_of_the_last_element_used_rounds_the_whole_dimension() -> None:
    spec = tariff(*DAY_AND_NIGHT_TIME)
    b = price(spec, session((utc(DAY, "19:50"), 0), (utc(DAY, "20:07"), 3_000)))
    # day 10 min; night 7 min. Total 17 min, in the night element's 5 min steps → 20 min: the
    # 3 extra minutes at the night price. day 1/6 h x 6.00 = 1.00; night 1/6 h x 3.00 = 0.50
    assert lines(b) == [("TIME", 0, "0.1667", "h", "1.00"), ("TIME", 1, "0.1667", "h", "0.50")]


def test_the_extra_of_the_step_is_billed_at_the_last_elements_price() -> None:
    spec = tariff(*DAY_AND_NIGHT_TIME)
    b = price(spec, session((utc(DAY, "07:55"), 0), (utc(DAY, "08:05"), 2_000)))
    # night 5 min, then day 5 min. Total 10 min, in the day element's 15 min steps → 15 min:
    # 5 extra minutes at 6.00/h. night 1/12 h x 3.00 = 0.25; day 1/6 h x 6.00 = 1.00
    assert lines(b) == [("TIME", 1, "0.0833", "h", "0.25"), ("TIME", 0, "0.1667", "h", "1.00")]


@pytest.mark.parametrize(
    ("flat_price", "vat", "tax"),
    [
        ("0.05", "19", "0.01"),  # 0.0095 → 0.01
        ("0.25", "10", "0.03"),  # 0.025 → 0.03 half-up (banker's rounding would say 0.02)
        ("0.10", "19", "0.02"),  # 0.019 → 0.02
        ("0.02", "19", "0.00"),  # 0.0038 → 0.00
        ("100.00", "7.7", "7.70"),
    ],
)
def test_vat_is_rounded_half_up_to_the_cent(flat_price: str, vat: str, tax: str) -> None:
    b = price(tariff(element(flat(flat_price)), vat_percent=vat), session((utc(DAY, "10:00"), 0)))
    assert str(b.tax) == tax
    assert b.total == b.subtotal + b.tax


def test_vat_is_computed_once_on_the_subtotal_not_per_line() -> None:
    spec = tariff(element(flat("0.02"), energy("0.02")), vat_percent="25")
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "11:00"), 1_000)))
    # per line 0.005 + 0.005 would round to 0.02; on the subtotal 0.04 it is 0.01
    assert totals(b) == ("0.04", "0.01", "0.05")


def test_a_line_amount_is_rounded_half_up_from_the_exact_quantity() -> None:
    spec = tariff(element(energy("0.25")))
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "10:10"), 100)))
    assert lines(b) == [("ENERGY", 0, "0.100", "kWh", "0.03")]  # 0.1 x 0.25 = 0.025 → 0.03


def test_yen_has_no_minor_unit() -> None:
    spec = tariff(element(flat("100"), energy("55")), currency="JPY", vat_percent="10")
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "11:00"), 12_345)))
    # 12.345 kWh x 55 = 678.975 → 679; subtotal 779; VAT 77.9 → 78
    assert lines(b) == [("FLAT", 0, "1", "session", "100"), ("ENERGY", 0, "12.345", "kWh", "679")]
    assert totals(b) == ("779", "78", "857")
    assert str(b.parking) == "0"


def test_kwh_tiers_switch_where_the_interpolated_energy_crosses_the_threshold() -> None:
    spec = tariff(
        element(energy("0.50"), charging_time("3.00"), max_kwh="10"),
        element(energy("0.30"), min_kwh="10"),
    )
    b = price(
        spec,
        session((utc(DAY, "10:00"), 0), (utc(DAY, "10:30"), 4_000), (utc(DAY, "12:00"), 22_000)),
    )
    # 10:30 → 12:00 is 18 000 Wh in 90 min = 200 Wh/min; 10 kWh is reached 30 min after
    # 10:30, at 11:00. Tier 1: 10 kWh x 0.50 = 5.00 and 1 h x 3.00 = 3.00 of charging time;
    # tier 2: 12 kWh x 0.30 = 3.60, and its time is free (no TIME component).
    assert lines(b) == [
        ("ENERGY", 0, "10.000", "kWh", "5.00"),
        ("ENERGY", 1, "12.000", "kWh", "3.60"),
        ("TIME", 0, "1.0000", "h", "3.00"),
    ]


def test_max_duration_makes_the_first_hour_free_of_charging_time() -> None:
    spec = tariff(
        element(charging_time("0.00"), max_duration=3600),
        element(charging_time("2.40")),
    )
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "11:30"), 20_000)))
    # first hour at 0.00, the next 30 min x 2.40/h = 1.20
    assert lines(b) == [("TIME", 0, "1.0000", "h", "0.00"), ("TIME", 1, "0.5000", "h", "1.20")]
    assert totals(b) == ("1.20", "0.23", "1.43")  # VAT 0.228 → 0.23


def test_weekend_prices_start_at_local_midnight() -> None:
    spec = tariff(
        element(energy("0.25"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(energy("0.40")),
        timezone="Europe/Berlin",
    )
    # Friday 23:30 to Saturday 00:30 local (22:30-23:30 UTC), 10 kWh evenly
    b = price(spec, session((utc("2026-01-16", "22:30"), 0), (utc("2026-01-16", "23:30"), 10_000)))
    # Friday 5 kWh x 0.40 = 2.00; Saturday 5 kWh x 0.25 = 1.25
    assert lines(b) == [
        ("ENERGY", 1, "5.000", "kWh", "2.00"),
        ("ENERGY", 0, "5.000", "kWh", "1.25"),
    ]


def test_a_promotion_ends_at_local_midnight_of_its_exclusive_end_date() -> None:
    spec = tariff(
        element(energy("0.20"), start_date="2026-02-01", end_date="2026-03-01"),
        element(energy("0.40")),
        timezone="Europe/Berlin",
    )
    # 28 Feb 23:00 to 1 Mar 01:00 local, 8 kWh evenly: 4 kWh x 0.20 = 0.80, 4 kWh x 0.40 = 1.60
    b = price(spec, session((utc("2026-02-28", "22:00"), 0), (utc("2026-03-01", "00:00"), 8_000)))
    assert lines(b) == [
        ("ENERGY", 0, "4.000", "kWh", "0.80"),
        ("ENERGY", 1, "4.000", "kWh", "1.60"),
    ]


def test_power_restrictions_use_the_average_power_of_each_period() -> None:
    spec = tariff(element(energy("0.60"), min_power="50"), element(energy("0.40")))
    b = price(
        spec,
        session((utc(DAY, "10:00"), 0), (utc(DAY, "10:30"), 25_000), (utc(DAY, "11:00"), 35_000)),
    )
    # 25 kWh in 30 min = 50 kW (min_power is inclusive) → 0.60: 15.00;
    # 10 kWh in 30 min = 20 kW → 0.40: 4.00
    assert lines(b) == [
        ("ENERGY", 0, "25.000", "kWh", "15.00"),
        ("ENERGY", 1, "10.000", "kWh", "4.00"),
    ]


def test_a_dimension_no_element_applies_to_is_free() -> None:
    spec = tariff(element(flat("1.00"), energy("0.40"), day_of_week=["MONDAY"]))
    b = price(spec, session((utc("2026-01-13", "10:00"), 0), (utc("2026-01-13", "11:00"), 10_000)))
    assert b.lines == ()  # a Tuesday
    assert (totals(b), str(b.energy)) == (("0.00", "0.00", "0.00"), "0.00")


def test_the_flat_fee_is_chosen_at_the_session_start() -> None:
    spec = tariff(
        element(flat("5.00"), min_kwh="1"),  # nothing is delivered yet at the start
        element(flat("3.00"), min_duration=60),  # nor has any time passed
        element(flat("2.00"), max_power="11"),  # power is not known at the start: ignored
        element(flat("1.00")),
    )
    b = price(spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "11:00"), 50_000)))
    assert lines(b) == [("FLAT", 2, "1", "session", "2.00")]


def test_readings_stamped_just_after_the_end_are_still_billed() -> None:
    # the end is the CSMS's clock, the last reading the charger's, 30 s ahead
    spec = tariff(element(energy("0.40")))
    record = session((utc(DAY, "10:00"), 0), (utc(DAY, "11:00:30"), 10_000), end=utc(DAY, "11:00"))
    assert implausibilities(record, max_power_w=22_000) == []
    assert lines(price(spec, record)) == [("ENERGY", 0, "10.000", "kWh", "4.00")]


# ---- what the readings say --------------------------------------------------------------------

T0 = utc(DAY, "10:00")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def readings(*points: tuple[float, int]) -> list[Reading]:
    return [Reading(at(m), wh) for m, wh in points]


@pytest.mark.parametrize(
    ("points", "final", "ended"),
    [
        (((0, 0), (10, 100), (20, 200), (30, 200)), True, 20),  # the first reading at the top
        (((0, 0), (10, 100), (20, 200), (30, 200)), False, 20),  # a live session on a plateau
        (((0, 0), (10, 100), (20, 200)), True, 20),  # charged until the end
        (((0, 0), (10, 100), (20, 200)), False, None),  # still charging
        (((0, 500), (10, 500), (20, 500)), True, 0),  # never charged: all parking
        (((0, 500), (10, 500)), False, 0),
        (((0, 500),), True, 0),
        (((0, 500),), False, None),  # only the meter start so far: not known yet
        (((0, 10), (10, 20), (20, 15), (30, 20)), True, 30),  # it increased again after 10
    ],
)
def test_charging_ends_at_the_first_reading_after_which_energy_never_increased(
    points: tuple[tuple[int, int], ...], final: bool, ended: int | None
) -> None:
    assert charging_end(readings(*points), final=final) == (None if ended is None else at(ended))


def test_no_readings_say_nothing_about_the_charging_end() -> None:
    assert charging_end([], final=True) is None


def record_of(*points: tuple[float, int], end: float) -> ChargeRecord:
    return ChargeRecord(T0, at(end), tuple(readings(*points)))


def test_plausible_data_has_no_reasons() -> None:
    assert (
        implausibilities(record_of((0, 0), (30, 11_000), (60, 22_000), end=60), max_power_w=22_000)
        == []
    )


def test_implausibilities_explain_themselves() -> None:
    record = ChargeRecord(
        T0,
        at(60),
        (
            Reading(at(-1), -5),
            Reading(at(10), 30),
            Reading(at(5), 50),
            Reading(at(20), 40),
            Reading(at(61.5), 60),
        ),
    )
    assert implausibilities(record, max_power_w=22_000) == [
        "readings out of order: 2026-01-15T10:05:00Z after 2026-01-15T10:10:00Z",
        "meter went backwards from 50 Wh to 40 Wh at 2026-01-15T10:20:00Z",
        "a reading at 2026-01-15T09:59:00Z is before the session start 2026-01-15T10:00:00Z",
        "negative meter register -5 Wh at 2026-01-15T09:59:00Z",
        "a reading at 2026-01-15T11:01:30Z is more than 60 s after the session end"
        " 2026-01-15T11:00:00Z",
    ]


def test_a_session_ending_before_it_starts_or_without_readings_is_implausible() -> None:
    assert implausibilities(ChargeRecord(T0, at(-1), ()), max_power_w=22_000) == [
        "no meter readings",
        "the session ends at 2026-01-15T09:59:00Z, before it starts at 2026-01-15T10:00:00Z",
    ]


def test_a_reading_up_to_60_s_after_the_end_is_tolerated() -> None:
    fine = record_of((0, 0), (61, 1_000), end=60)
    late = record_of((0, 0), (61 + 1 / 60, 1_000), end=60)
    assert implausibilities(fine, max_power_w=22_000) == []
    assert implausibilities(late, max_power_w=22_000) == [
        "a reading at 2026-01-15T11:01:01Z is more than 60 s after the session end"
        " 2026-01-15T11:00:00Z"
    ]


def test_power_above_the_connectors_rating_plus_ten_percent_is_implausible() -> None:
    # 22 kW + 10 % = 24.2 kW, i.e. 12 100 Wh in 30 min
    assert implausibilities(record_of((0, 0), (30, 12_100), end=30), max_power_w=22_000) == []
    assert implausibilities(record_of((0, 0), (30, 12_200), end=30), max_power_w=22_000) == [
        "12200 Wh in 1800 s is 24.4 kW, above the connector's 22 kW (until 2026-01-15T10:30:00Z)"
    ]
    assert implausibilities(record_of((0, 0), (0, 500), end=30), max_power_w=11_040) == [
        "500 Wh in 0 s at 2026-01-15T10:00:00Z, above the connector's 11.04 kW"
    ]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Reading(datetime(2026, 1, 1), 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        ChargeRecord(T0, datetime(2026, 1, 1), ())


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (record_of((0, 100), (10, 50), end=10), "meter went backwards from 100 Wh to 50 Wh"),
        (record_of(end=10), "no meter readings"),
        (record_of((0, 0), end=-10), "the session ends at 2026-01-15T09:50:00Z, before it starts"),
    ],
)
def test_price_refuses_data_it_cannot_price(record: ChargeRecord, reason: str) -> None:
    with pytest.raises(ImplausibleData) as caught:
        price(tariff(element(energy("0.40"))), record)
    assert caught.value.reasons[0].startswith(reason)


# ---- the price shown before the start, and the stored form of the bill ------------------------

SHOWN = tariff(
    element(energy("0.10"), min_kwh="50"),  # never applies at a start (0 kWh)
    element(energy("0.45"), start_time="08:00", end_time="20:00"),
    element(energy("0.30"), charging_time("1.20", step=60), flat("1.00"), min_power="50"),
    element(parking("6.00")),
    timezone="Europe/Berlin",
    idle_grace_minutes=15,
)


@pytest.mark.parametrize(
    ("local_clock", "per_kwh"),
    [("10:00", "0.5355"), ("22:00", "0.3570")],  # 0.45 x 1.19; 0.30 x 1.19
)
def test_applicable_prices_include_vat_and_depend_on_the_time_of_day(
    local_clock: str, per_kwh: str
) -> None:
    local = datetime.fromisoformat(f"{DAY}T{local_clock}+01:00")
    assert applicable_prices(SHOWN, local) == PlainPrice(
        currency="EUR",
        per_kwh=Decimal(per_kwh),
        per_minute=Decimal("0.0238"),  # 1.20 / 60 x 1.19 (power restrictions count as met)
        per_session=Decimal("1.1900"),
        parking_per_minute=Decimal("0.1190"),  # 6.00 / 60 x 1.19
        idle_grace_minutes=15,
        vat_percent=Decimal(19),
    )


def test_applicable_prices_say_none_for_a_dimension_that_is_free() -> None:
    shown = applicable_prices(tariff(element(energy("0.35"))), utc(DAY, "10:00"))
    assert (shown.per_kwh, shown.per_minute, shown.per_session, shown.parking_per_minute) == (
        Decimal("0.4165"),
        None,
        None,
        None,
    )


def test_a_breakdown_is_stored_as_json_with_decimal_strings_and_read_back_exactly() -> None:
    spec = tariff(element(flat("1.00"), energy("0.40"), parking("12.00")), idle_grace_minutes=30)
    b = price(
        spec, session((utc(DAY, "10:00"), 0), (utc(DAY, "10:40"), 10_000), end=utc(DAY, "11:30"))
    )
    data = breakdown_to_json(b)
    assert data == {
        "currency": "EUR",
        "lines": [
            {"type": "FLAT", "element": 0, "unit_price": "1.00",
             "quantity": "1", "unit": "session", "amount": "1.00"},
            {"type": "ENERGY", "element": 0, "unit_price": "0.40",
             "quantity": "10.000", "unit": "kWh", "amount": "4.00"},
            {"type": "PARKING_TIME", "element": 0, "unit_price": "12.00",
             "quantity": "0.3333", "unit": "h", "amount": "4.00"},
        ],
        "energy": "4.00", "time": "0.00", "parking": "4.00", "flat": "1.00",
        "subtotal": "9.00", "vat_percent": "19", "tax": "1.71", "total": "10.71",
        "energy_wh": 10_000, "charging_seconds": 2400, "parking_seconds": 1200,
    }  # fmt: skip
    assert breakdown_from_json(data) == b


@pytest.mark.parametrize(
    "damage",
    [{"total": 10.71}, {"total": "NaN"}, {"lines": [{"type": "ENERGY"}]}, {"energy_wh": "10000"}],
)
def test_a_damaged_breakdown_is_refused(damage: dict[str, Any]) -> None:
    spec = tariff(element(energy("0.40")))
    data = breakdown_to_json(price(spec, session((T0, 0), (at(60), 10_000))))
    with pytest.raises(ValueError, match="not a cost breakdown"):
        breakdown_from_json({**data, **damage})
