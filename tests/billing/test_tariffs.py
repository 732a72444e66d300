"""Tariffs in their JSON form: parsed strictly, every error reported at once, dumped exactly."""

from __future__ import annotations

import copy
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from kilowatt.billing.tariffs import (
    ComponentType,
    DayOfWeek,
    PriceComponent,
    Restrictions,
    TariffElement,
    TariffError,
    TariffSpec,
    parse_tariff,
    tariff_to_json,
)

EXAMPLE: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 30,
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}],
            "restrictions": {
                "start_time": "08:00",
                "end_time": "20:00",
                "day_of_week": ["MONDAY"],
                "start_date": "2026-01-01",
                "end_date": "2027-01-01",
                "min_kwh": "0",
                "max_kwh": "10",
                "min_power": "0",
                "max_power": "22",
                "min_duration": 0,
                "max_duration": 3600,
            },
        },
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00", "step_size": 1},
                {"type": "TIME", "price": "1.2", "step_size": 60},
                {"type": "PARKING_TIME", "price": "6", "step_size": 300},
            ]
        },
    ],
}


def errors_of(data: Any) -> list[str]:
    with pytest.raises(TariffError) as caught:
        parse_tariff(data)
    assert str(caught.value) == "invalid tariff: " + "; ".join(caught.value.errors)
    return caught.value.errors


def with_restrictions(**restrictions: Any) -> dict[str, Any]:
    return {
        "currency": "EUR",
        "vat_percent": "19",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": "1"}], "restrictions": restrictions}
        ],
    }


def test_the_documented_example_parses_to_typed_values() -> None:
    assert parse_tariff(EXAMPLE) == TariffSpec(
        currency="EUR",
        vat_percent=Decimal(19),
        timezone="Europe/Berlin",
        idle_grace_minutes=30,
        elements=(
            TariffElement(
                (PriceComponent(ComponentType.ENERGY, Decimal("0.35")),),
                Restrictions(
                    start_time=time(8),
                    end_time=time(20),
                    day_of_week=frozenset({DayOfWeek.MONDAY}),
                    start_date=date(2026, 1, 1),
                    end_date=date(2027, 1, 1),
                    min_kwh=Decimal(0),
                    max_kwh=Decimal(10),
                    min_power=Decimal(0),
                    max_power=Decimal(22),
                    min_duration=0,
                    max_duration=3600,
                ),
            ),
            TariffElement(
                (
                    PriceComponent(ComponentType.FLAT, Decimal("1.00")),
                    PriceComponent(ComponentType.TIME, Decimal("1.2"), step_size=60),
                    PriceComponent(ComponentType.PARKING_TIME, Decimal(6), step_size=300),
                )
            ),
        ),
    )


def test_the_json_form_round_trips_exactly() -> None:
    spec = parse_tariff(EXAMPLE)
    assert tariff_to_json(spec) == EXAMPLE
    assert parse_tariff(tariff_to_json(spec)) == spec


def test_optional_fields_take_their_defaults_and_are_written_out() -> None:
    spec = parse_tariff(
        {
            "currency": "JPY",
            "vat_percent": 10,
            "elements": [{"price_components": [{"type": "FLAT", "price": 500}]}],
        }
    )
    assert spec == TariffSpec(
        currency="JPY",
        vat_percent=Decimal(10),
        elements=(TariffElement((PriceComponent(ComponentType.FLAT, Decimal(500)),)),),
    )
    assert (spec.timezone, spec.idle_grace_minutes) == ("UTC", 0)
    assert tariff_to_json(spec) == {
        "currency": "JPY",
        "vat_percent": "10",
        "timezone": "UTC",
        "idle_grace_minutes": 0,
        "elements": [{"price_components": [{"type": "FLAT", "price": "500", "step_size": 1}]}],
    }


def test_empty_or_null_restrictions_are_kept_apart_and_round_trip() -> None:
    data = with_restrictions()
    data["elements"].append(
        {"price_components": [{"type": "TIME", "price": "1"}], "restrictions": None}
    )
    spec = parse_tariff(data)
    assert [e.restrictions for e in spec.elements] == [Restrictions(), None]
    assert parse_tariff(tariff_to_json(spec)) == spec


