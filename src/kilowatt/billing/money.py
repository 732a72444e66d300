"""Exact money: ISO 4217 minor units and half-up rounding without floats."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

# ISO 4217 exponents (digits after the decimal point) of the currencies we expect to bill in.
MINOR_UNITS: dict[str, int] = {
    # Europe
    "EUR": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "ISK": 0, "PLN": 2, "CZK": 2,
    "HUF": 2, "RON": 2, "BGN": 2, "RSD": 2, "TRY": 2, "UAH": 2,
    # Americas
    "USD": 2, "CAD": 2, "MXN": 2, "BRL": 2, "ARS": 2, "COP": 2, "CLP": 0, "UYU": 2, "PYG": 0,
    # Asia and Pacific
    "JPY": 0, "KRW": 0, "CNY": 2, "INR": 2, "SGD": 2, "HKD": 2, "TWD": 2, "THB": 2, "MYR": 2,
    "IDR": 2, "PHP": 2, "VND": 0, "AUD": 2, "NZD": 2,
    # Middle East and Africa
    "AED": 2, "SAR": 2, "QAR": 2, "ILS": 2, "EGP": 2, "ZAR": 2, "KWD": 3, "BHD": 3, "JOD": 3,
    "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3, "XOF": 0, "XAF": 0, "UGX": 0,
}  # fmt: skip


class UnknownCurrency(ValueError):
    """A currency code that is not in MINOR_UNITS (codes are upper case, e.g. "EUR")."""


def exponent(currency: str) -> int:
    """The number of decimal places of `currency`'s minor unit (2 for EUR, 0 for JPY)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}") from None


def round_half_up(amount: Decimal | Fraction | int, places: int) -> Decimal:
    """`amount` rounded half away from zero to `places` decimals, exactly, with that exponent.

    Integer arithmetic throughout, so neither float nor the decimal context's precision can
    change the result.
    """
    scale: int = 10**places
    scaled = _exact(amount) * scale
    units = math.floor(abs(scaled) + Fraction(1, 2))
    digits = tuple(int(digit) for digit in str(units))
    return Decimal((1 if scaled < 0 and units else 0, digits, -places))


def round_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit: Decimal("1.20") EUR, "3" JPY."""
    return round_half_up(amount, exponent(currency))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in the currency's minor unit (cents); ValueError if it has finer precision."""
    scale: int = 10 ** exponent(currency)
    units = _exact(amount) * scale
    if units.denominator != 1:
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return units.numerator


def from_minor_units(units: int, currency: str) -> Decimal:
    """The amount `units` minor units stand for, with the currency's exponent (250 → 2.50 EUR)."""
    places = exponent(currency)
    return round_half_up(Fraction(units, 10**places), places)


def _exact(amount: Decimal | Fraction | int) -> Fraction:
    if isinstance(amount, Decimal) and not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    return Fraction(amount)
