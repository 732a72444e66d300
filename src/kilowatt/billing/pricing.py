"""The exact cost of a charging session under a tariff, and the price shown before it starts.

Quantities stay exact (`Fraction`) from the meter readings to the cost lines; each line is
rounded once, to the currency's minor unit, and VAT once on the subtotal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from kilowatt.billing.money import round_half_up, round_money
from kilowatt.billing.periods import Moment, Period, first_applicable, session_start, split
from kilowatt.billing.readings import (
    ChargeRecord,
    ImplausibleData,
    Reading,
    charging_end,
    implausibilities,
    unpriceable,
)
from kilowatt.billing.tariffs import ComponentType, PriceComponent, TariffSpec

__all__ = [
    "ChargeRecord",
    "CostBreakdown",
    "CostLine",
    "ImplausibleData",
    "PlainPrice",
    "Reading",
    "applicable_prices",
    "breakdown_from_json",
    "breakdown_to_json",
    "charging_end",
    "implausibilities",
    "price",
]

ENERGY, TIME, PARKING, FLAT = (
    ComponentType.ENERGY,
    ComponentType.TIME,
    ComponentType.PARKING_TIME,
    ComponentType.FLAT,
)
_LINE_ORDER = (FLAT, ENERGY, TIME, PARKING)
# Per dimension: the unit on the bill, bill units per raw unit (Wh, s, session), decimals shown.
_UNITS: dict[ComponentType, tuple[str, Fraction, int]] = {
    ENERGY: ("kWh", Fraction(1, 1000), 3),
    TIME: ("h", Fraction(1, 3600), 4),
    PARKING: ("h", Fraction(1, 3600), 4),
    FLAT: ("session", Fraction(1), 0),
}


@dataclass(frozen=True, slots=True)
class CostLine:
    """One tariff element's charge for one dimension; amounts exclude VAT.

    `quantity` is for display (kWh to 3 decimals, hours to 4, 1 session); `amount` comes from
    the exact quantity times `unit_price`, rounded to the currency's minor unit.
    """

    type: ComponentType
    element: int
    unit_price: Decimal
    quantity: Decimal
    unit: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The bill: lines, sums per dimension and the subtotal excluding VAT, VAT, total."""

    currency: str
    lines: tuple[CostLine, ...]
    energy: Decimal
    time: Decimal
    parking: Decimal
    flat: Decimal
    subtotal: Decimal
    vat_percent: Decimal
    tax: Decimal
    total: Decimal
    energy_wh: int  # delivered: last reading minus first
    charging_seconds: int  # start to charging finished, whole seconds
    parking_seconds: int  # billable: after the grace time, whole seconds


@dataclass(frozen=True, slots=True)
class PlainPrice:
    """The price a driver sees before starting (AFIR): VAT included, 4 decimals, None: free."""

    currency: str
    per_kwh: Decimal | None
    per_minute: Decimal | None
    per_session: Decimal | None
    parking_per_minute: Decimal | None
    idle_grace_minutes: int
    vat_percent: Decimal


def price(spec: TariffSpec, record: ChargeRecord) -> CostBreakdown:
    """What the session in `record` costs under `spec` (OCPI 2.2.1 semantics).

    Raises ImplausibleData when the record cannot be priced at all (no readings, end before
    start, time or energy going backwards); callers check `implausibilities` first.
    """
    reasons = unpriceable(record)
    if reasons:
        raise ImplausibleData(reasons)
    periods = split(spec, record)
    usage = _Usage()
    for period in periods:
        for type_, quantity in _quantities(period):
            if quantity > 0:
                element = first_applicable(spec, type_, period.moment)
                if element is not None:
                    usage.add(type_, element, quantity)
    usage.round_up_to_steps(spec)
    lines = [
        _line(spec, type_, element, quantity) for (type_, element), quantity in usage.ordered()
    ]
    flat = first_applicable(spec, FLAT, session_start(spec, record))
    if flat is not None:
        lines.insert(0, _line(spec, FLAT, flat, Fraction(1)))
    charging, parking = _seconds(periods)
    return _breakdown(spec, tuple(lines), record, charging, parking)


def _quantities(period: Period) -> list[tuple[ComponentType, Fraction]]:
    """The raw quantity of each time-based dimension in `period`: Wh, s charging, s parking."""
    return [
        (ENERGY, period.energy_wh),
        (TIME, period.seconds if period.charging else Fraction(0)),
        (PARKING, period.seconds if period.parking else Fraction(0)),
    ]


class _Usage:
    """Exact quantities per (dimension, element), in order of first use."""

    def __init__(self) -> None:
        self._quantities: dict[tuple[ComponentType, int], Fraction] = {}
        self._last: dict[ComponentType, int] = {}

    def add(self, type_: ComponentType, element: int, quantity: Fraction) -> None:
        key = (type_, element)
        self._quantities[key] = self._quantities.get(key, Fraction(0)) + quantity
        self._last[type_] = element

    def round_up_to_steps(self, spec: TariffSpec) -> None:
        """OCPI: a dimension's total is billed in whole steps of the last element used for it,
        the extra at that element's price."""
        for type_, element in self._last.items():
            step = _component(spec, type_, element).step_size
            total = sum((q for (t, _), q in self._quantities.items() if t is type_), Fraction(0))
            self._quantities[(type_, element)] += math.ceil(total / step) * step - total

    def ordered(self) -> list[tuple[tuple[ComponentType, int], Fraction]]:
        # sorted() is stable: within a dimension, lines keep the order of first use.
        return sorted(self._quantities.items(), key=lambda item: _LINE_ORDER.index(item[0][0]))