def test_a_decimal_written_with_an_exponent_is_dumped_positionally() -> None:
    spec = TariffSpec(
        "EUR",
        Decimal("1.9E+1"),
        (TariffElement((PriceComponent(ComponentType.FLAT, Decimal("1E+2")),)),),
    )
    data = tariff_to_json(spec)
    assert (data["vat_percent"], data["elements"][0]["price_components"][0]["price"]) == (
        "19",
        "100",
    )
    assert parse_tariff(data) == spec


def test_every_error_is_reported_at_once_under_its_json_path() -> None:
    assert errors_of(
        {
            "currency": "XYZ",
            "vat_percent": "119",
            "timezone": "Mars/Olympus_Mons",
            "idle_grace_minutes": 1441,
            "colour": "green",
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": "-0.35"},
                        {"type": "VOLUME", "price": "1", "step_size": 0},
                        {"type": "ENERGY", "price": "0.1234567"},
                    ],
                    "restrictions": {
                        "start_time": "8:00",
                        "end_time": "24:00",
                        "day_of_week": ["MON"],
                    },
                },
                {"price_components": []},
            ],
        }
    ) == [
        "colour: unknown field",
        "currency: unknown currency 'XYZ' (an upper-case ISO 4217 code)",
        "timezone: unknown timezone 'Mars/Olympus_Mons' (an IANA name, e.g. Europe/Berlin)",
        "vat_percent: must be <= 100",
        "idle_grace_minutes: must be <= 1440",
        "elements[0].price_components[0].price: must be >= 0",
        "elements[0].price_components[1].type: must be one of ENERGY, TIME, PARKING_TIME, FLAT,"
        " not 'VOLUME'",
        "elements[0].price_components[1].step_size: must be >= 1",
        "elements[0].price_components[2].price: must have at most 6 decimal places",
        'elements[0].restrictions.start_time: must be a time "HH:MM" between 00:00 and 23:59',
        'elements[0].restrictions.end_time: must be a time "HH:MM" between 00:00 and 23:59',
        "elements[0].restrictions.day_of_week[0]: must be one of MONDAY, TUESDAY, WEDNESDAY,"
        " THURSDAY, FRIDAY, SATURDAY, SUNDAY, not 'MON'",
        "elements[1].price_components: must not be empty",
    ]


def test_floats_are_refused_because_binary_floats_cannot_hold_prices() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["vat_percent"] = 19.0
    data["elements"][0]["price_components"][0]["price"] = 0.35
    assert errors_of(data) == [
        'vat_percent: must be a decimal string such as "0.35" or an integer, not a float',
        'elements[0].price_components[0].price: must be a decimal string such as "0.35" or an'
        " integer, not a float",
    ]


@pytest.mark.parametrize("text", ["0,35", "1e3", " 1", "1_000", "NaN", "Infinity", ".5", "5.", ""])
def test_decimals_are_plain_positional_strings(text: str) -> None:
    data = copy.deepcopy(EXAMPLE)
    data["elements"][0]["price_components"][0]["price"] = text
    assert errors_of(data) == [
        "elements[0].price_components[0].price:"
        ' must be a decimal string such as "0.35" or an integer'
    ]


def test_trailing_zeros_beyond_six_places_are_not_extra_precision() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["elements"][0]["price_components"][0]["price"] = "0.350000000"
    assert parse_tariff(data).elements[0].price_components[0].price == Decimal("0.35")


def test_missing_required_fields_and_wrong_shapes() -> None:
    assert errors_of({}) == [
        "currency: is required",
        "elements: is required",
        "vat_percent: is required",
    ]
    assert errors_of([]) == [
        "$: must be an object",
        "currency: is required",
        "elements: is required",
        "vat_percent: is required",
    ]
    assert errors_of(
        {
            "currency": 978,
            "vat_percent": True,
            "elements": {"price_components": []},
            "timezone": None,
        }
    ) == [
        "currency: must be a string",
        'vat_percent: must be a decimal string such as "0.35" or an integer',
        "elements: must be a list",
    ]
    assert errors_of({"currency": "EUR", "vat_percent": "0", "elements": ["ENERGY", {"x": 1}]}) == [
        "elements[0]: must be an object",
        "elements[0].price_components: is required",
        "elements[1].x: unknown field",
        "elements[1].price_components: is required",
    ]


