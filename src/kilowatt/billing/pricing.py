"""The exact cost of a charging session under a tariff, and the price shown before it starts.

Quantities stay exact (`Fraction`) from the meter readings to the cost lines; each line is
rounded once, to the currency's minor unit, and VAT once on the subtotal. A reservation is
priced by the tariff's reservation elements only (OCPI 2.2.1 `restrictions.reservation`): the
reserved time a session used joins that session's bill, an expired one gets its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from kilowatt.billing.breakdown import (
    CostBreakdown,
    CostLine,
    breakdown_from_json,
    breakdown_to_json,
)
from kilowatt.billing.money import round_half_up, round_money
from kilowatt.billing.periods import (
    EXPIRED_RESERVATION,
    USED_RESERVATION,
    Moment,
    Period,
    first_applicable,
    session_start,
    split,
)
from kilowatt.billing.readings import (
    ChargeRecord,
    ImplausibleData,
    Reading,
    ReservedTime,
    charging_end,
    implausibilities,
    unpriceable,
)
from kilowatt.billing.tariffs import (
    ComponentType,
    PriceComponent,
    TariffSpec,
)

__all__ = [
    "ChargeRecord",
    "CostBreakdown",
    "CostLine",
    "ImplausibleData",
    "PlainPrice",
    "Reading",
    "ReservedTime",
    "applicable_prices",
    "breakdown_from_json",
    "breakdown_to_json",
    "charging_end",
    "implausibilities",
    "price",
    "price_reservation",
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
class PlainPrice:
    """The price a driver sees before starting (AFIR): VAT included, 4 decimals, None: free."""

    currency: str
    per_kwh: Decimal | None
    per_minute: Decimal | None
    per_session: Decimal | None
    parking_per_minute: Decimal | None
    idle_grace_minutes: int
    vat_percent: Decimal


def price(
    spec: TariffSpec, record: ChargeRecord, reserved: ReservedTime | None = None
) -> CostBreakdown:
    """What the session in `record` costs under `spec` (OCPI 2.2.1 semantics), with the
    reserved time it used (`reserved`, priced by the RESERVATION elements) if given.

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
    held, held_seconds = _reservation_lines(spec, reserved) if reserved else ((), 0)
    energy_wh = record.readings[-1].energy_wh - record.readings[0].energy_wh
    return _breakdown(spec, (*held, *lines), energy_wh, (charging, parking, held_seconds))


def price_reservation(spec: TariffSpec, reserved: ReservedTime) -> CostBreakdown:
    """The bill of a reservation on its own (one that expired unused): only reservation lines,
    VAT as for a session. No reservation element applies: an empty bill of 0."""
    lines, seconds = _reservation_lines(spec, reserved)
    return _breakdown(spec, lines, 0, (0, 0, seconds))


def _reservation_lines(
    spec: TariffSpec, reserved: ReservedTime
) -> tuple[tuple[CostLine, ...], int]:
    """The reservation's FLAT and TIME lines and the reserved seconds.

    The reserved time is cut like a session (time-of-day, date and duration boundaries) by
    pricing it as a session that delivered nothing; only reservation elements are consulted.
    """
    kinds = EXPIRED_RESERVATION if reserved.expired else USED_RESERVATION
    end = max(reserved.end, reserved.start)  # a start reported before the acceptance: 0 s
    record = ChargeRecord(reserved.start, end, (Reading(reserved.start, 0),))
    periods = split(spec, record)
    usage = _Usage()
    for period in periods:
        if period.seconds > 0:
            element = first_applicable(spec, TIME, period.moment, kinds)
            if element is not None:
                usage.add(TIME, element, period.seconds)
    usage.round_up_to_steps(spec)
    lines = [_line(spec, type_, element, q) for (type_, element), q in usage.ordered()]
    flat = first_applicable(spec, FLAT, session_start(spec, record), kinds)
    if flat is not None:
        lines.insert(0, _line(spec, FLAT, flat, Fraction(1)))
    seconds = sum((p.seconds for p in periods), Fraction(0))
    return tuple(lines), math.floor(seconds)


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
    kind = spec.elements[element].reservation
    if kind is not None and type_ is FLAT:
        unit = "reservation"
    quantity = raw * per_raw
    amount = round_money(quantity * Fraction(unit_price), spec.currency)
    return CostLine(type_, element, unit_price, round_half_up(quantity, places), unit, amount, kind)


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
    spec: TariffSpec,
    lines: tuple[CostLine, ...],
    energy_wh: int,
    seconds: tuple[int, int, int],  # charging, parking, reserved
) -> CostBreakdown:
    zero = round_money(Decimal(0), spec.currency)
    charging, parking, reserved = seconds

    def total(type_: ComponentType) -> Decimal:
        return sum(
            (line.amount for line in lines if line.type is type_ and line.reservation is None),
            zero,
        )

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
        energy_wh=energy_wh,
        charging_seconds=charging,
        parking_seconds=parking,
        reservation=sum((line.amount for line in lines if line.reservation is not None), zero),
        reservation_seconds=reserved,
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
