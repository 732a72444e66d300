"""Tariffs as data, shaped like OCPI 2.2.1 tariffs, and their JSON (API) form.

`parse_tariff` is the only gate into a `TariffSpec`: it checks everything and reports every
problem at once, each under its JSON path, so an operator fixes a tariff in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kilowatt.billing.money import MINOR_UNITS


class ComponentType(StrEnum):
    """A tariff dimension (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    FLAT = "FLAT"


class DayOfWeek(StrEnum):
    """Named like OCPI's DayOfWeek; declared in `date.weekday()` order."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestriction(StrEnum):
    """OCPI 2.2.1 ReservationRestrictionType: the element prices a reservation, not charging.

    RESERVATION prices the reserved time (from the charger's acceptance until the session
    started, or until the expiry); RESERVATION_EXPIRES prices a reservation that expired unused,
    and for such a one comes before RESERVATION (OCPI: its TIME price replaces RESERVATION's).
    """

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


# OCPI 2.2.1: "A reservation can only have FLAT and TIME TariffDimensions".
RESERVATION_COMPONENTS = frozenset({ComponentType.FLAT, ComponentType.TIME})
# A reservation delivers no energy, so energy and power restrictions would never be decided.
_NOT_FOR_RESERVATIONS = ("min_kwh", "max_kwh", "min_power", "max_power")

WEEKDAYS: tuple[DayOfWeek, ...] = tuple(DayOfWeek)
_DAY_NAMES = [day.value for day in WEEKDAYS]


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """A price excluding VAT: per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session (FLAT).

    The dimension is billed in blocks of `step_size` (Wh for ENERGY, seconds for the times);
    FLAT ignores it.
    """

    type: ComponentType
    price: Decimal
    step_size: int = 1


@dataclass(frozen=True, slots=True)
class Restrictions:
    """When an element applies; every given field must hold. Minimums inclusive, maximums not.

    Times and dates are wall-clock in the tariff's timezone; `end_time` before `start_time`
    wraps past midnight. kWh and durations count from the session start; power is the average
    power (kW) of the period being priced. With `reservation` set the element prices only a
    reservation (its durations count from the reservation's start), never charging.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] | None = None
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None

    @property
    def reservation(self) -> ReservationRestriction | None:
        """Which reservations this element prices; None: it prices charging sessions."""
        return None if self.restrictions is None else self.restrictions.reservation

    def component(self, type: ComponentType) -> PriceComponent | None:
        """This element's price for the dimension `type`, if it has one."""
        return next((c for c in self.price_components if c.type is type), None)


@dataclass(frozen=True, slots=True)
class TariffSpec:
    """A whole tariff. For each dimension the first element (in order) that applies prices it.

    PARKING_TIME is billed only from `idle_grace_minutes` after charging finished.
    """

    currency: str
    vat_percent: Decimal
    elements: tuple[TariffElement, ...]
    timezone: str = "UTC"
    idle_grace_minutes: int = 0


class TariffError(ValueError):
    """An invalid tariff; `errors` holds every problem as "json.path: what is wrong"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid tariff: " + "; ".join(errors))
        self.errors = errors


def tariff_to_json(spec: TariffSpec) -> dict[str, Any]:
    """The JSON form of `spec`, decimals as strings; `parse_tariff` reads it back unchanged."""
    return {
        "currency": spec.currency,
        "vat_percent": _decimal_text(spec.vat_percent),
        "timezone": spec.timezone,
        "idle_grace_minutes": spec.idle_grace_minutes,
        "elements": [_element_to_json(element) for element in spec.elements],
    }


def _element_to_json(element: TariffElement) -> dict[str, Any]:
    out: dict[str, Any] = {
        "price_components": [
            {"type": c.type.value, "price": _decimal_text(c.price), "step_size": c.step_size}
            for c in element.price_components
        ]
    }
    if element.restrictions is not None:
        out["restrictions"] = _restrictions_to_json(element.restrictions)
    return out


def _restrictions_to_json(r: Restrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _RESTRICTION_FIELDS:
        value = getattr(r, name)
        if value is None:
            continue
        if isinstance(value, StrEnum):
            out[name] = value.value
        elif isinstance(value, time):
            out[name] = value.strftime("%H:%M")
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, Decimal):
            out[name] = _decimal_text(value)
        elif isinstance(value, frozenset):
            out[name] = [day.value for day in WEEKDAYS if day in value]
        else:
            out[name] = value
    return out


def _decimal_text(value: Decimal) -> str:
    # Positional notation: "100", never "1E+2", so the strict input pattern reads it back.
    return format(value, "f")


# ---- parsing ----------------------------------------------------------------------------------

_RESTRICTION_FIELDS = (
    "start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh",
    "min_power", "max_power", "min_duration", "max_duration", "day_of_week", "reservation",
)  # fmt: skip
_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_PRICE_PLACES = 6

_E = TypeVar("_E", bound=StrEnum)


def parse_tariff(data: Mapping[str, Any]) -> TariffSpec:
    """The tariff in `data` (its JSON form), or TariffError listing every problem found."""
    errors: list[str] = []
    obj = _Object(
        data, "", errors, required={"currency", "vat_percent", "elements"},
        optional={"timezone", "idle_grace_minutes"},
    )  # fmt: skip
    currency = obj.string("currency")
    if currency is not None and currency not in MINOR_UNITS:
        obj.error("currency", f"unknown currency {currency!r} (an upper-case ISO 4217 code)")
    timezone = obj.string("timezone")
    if timezone is not None and not _is_timezone(timezone):
        obj.error("timezone", f"unknown timezone {timezone!r} (an IANA name, e.g. Europe/Berlin)")
    vat = obj.decimal("vat_percent", minimum=Decimal(0), maximum=Decimal(100))
    grace = obj.integer("idle_grace_minutes", minimum=0, maximum=24 * 60)
    items = obj.array("elements", non_empty=True) or []
    elements = tuple(
        _parse_element(item, obj.path(f"elements[{i}]"), errors) for i, item in enumerate(items)
    )
    if errors:
        raise TariffError(errors)
    return TariffSpec(
        currency=currency or "",
        vat_percent=vat if vat is not None else Decimal(0),
        elements=elements,
        timezone=timezone if timezone is not None else "UTC",
        idle_grace_minutes=grace if grace is not None else 0,
    )


def _parse_element(data: Any, path: str, errors: list[str]) -> TariffElement:
    obj = _Object(data, path, errors, required={"price_components"}, optional={"restrictions"})
    items = obj.array("price_components", non_empty=True) or []
    components: list[tuple[int, PriceComponent]] = []
    first_of_type: dict[ComponentType, int] = {}
    for i, item in enumerate(items):
        component = _parse_component(item, obj.path(f"price_components[{i}]"), errors)
        if component is None:
            continue
        if component.type in first_of_type:
            # Two prices for one dimension in one element: which one applies would be a guess.
            errors.append(
                f"{obj.path(f'price_components[{i}]')}.type: {component.type.value} is already "
                f"priced by price_components[{first_of_type[component.type]}]"
            )
        first_of_type.setdefault(component.type, i)
        components.append((i, component))
    raw = obj.get("restrictions")
    restrictions = (
        None if raw is None else _parse_restrictions(raw, obj.path("restrictions"), errors)
    )
    if restrictions is not None and restrictions.reservation is not None:
        for i, component in components:
            if component.type not in RESERVATION_COMPONENTS:
                errors.append(
                    f"{obj.path(f'price_components[{i}]')}.type: an element with restrictions."
                    f"reservation prices only FLAT and TIME (OCPI 2.2.1), not {component.type.value}"
                )
    return TariffElement(tuple(c for _, c in components), restrictions)


def _parse_component(data: Any, path: str, errors: list[str]) -> PriceComponent | None:
    obj = _Object(data, path, errors, required={"type", "price"}, optional={"step_size"})
    type_ = obj.enum("type", ComponentType)
    price = obj.decimal("price", minimum=Decimal(0), places=_MAX_PRICE_PLACES)
    step_size = obj.integer("step_size", minimum=1)
    if type_ is None or price is None:
        return None
    return PriceComponent(type_, price, step_size if step_size is not None else 1)


def _parse_restrictions(data: Any, path: str, errors: list[str]) -> Restrictions:
    obj = _Object(data, path, errors, required=set(), optional=set(_RESTRICTION_FIELDS))
    zero = Decimal(0)
    r = Restrictions(
        start_time=obj.time("start_time"),
        end_time=obj.time("end_time"),
        start_date=obj.date("start_date"),
        end_date=obj.date("end_date"),
        min_kwh=obj.decimal("min_kwh", minimum=zero),
        max_kwh=obj.decimal("max_kwh", minimum=zero),
        min_power=obj.decimal("min_power", minimum=zero),
        max_power=obj.decimal("max_power", minimum=zero),
        min_duration=obj.integer("min_duration", minimum=0),
        max_duration=obj.integer("max_duration", minimum=0),
        day_of_week=obj.days("day_of_week"),
        reservation=obj.enum("reservation", ReservationRestriction),
    )
    if r.reservation is not None:
        for name in _NOT_FOR_RESERVATIONS:
            if getattr(r, name) is not None:
                obj.error(name, "not allowed with reservation: a reservation delivers no energy")
    if r.start_time is not None and r.start_time == r.end_time:
        obj.error("end_time", "must differ from start_time")
    for low, high in (
        ("start_date", "end_date"), ("min_kwh", "max_kwh"),
        ("min_power", "max_power"), ("min_duration", "max_duration"),
    ):  # fmt: skip
        low_value, high_value = getattr(r, low), getattr(r, high)
        if low_value is not None and high_value is not None and not low_value < high_value:
            obj.error(high, f"must be after {low}")
    return r


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class _Object:
    """One JSON object being read. Each getter returns the typed value, or None when the field
    is absent or invalid; invalid values are recorded in `errors` under their JSON path."""

    def __init__(
        self, data: Any, path: str, errors: list[str], *, required: set[str], optional: set[str]
    ) -> None:
        self._path = path
        self._errors = errors
        if not isinstance(data, Mapping):
            errors.append(f"{path or '$'}: must be an object")
            data = {}
        self._data: Mapping[str, Any] = data
        for key in data:
            if key not in required and key not in optional:
                self.error(key, "unknown field")
        for key in sorted(required - set(data)):
            self.error(key, "is required")

    def path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> None:
        self._errors.append(f"{self.path(key)}: {message}")

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def string(self, key: str) -> str | None:
        value = self.get(key)
        if value is None or isinstance(value, str):
            return value
        self.error(key, "must be a string")
        return None

    def array(self, key: str, *, non_empty: bool = False) -> list[Any] | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.error(key, "must be a list")
            return None
        if non_empty and not value:
            self.error(key, "must not be empty")
        return value

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(key, "must be an integer")
            return None
        return value if self._in_range(key, value, minimum, maximum) else None

    def decimal(
        self,
        key: str,
        *,
        minimum: Decimal,
        maximum: Decimal | None = None,
        places: int | None = None,
    ) -> Decimal | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, float):
            # A binary float cannot hold most prices exactly (0.35 is 0.34999…); make it a string.
            self.error(key, 'must be a decimal string such as "0.35" or an integer, not a float')
            return None
        if (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _DECIMAL.fullmatch(value)
        ):
            number = Decimal(value)
        else:
            self.error(key, 'must be a decimal string such as "0.35" or an integer')
            return None
        if places is not None and (Fraction(number) * 10**places).denominator != 1:
            self.error(key, f"must have at most {places} decimal places")
            return None
        return number if self._in_range(key, number, minimum, maximum) else None

    def time(self, key: str) -> time | None:
        value = self.get(key)
        if value is None:
            return None
        match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.error(key, 'must be a time "HH:MM" between 00:00 and 23:59')
            return None
        return time(int(match[1]), int(match[2]))

    def date(self, key: str) -> date | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.error(key, 'must be a date "YYYY-MM-DD"')
        return None

    def enum(self, key: str, enum: type[_E]) -> _E | None:
        value = self.get(key)
        if value is None:
            return None
        names = [member.value for member in enum]
        if value not in names:
            self.error(key, f"must be one of {', '.join(names)}, not {value!r}")
            return None
        return enum(value)

    def days(self, key: str) -> frozenset[DayOfWeek] | None:
        values = self.array(key, non_empty=True)
        if values is None:
            return None
        days = set()
        for i, value in enumerate(values):
            if value not in _DAY_NAMES:
                self.error(f"{key}[{i}]", f"must be one of {', '.join(_DAY_NAMES)}, not {value!r}")
                return None
            days.add(DayOfWeek(value))
        return frozenset(days) if days else None

    def _in_range(
        self, key: str, value: int | Decimal, minimum: int | Decimal, maximum: int | Decimal | None
    ) -> bool:
        if value < minimum:
            self.error(key, f"must be >= {minimum}")
            return False
        if maximum is not None and value > maximum:
            self.error(key, f"must be <= {maximum}")
            return False
        return True