def test_component_fields_are_checked() -> None:
    data = with_restrictions()
    data["elements"][0]["price_components"] = [
        {"type": "TIME", "price": "1", "step_size": 1.0, "vat": "19"},
        {"price": "1"},
        {"type": "TIME", "price": "2"},
    ]
    assert errors_of(data) == [
        "elements[0].price_components[0].vat: unknown field",
        "elements[0].price_components[0].step_size: must be an integer",
        "elements[0].price_components[1].type: is required",
        "elements[0].price_components[2].type: TIME is already priced by price_components[0]",
    ]


@pytest.mark.parametrize("text", ["8:00", "08:0", "24:00", "08:60", "08:00:00", "0800", "T08:00"])
def test_times_are_hh_mm(text: str) -> None:
    assert errors_of(with_restrictions(start_time=text)) == [
        'elements[0].restrictions.start_time: must be a time "HH:MM" between 00:00 and 23:59'
    ]


@pytest.mark.parametrize("text", ["20260101", "2026-02-30", "2026-1-01", "2026-01-01T00:00"])
def test_dates_are_iso_calendar_dates(text: str) -> None:
    assert errors_of(with_restrictions(end_date=text)) == [
        'elements[0].restrictions.end_date: must be a date "YYYY-MM-DD"'
    ]


def test_ranges_must_be_non_empty() -> None:
    restrictions = {
        "start_time": "10:00", "end_time": "10:00",
        "start_date": "2026-02-01", "end_date": "2026-01-01",
        "min_kwh": "10", "max_kwh": "10",
        "min_power": "50", "max_power": "22",
        "min_duration": 3600, "max_duration": 60,
    }  # fmt: skip
    assert errors_of(with_restrictions(**restrictions)) == [
        "elements[0].restrictions.end_time: must differ from start_time",
        "elements[0].restrictions.end_date: must be after start_date",
        "elements[0].restrictions.max_kwh: must be after min_kwh",
        "elements[0].restrictions.max_power: must be after min_power",
        "elements[0].restrictions.max_duration: must be after min_duration",
    ]


def test_a_time_window_may_wrap_past_midnight() -> None:
    spec = parse_tariff(with_restrictions(start_time="22:00", end_time="06:00"))
    assert spec.elements[0].restrictions == Restrictions(start_time=time(22), end_time=time(6))


def test_restriction_values_are_checked() -> None:
    assert errors_of(
        with_restrictions(
            min_kwh="-1", max_power=1.5, min_duration=-1, max_duration="60", day_of_week=[], width=3
        )
    ) == [
        "elements[0].restrictions.width: unknown field",
        "elements[0].restrictions.min_kwh: must be >= 0",
        'elements[0].restrictions.max_power: must be a decimal string such as "0.35" or an'
        " integer, not a float",
        "elements[0].restrictions.min_duration: must be >= 0",
        "elements[0].restrictions.max_duration: must be an integer",
        "elements[0].restrictions.day_of_week: must not be empty",
    ]
    assert errors_of(with_restrictions(day_of_week="MONDAY")) == [
        "elements[0].restrictions.day_of_week: must be a list"
    ]


@pytest.mark.parametrize("name", ["", "Europe", "europe/berlin", "../etc/passwd", "UTC+1"])
def test_timezones_are_iana_names(name: str) -> None:
    data = copy.deepcopy(EXAMPLE)
    data["timezone"] = name
    assert errors_of(data) == [
        f"timezone: unknown timezone {name!r} (an IANA name, e.g. Europe/Berlin)"
    ]


@pytest.mark.parametrize(("value", "error"), [(-1, "must be >= 0"), ("30", "must be an integer")])
def test_idle_grace_minutes_is_a_whole_number_of_minutes_up_to_a_day(
    value: Any, error: str
) -> None:
    data = copy.deepcopy(EXAMPLE)
    data["idle_grace_minutes"] = value
    assert errors_of(data) == [f"idle_grace_minutes: {error}"]
