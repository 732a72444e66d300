"""Normalise OCPP 1.6 sampled values: integer Wh / varh / W / VA / var, A, V, %, Celsius."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

ENERGY_REGISTER = "Energy.Active.Import.Register"

# unit as sent → (normalised unit, factor, integer?)
_UNITS: dict[str, tuple[str, Decimal, bool]] = {
    "Wh": ("Wh", Decimal(1), True),
    "kWh": ("Wh", Decimal(1000), True),
    "varh": ("varh", Decimal(1), True),
    "kvarh": ("varh", Decimal(1000), True),
    "W": ("W", Decimal(1), True),
    "kW": ("W", Decimal(1000), True),
    "VA": ("VA", Decimal(1), True),
    "kVA": ("VA", Decimal(1000), True),
    "var": ("var", Decimal(1), True),
    "kvar": ("var", Decimal(1000), True),
    "A": ("A", Decimal(1), False),
    "V": ("V", Decimal(1), False),
    "Percent": ("%", Decimal(1), False),
    "Celsius": ("Celsius", Decimal(1), False),
}

# The unit a measurand is in when the station leaves it out (OCPP 1.6 §7.31 default is Wh,
# which only makes sense for energy; the others get their natural unit).
_DEFAULT_UNIT_BY_PREFIX = (
    ("Energy.Reactive", "varh"),
    ("Energy", "Wh"),
    ("Power.Reactive", "var"),
    ("Power.Factor", ""),
    ("Power", "W"),
    ("Current", "A"),
    ("Voltage", "V"),
    ("SoC", "Percent"),
    ("Temperature", "Celsius"),
)

_THOUSANDTH = Decimal("0.001")
# meter_values.value is NUMERIC(20, 3): a larger magnitude is kept raw only (value None).
_LARGEST = Decimal(10) ** 17


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled value as received plus its normalised value (None when not numeric)."""

    timestamp: datetime
    measurand: str
    phase: str | None
    context: str | None
    location: str | None
    format: str | None
    raw_value: str
    raw_unit: str | None
    value: Decimal | None
    unit: str | None

    @property
    def is_energy_register(self) -> bool:
        """The transaction's main register: active import energy of the whole outlet."""
        return (
            self.measurand == ENERGY_REGISTER
            and self.phase is None
            and self.location in (None, "Outlet")
            and self.unit == "Wh"
            and self.value is not None
        )


def default_unit(measurand: str) -> str:
    for prefix, unit in _DEFAULT_UNIT_BY_PREFIX:
        if measurand.startswith(prefix):
            return unit
    return ""


def normalise(
    *,
    timestamp: datetime,
    value: str,
    measurand: str | None,
    unit: str | None,
    phase: str | None = None,
    context: str | None = None,
    location: str | None = None,
    format: str | None = None,
) -> Sample:
    measurand = measurand or ENERGY_REGISTER
    effective_unit = unit or default_unit(measurand)
    number: Decimal | None = None
    normalised_unit: str | None = None
    if format != "SignedData":
        try:
            raw_number = Decimal(value.strip())
        except InvalidOperation:
            raw_number = None
        if raw_number is not None and raw_number.is_finite():
            if effective_unit in _UNITS:
                normalised_unit, factor, integral = _UNITS[effective_unit]
                number = raw_number * factor
                number = number.to_integral_value() if integral else number.quantize(_THOUSANDTH)
            elif effective_unit == "Fahrenheit":
                normalised_unit = "Celsius"
                number = ((raw_number - 32) * 5 / 9).quantize(_THOUSANDTH)
            elif effective_unit == "K":
                normalised_unit = "Celsius"
                number = (raw_number - Decimal("273.15")).quantize(_THOUSANDTH)
            else:
                normalised_unit, number = effective_unit or None, raw_number.quantize(_THOUSANDTH)
    if number is not None and abs(number) >= _LARGEST:
        number = normalised_unit = None
    return Sample(
        timestamp=timestamp,
        measurand=measurand,
        phase=phase,
        context=context,
        location=location,
        format=format,
        raw_value=value,
        raw_unit=unit,
        value=number,
        unit=normalised_unit,
    )