def _line(spec: TariffSpec, type_: ComponentType, element: int, raw: Fraction) -> CostLine:
    unit_price = _component(spec, type_, element).price
    unit, per_raw, places = _UNITS[type_]
    quantity = raw * per_raw
    amount = round_money(quantity * Fraction(unit_price), spec.currency)
    return CostLine(type_, element, unit_price, round_half_up(quantity, places), unit, amount)


def _component(spec: TariffSpec, type_: ComponentType, element: int) -> PriceComponent:
    component = spec.elements[element].component(type_)
    if component is None:  # only elements that have the component are ever chosen
        raise AssertionError(f"element {element} has no {type_} component")
    return component


def _seconds(periods: list[Period]) -> tuple[int, int]:
    charging = sum((p.seconds for p in periods if p.charging), Fraction(0))
    parking = sum((p.seconds for p in periods if p.parking), Fraction(0))
    return math.floor(charging), math.floor(parking)


def _breakdown(
    spec: TariffSpec, lines: tuple[CostLine, ...], record: ChargeRecord, charging: int, parking: int
) -> CostBreakdown:
    zero = round_money(Decimal(0), spec.currency)

    def total(type_: ComponentType) -> Decimal:
        return sum((line.amount for line in lines if line.type is type_), zero)

    subtotal = sum((line.amount for line in lines), zero)
    tax = round_money(Fraction(subtotal) * Fraction(spec.vat_percent) / 100, spec.currency)
    return CostBreakdown(
        currency=spec.currency,
        lines=lines,
        energy=total(ENERGY),
        time=total(TIME),
        parking=total(PARKING),
        flat=total(FLAT),
        subtotal=subtotal,
        vat_percent=spec.vat_percent,
        tax=tax,
        total=subtotal + tax,
        energy_wh=record.readings[-1].energy_wh - record.readings[0].energy_wh,
        charging_seconds=charging,
        parking_seconds=parking,
    )


def applicable_prices(spec: TariffSpec, at: datetime) -> PlainPrice:
    """The prices a session starting at `at` pays first, VAT included, rounded to 4 decimals.

    Time, date and weekday restrictions are evaluated at `at`; kWh and duration ones as at a
    session start (0 kWh, 0 s); power restrictions are taken as met.
    """
    if at.tzinfo is None:
        raise ValueError(f"`at` must be timezone-aware, got {at!r}")
    moment = Moment(at.astimezone(ZoneInfo(spec.timezone)), Fraction(0), Fraction(0), None)
    with_vat = 1 + Fraction(spec.vat_percent) / 100

    def shown(type_: ComponentType, per: int) -> Decimal | None:
        element = first_applicable(spec, type_, moment)
        if element is None:
            return None
        return round_half_up(Fraction(_component(spec, type_, element).price) * with_vat / per, 4)

    return PlainPrice(
        currency=spec.currency,
        per_kwh=shown(ENERGY, 1),
        per_minute=shown(TIME, 60),
        per_session=shown(FLAT, 1),
        parking_per_minute=shown(PARKING, 60),
        idle_grace_minutes=spec.idle_grace_minutes,
        vat_percent=spec.vat_percent,
    )


# ---- JSON -------------------------------------------------------------------------------------

_AMOUNTS = ("energy", "time", "parking", "flat", "subtotal", "vat_percent", "tax", "total")
_COUNTS = ("energy_wh", "charging_seconds", "parking_seconds")


def breakdown_to_json(b: CostBreakdown) -> dict[str, Any]:
    """The JSON form of `b`, decimals as strings; `breakdown_from_json` reads it back unchanged."""
    return {
        "currency": b.currency,
        "lines": [
            {
                "type": line.type.value,
                "element": line.element,
                "unit_price": str(line.unit_price),
                "quantity": str(line.quantity),
                "unit": line.unit,
                "amount": str(line.amount),
            }
            for line in b.lines
        ],
        **{name: str(getattr(b, name)) for name in _AMOUNTS},
        **{name: getattr(b, name) for name in _COUNTS},
    }


def breakdown_from_json(data: Mapping[str, Any]) -> CostBreakdown:
    """The breakdown `breakdown_to_json` wrote; ValueError if `data` is not one."""
    try:
        lines = tuple(
            CostLine(
                type=ComponentType(line["type"]),
                element=_int(line["element"]),
                unit_price=_decimal(line["unit_price"]),
                quantity=_decimal(line["quantity"]),
                unit=str(line["unit"]),
                amount=_decimal(line["amount"]),
            )
            for line in data["lines"]
        )
        return CostBreakdown(
            currency=str(data["currency"]),
            lines=lines,
            energy=_decimal(data["energy"]),
            time=_decimal(data["time"]),
            parking=_decimal(data["parking"]),
            flat=_decimal(data["flat"]),
            subtotal=_decimal(data["subtotal"]),
            vat_percent=_decimal(data["vat_percent"]),
            tax=_decimal(data["tax"]),
            total=_decimal(data["total"]),
            energy_wh=_int(data["energy_wh"]),
            charging_seconds=_int(data["charging_seconds"]),
            parking_seconds=_int(data["parking_seconds"]),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"not a cost breakdown: {exc!r}") from exc


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return number


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value
