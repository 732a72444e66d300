"""Exact money: ISO 4217 exponents, half-up rounding, minor units for payment providers."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kilowatt.billing.money import (
    MINOR_UNITS,
    UnknownCurrency,
    exponent,
    from_minor_units,
    round_half_up,
    round_money,
    to_minor_units,
)


def test_minor_units_cover_the_common_currencies_with_their_iso_exponents() -> None:
    assert len(MINOR_UNITS) >= 30
    assert {c: MINOR_UNITS[c] for c in ("EUR", "USD", "GBP", "CHF", "SEK", "PLN", "INR")} == {
        "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "PLN": 2, "INR": 2,
    }  # fmt: skip
    assert [exponent(c) for c in ("JPY", "KRW", "ISK", "CLP")] == [0, 0, 0, 0]
    assert [exponent(c) for c in ("KWD", "BHD", "JOD", "OMR", "TND")] == [3, 3, 3, 3, 3]


@pytest.mark.parametrize("code", ["XYZ", "eur", "", "EURO"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        exponent(code)
    with pytest.raises(ValueError):  # UnknownCurrency is a ValueError
        round_money(Decimal(1), code)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1.2"), "EUR", "1.20"),  # quantized to the minor unit, not just rounded
        (Decimal("1.005"), "EUR", "1.01"),  # half up, where banker's rounding gives 1.00
        (Decimal("1.004999"), "EUR", "1.00"),
        (Decimal("-1.005"), "EUR", "-1.01"),  # half away from zero, like ROUND_HALF_UP
        (Decimal("-0.004"), "EUR", "0.00"),  # no negative zero
        (Fraction(1, 8), "EUR", "0.13"),  # 0.125
        (Fraction(1, 3), "EUR", "0.33"),
        (Fraction(2, 3), "EUR", "0.67"),
        (Decimal("2.5"), "JPY", "3"),
        (Decimal("3"), "JPY", "3"),
        (Decimal("0.0005"), "KWD", "0.001"),
        (Decimal("0.0125"), "BHD", "0.013"),
        # beyond the default 28-digit decimal context: still exact
        (Decimal("12345678901234567890123456789.005"), "EUR", "12345678901234567890123456789.01"),
    ],
)
def test_round_money_is_exact_half_up_to_the_minor_unit(
    amount: Decimal | Fraction, currency: str, expected: str
) -> None:
    assert str(round_money(amount, currency)) == expected


def test_round_half_up_to_display_places() -> None:
    assert str(round_half_up(Fraction(1, 3), 4)) == "0.3333"
    assert str(round_half_up(Fraction(5, 10000), 3)) == "0.001"
    assert str(round_half_up(7, 3)) == "7.000"


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_amounts_are_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError):
        round_money(amount, "EUR")
    with pytest.raises(ValueError):
        to_minor_units(amount, "EUR")


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        (Decimal("12.34"), "EUR", 1234),
        (Decimal("12.3"), "EUR", 1230),
        (Decimal("12.340000"), "EUR", 1234),  # trailing zeros are not extra precision
        (Decimal("-0.05"), "EUR", -5),
        (Decimal("1500"), "JPY", 1500),
        (Decimal("1.2"), "KWD", 1200),
    ],
)
def test_to_minor_units(amount: Decimal, currency: str, units: int) -> None:
    assert to_minor_units(amount, currency) == units


@pytest.mark.parametrize(
    ("amount", "currency"), [(Decimal("1.005"), "EUR"), (Decimal("0.5"), "JPY")]
)
def test_to_minor_units_refuses_more_precision_than_the_currency_has(
    amount: Decimal, currency: str
) -> None:
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        to_minor_units(amount, currency)


@pytest.mark.parametrize(
    ("units", "currency", "expected"),
    [(250, "EUR", "2.50"), (-5, "EUR", "-0.05"), (0, "EUR", "0.00"), (1500, "JPY", "1500"),
     (1, "KWD", "0.001")],
)  # fmt: skip
def test_from_minor_units(units: int, currency: str, expected: str) -> None:
    assert str(from_minor_units(units, currency)) == expected


@given(
    units=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(sorted(MINOR_UNITS)),
)
def test_minor_units_round_trip(units: int, currency: str) -> None:
    amount = from_minor_units(units, currency)
    assert to_minor_units(amount, currency) == units
    assert round_money(amount, currency) == amount
