"""A bill as data (its itemised lines and sums) and its stored JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kilowatt.billing.money import round_money
from kilowatt.billing.tariffs import ComponentType, ReservationRestriction


@dataclass(frozen=True, slots=True)
class CostLine:
    """One tariff element's charge for one dimension; amounts exclude VAT.

    `quantity` is for display (kWh to 3 decimals, hours to 4, 1 session); `amount` comes from
    the exact quantity times `unit_price`, rounded to the currency's minor unit. `reservation`
    is set on a line that prices a reservation (the kind of element that priced it).
    """

    type: ComponentType
    element: int
    unit_price: Decimal
    quantity: Decimal
    unit: str
    amount: Decimal
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The bill: lines, sums per dimension and the subtotal excluding VAT, VAT, total.

    `energy`, `time`, `parking` and `flat` sum the charging lines; `reservation` sums the
    reservation lines (their FLAT and TIME), which the other sums never include.
    """

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
    reservation: Decimal = Decimal(0)
    reservation_seconds: int = 0  # the reserved time priced, whole seconds


# ---- JSON -------------------------------------------------------------------------------------

_AMOUNTS = ("energy", "time", "parking", "flat", "subtotal", "vat_percent", "tax", "total")
_COUNTS = ("energy_wh", "charging_seconds", "parking_seconds")


def breakdown_to_json(b: CostBreakdown) -> dict[str, Any]:
    """The JSON form of `b`, decimals as strings; `breakdown_from_json` reads it back unchanged."""
    data: dict[str, Any] = {
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
            # Only reservation lines carry the key: a bill without one is stored as before.
            | ({} if line.reservation is None else {"reservation": line.reservation.value})
            for line in b.lines
        ],
        **{name: str(getattr(b, name)) for name in _AMOUNTS},
        **{name: getattr(b, name) for name in _COUNTS},
    }
    if b.reservation_seconds or any(line.reservation for line in b.lines):
        data["reservation"] = str(b.reservation)
        data["reservation_seconds"] = b.reservation_seconds
    return data


def breakdown_from_json(data: Mapping[str, Any]) -> CostBreakdown:
    """The breakdown `breakdown_to_json` wrote; ValueError if `data` is not one.

    Bills stored before reservations were priced have no reservation keys: they read as none.
    """
    try:
        lines = tuple(
            CostLine(
                type=ComponentType(line["type"]),
                element=_int(line["element"]),
                unit_price=_decimal(line["unit_price"]),
                quantity=_decimal(line["quantity"]),
                unit=str(line["unit"]),
                amount=_decimal(line["amount"]),
                reservation=_kind(line.get("reservation")),
            )
            for line in data["lines"]
        )
        no_reservation = str(round_money(Decimal(0), str(data["currency"])))
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
            reservation=_decimal(data.get("reservation", no_reservation)),
            reservation_seconds=_int(data.get("reservation_seconds", 0)),
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


def _kind(value: Any) -> ReservationRestriction | None:
    return None if value is None else ReservationRestriction(value)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value
