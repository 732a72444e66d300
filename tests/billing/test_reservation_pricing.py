"""Hand-worked reservation fees (OCPI 2.2.1 ``TariffRestrictions.reservation``).

The OCPI examples 16 to 18 of the Tariffs module are priced as written there (one VAT rate for the
whole tariff here, 20 %, since Kilowatt's tariffs carry one). Amounts exclude VAT until `tax`
and `total`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kilowatt.billing.pricing import (
    ChargeRecord,
    CostBreakdown,
    Reading,
    ReservedTime,
    applicable_prices,
    breakdown_from_json,
    breakdown_to_json,
    charging_end,
    price,
    price_reservation,
)
from kilowatt.billing.tariffs import (
    ReservationRestriction,
    TariffError,
    TariffSpec,
    parse_tariff,
    tariff_to_json,
)

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)  # a Thursday; Europe/Berlin is UTC+1


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tariff(*elements: dict[str, Any], vat: str = "20", **fields: Any) -> TariffSpec:
    return parse_tariff(
        {"currency": "EUR", "vat_percent": vat, **fields, "elements": list(elements)}
    )


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def flat(price: str) -> dict[str, Any]:
    return {"type": "FLAT", "price": price}


def time_(price: str, step: int = 1) -> dict[str, Any]:
    return {"type": "TIME", "price": price, "step_size": step}


def energy(price: str) -> dict[str, Any]:
    return {"type": "ENERGY", "price": price, "step_size": 1}


RESERVATION = "RESERVATION"
EXPIRES = "RESERVATION_EXPIRES"
CHARGING = element(flat("0.50"), energy("0.25"))  # the examples' start fee and energy price


def charged_20_kwh(start: datetime) -> ChargeRecord:
    """A session from `start` that delivered 20 kWh in an hour."""
    points = (Reading(start, 0), Reading(start + timedelta(hours=1), 20_000))
    return ChargeRecord(start, points[-1].at, points, charging_end(points, final=True))


def lines(b: CostBreakdown) -> list[tuple[str, str | None, str, str, str]]:
    """(type, reservation kind, quantity, unit, amount) per line, as written on the bill."""
    return [
        (ln.type.value, ln.reservation and ln.reservation.value, str(ln.quantity), ln.unit,
         str(ln.amount))
        for ln in b.lines
    ]  # fmt: skip


def totals(b: CostBreakdown) -> tuple[str, str, str]:
    return str(b.subtotal), str(b.tax), str(b.total)


# ---- a used reservation: on the session's bill ------------------------------------------------


def test_ocpi_example_16_reservation_fee_and_time_join_the_session_bill() -> None:
    spec = tariff(element(flat("2.00"), time_("5.00", 300), reservation=RESERVATION), CHARGING)
    reserved = ReservedTime(T0, at(13))
    b = price(spec, charged_20_kwh(at(13)), reserved)
    # 13 min reserved, billed per 5 min: 15 min x 5.00/h = 1.25; fee 2.00
    assert lines(b) == [
        ("FLAT", RESERVATION, "1", "reservation", "2.00"),
        ("TIME", RESERVATION, "0.2500", "h", "1.25"),
        ("FLAT", None, "1", "session", "0.50"),
        ("ENERGY", None, "20.000", "kWh", "5.00"),
    ]
    # OCPI: 8.75 excl. VAT; VAT 20 % = 1.75
    assert totals(b) == ("8.75", "1.75", "10.50")
    assert (str(b.reservation), b.reservation_seconds) == ("3.25", 13 * 60)
    # The reservation lines are in none of the charging sums.
    assert (str(b.flat), str(b.time), str(b.energy)) == ("0.50", "0.00", "5.00")


def test_ocpi_example_17_used_reservation_pays_the_time_but_not_the_expiry_fee() -> None:
    spec = tariff(
        element(flat("4.00"), reservation=EXPIRES),
        element(time_("2.00", 600), reservation=RESERVATION),
        CHARGING,
    )
    b = price(spec, charged_20_kwh(at(22)), ReservedTime(T0, at(22)))
    # 22 min billed per 10 min: 30 min x 2.00/h = 1.00; no expiry fee: it was used
    assert lines(b)[:1] == [("TIME", RESERVATION, "0.5000", "h", "1.00")]
    assert totals(b)[0] == "6.50"  # OCPI: 6.50 excl. VAT


def test_ocpi_example_17_an_expired_reservation_pays_the_fee_and_the_whole_time() -> None:
    spec = tariff(
        element(flat("4.00"), reservation=EXPIRES),
        element(time_("2.00", 600), reservation=RESERVATION),
        CHARGING,
    )
    b = price_reservation(spec, ReservedTime(T0, at(60), expired=True))
    assert lines(b) == [
        ("FLAT", EXPIRES, "1", "reservation", "4.00"),
        ("TIME", RESERVATION, "1.0000", "h", "2.00"),
    ]
    assert totals(b) == ("6.00", "1.20", "7.20")  # OCPI: 6.00 / 7.20
    assert (b.energy_wh, b.charging_seconds, b.reservation_seconds) == (0, 0, 3600)


def test_ocpi_example_18_the_expiry_time_price_replaces_the_reservation_time_price() -> None:
    spec = tariff(
        element(time_("6.00", 600), reservation=EXPIRES),
        element(time_("3.00", 600), reservation=RESERVATION),
        CHARGING,
    )
    expired = price_reservation(spec, ReservedTime(T0, at(90), expired=True))
    assert lines(expired) == [("TIME", EXPIRES, "1.5000", "h", "9.00")]
    assert totals(expired) == ("9.00", "1.80", "10.80")  # OCPI: 9.00 / 10.80
    used = price(spec, charged_20_kwh(at(22)), ReservedTime(T0, at(22)))
    assert lines(used)[0] == ("TIME", RESERVATION, "0.5000", "h", "1.50")
    assert totals(used)[0] == "7.00"  # OCPI: 7.00


# ---- what prices what ---------------------------------------------------------------------------


def test_a_tariff_without_reservation_elements_charges_nothing_for_a_reservation() -> None:
    spec = tariff(element(flat("1.00"), time_("3.00"), energy("0.40")))
    expired = price_reservation(spec, ReservedTime(T0, at(30), expired=True))
    assert (expired.lines, totals(expired)) == ((), ("0.00", "0.00", "0.00"))
    with_reservation = price(spec, charged_20_kwh(at(30)), ReservedTime(T0, at(30)))
    assert with_reservation.lines == price(spec, charged_20_kwh(at(30))).lines
    assert str(with_reservation.reservation) == "0.00"


def test_reservation_elements_never_price_charging() -> None:
    # Only the reservation element has a TIME price: charging time is free, and the FLAT of
    # the reservation element is no session fee.
    spec = tariff(element(flat("3.00"), time_("9.00"), reservation=RESERVATION), CHARGING)
    b = price(spec, charged_20_kwh(T0))
    assert lines(b) == [
        ("FLAT", None, "1", "session", "0.50"),
        ("ENERGY", None, "20.000", "kWh", "5.00"),
    ]
    assert str(b.time) == "0.00"
    shown = applicable_prices(spec, T0)
    assert (shown.per_minute, shown.per_session) == (None, Decimal("0.6000"))  # 0.50 x 1.2


def test_only_expired_reservations_pay_reservation_expires_elements() -> None:
    spec = tariff(element(flat("5.00"), reservation=EXPIRES), CHARGING)
    used = price(spec, charged_20_kwh(at(10)), ReservedTime(T0, at(10)))
    assert [line.reservation for line in used.lines] == [None, None]
    expired = price_reservation(spec, ReservedTime(T0, at(10), expired=True))
    assert lines(expired) == [("FLAT", EXPIRES, "1", "reservation", "5.00")]


def test_time_restrictions_cut_the_reserved_time_and_the_last_step_rounds_up() -> None:
    # Reserved 10:50-11:20 UTC = 11:50-12:20 Berlin; from 12:00 local the reserved time is dearer.
    spec = tariff(
        element(time_("6.00", 60), reservation=RESERVATION, start_time="12:00", end_time="18:00"),
        element(time_("3.00", 900), reservation=RESERVATION),
        timezone="Europe/Berlin",
    )
    b = price_reservation(spec, ReservedTime(at(50), at(80)))
    # 10 min x 3.00/h = 0.50; 20 min x 6.00/h = 2.00 (the last element's 60 s step fits exactly)
    assert lines(b) == [
        ("TIME", RESERVATION, "0.1667", "h", "0.50"),
        ("TIME", RESERVATION, "0.3333", "h", "2.00"),
    ]
    # 7 s reserved before 12:00 local: one whole 15-min step of the general element.
    short = price_reservation(spec, ReservedTime(at(0), at(0) + timedelta(seconds=7)))
    assert lines(short) == [("TIME", RESERVATION, "0.2500", "h", "0.75")]


def test_a_start_reported_before_the_acceptance_is_no_reserved_time_but_pays_the_fee() -> None:
    spec = tariff(element(flat("1.00"), time_("6.00"), reservation=RESERVATION))
    b = price_reservation(spec, ReservedTime(T0, at(-1)))
    assert lines(b) == [("FLAT", RESERVATION, "1", "reservation", "1.00")]
    assert b.reservation_seconds == 0


def test_vat_is_taken_once_on_the_whole_subtotal_in_the_currencys_minor_unit() -> None:
    spec = parse_tariff(
        {
            "currency": "JPY",
            "vat_percent": "10",
            "elements": [
                element(flat("105"), time_("250", 60), reservation=EXPIRES),
            ],
        }
    )
    b = price_reservation(spec, ReservedTime(T0, at(7.5), expired=True))
    # 8 min (per-minute steps) x 250/h = 33.33 → 33 yen; fee 105; VAT 10 % of 138 = 13.8 → 14
    assert lines(b) == [
        ("FLAT", EXPIRES, "1", "reservation", "105"),
        ("TIME", EXPIRES, "0.1333", "h", "33"),
    ]
    assert totals(b) == ("138", "14", "152")


# ---- stored and read back -----------------------------------------------------------------------


def test_a_bill_with_reservation_lines_round_trips_through_json() -> None:
    spec = tariff(element(flat("2.00"), time_("5.00", 300), reservation=RESERVATION), CHARGING)
    b = price(spec, charged_20_kwh(at(13)), ReservedTime(T0, at(13)))
    data = breakdown_to_json(b)
    assert data["lines"][0]["reservation"] == "RESERVATION"
    assert "reservation" not in data["lines"][2]
    assert (data["reservation"], data["reservation_seconds"]) == ("3.25", 780)
    assert breakdown_from_json(data) == b


def test_a_bill_stored_before_reservation_fees_reads_as_having_none() -> None:
    spec = tariff(CHARGING)
    b = price(spec, charged_20_kwh(T0))
    data = breakdown_to_json(b)
    assert "reservation" not in data and "reservation_seconds" not in data
    read = breakdown_from_json(data)
    assert (str(read.reservation), read.reservation_seconds) == ("0.00", 0)


# ---- the tariff document ------------------------------------------------------------------------


def test_the_reservation_restriction_is_parsed_and_written_back() -> None:
    data = {
        "currency": "EUR",
        "vat_percent": "19",
        "elements": [
            element(flat("4.00"), reservation=EXPIRES),
            element(time_("2.00", 600), reservation=RESERVATION, start_time="08:00"),
            CHARGING,
        ],
    }
    spec = parse_tariff(data)
    assert [e.reservation for e in spec.elements] == [
        ReservationRestriction.RESERVATION_EXPIRES,
        ReservationRestriction.RESERVATION,
        None,
    ]
    written = tariff_to_json(spec)
    assert written["elements"][0]["restrictions"] == {"reservation": "RESERVATION_EXPIRES"}
    assert written["elements"][1]["restrictions"] == {
        "start_time": "08:00",
        "reservation": "RESERVATION",
    }
    assert parse_tariff(written) == spec


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            element(flat("1"), reservation="BOOKING"),
            "elements[0].restrictions.reservation: must be one of RESERVATION, "
            "RESERVATION_EXPIRES, not 'BOOKING'",
        ),
        (
            element(flat("1"), energy("0.30"), reservation=RESERVATION),
            "elements[0].price_components[1].type: an element with restrictions.reservation "
            "prices only FLAT and TIME (OCPI 2.2.1), not ENERGY",
        ),
        (
            element({"type": "PARKING_TIME", "price": "1"}, reservation=EXPIRES),
            "elements[0].price_components[0].type: an element with restrictions.reservation "
            "prices only FLAT and TIME (OCPI 2.2.1), not PARKING_TIME",
        ),
        (
            element(time_("1"), reservation=RESERVATION, min_kwh="5"),
            "elements[0].restrictions.min_kwh: not allowed with reservation: a reservation "
            "delivers no energy",
        ),
        (
            element(time_("1"), reservation=RESERVATION, max_power="11"),
            "elements[0].restrictions.max_power: not allowed with reservation: a reservation "
            "delivers no energy",
        ),
    ],
)
def test_invalid_reservation_elements_are_refused_with_their_path(
    bad: dict[str, Any], message: str
) -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff({"currency": "EUR", "vat_percent": "19", "elements": [bad]})
    assert caught.value.errors == [message]
