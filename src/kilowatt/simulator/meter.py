"""A connector's meter: the energy register, and the sampled values of a MeterValues.req.

Which values are sampled comes from MeterValuesSampledData / StopTxnSampledData: a comma
separated list of measurands, each optionally with a phase ("Current.Import.L1", OCPP 1.6 §9.1.17).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from kilowatt.ocpp.v16.enums import Location, Measurand, Phase, ReadingContext, UnitOfMeasure
from kilowatt.ocpp.v16.messages import MeterValue, SampledValue

from .ev import Ev

__all__ = [
    "DEFAULT_SAMPLED_DATA_AC",
    "DEFAULT_SAMPLED_DATA_DC",
    "Meter",
    "MeterItem",
    "parse_measurands",
]

#: Eight values: energy register, power, current per phase, voltage, SoC, temperature.
DEFAULT_SAMPLED_DATA_AC = (
    "Energy.Active.Import.Register,Power.Active.Import,Current.Import.L1,Current.Import.L2,"
    "Current.Import.L3,Voltage.L1-N,SoC,Temperature"
)
#: Eight values for DC, which has no phases: the offered power and current instead.
DEFAULT_SAMPLED_DATA_DC = (
    "Energy.Active.Import.Register,Power.Active.Import,Power.Offered,Current.Import,"
    "Current.Offered,Voltage,SoC,Temperature"
)

_UNITS: dict[Measurand, UnitOfMeasure] = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: UnitOfMeasure.WH,
    Measurand.POWER_ACTIVE_IMPORT: UnitOfMeasure.W,
    Measurand.POWER_OFFERED: UnitOfMeasure.W,
    Measurand.CURRENT_IMPORT: UnitOfMeasure.A,
    Measurand.CURRENT_OFFERED: UnitOfMeasure.A,
    Measurand.VOLTAGE: UnitOfMeasure.V,
    Measurand.SOC: UnitOfMeasure.PERCENT,
    Measurand.TEMPERATURE: UnitOfMeasure.CELSIUS,
    Measurand.FREQUENCY: UnitOfMeasure.HERTZ,
}
SUPPORTED_MEASURANDS = frozenset(_UNITS)
_LOCATIONS = {Measurand.SOC: Location.EV, Measurand.TEMPERATURE: Location.BODY}


@dataclass(frozen=True, slots=True)
class MeterItem:
    measurand: Measurand
    phase: Phase | None = None


def parse_measurands(text: str) -> tuple[MeterItem, ...]:
    """Parse a measurand CSL; ValueError for a measurand or phase this meter cannot sample."""
    items: list[MeterItem] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        phase: Phase | None = None
        head, _, tail = name.rpartition(".")
        if head and tail in Phase._value2member_map_:
            name, phase = head, Phase(tail)
        try:
            measurand = Measurand(name)
        except ValueError:
            raise ValueError(f"unknown measurand {raw.strip()!r}") from None
        if measurand not in SUPPORTED_MEASURANDS:
            raise ValueError(f"measurand {measurand} is not sampled by this meter")
        items.append(MeterItem(measurand, phase))
    return tuple(items)


def _num(value: float) -> str:
    return f"{value:.1f}"


class Meter:
    """One connector's meter. The register only ever grows; everything else is the last reading."""

    __slots__ = (
        "dc",
        "frequency",
        "max_power_w",
        "power_w",
        "register_wh",
        "temperature",
        "voltage",
    )

    def __init__(self, max_power_w: float, *, dc: bool, register_wh: float = 0.0) -> None:
        self.max_power_w = max_power_w
        self.dc = dc
        self.register_wh = register_wh
        self.power_w = 0.0
        self.voltage = 400.0 if dc else 230.0
        self.temperature = 22.0
        self.frequency = 50.0

    @property
    def register(self) -> int:
        """The register in whole Wh, as in meterStart / meterStop."""
        return int(self.register_wh)

    def add(self, energy_wh: float, power_w: float, rng: random.Random, ev: Ev | None) -> None:
        """Account for energy delivered since the last reading, and take new readings."""
        self.register_wh += energy_wh
        self.power_w = power_w
        if self.dc:
            soc = ev.soc if ev is not None else 0.5
            self.voltage = 330.0 + 120.0 * soc + rng.uniform(-1.0, 1.0)
        else:
            self.voltage = 230.0 * (1.0 + rng.uniform(-0.015, 0.015))
        self.frequency = 50.0 + rng.uniform(-0.03, 0.03)
        # The cable warms with the load and cools slowly towards ambient.
        target = 22.0 + 20.0 * power_w / self.max_power_w
        self.temperature += (target - self.temperature) * 0.2

    def current_a(self) -> float:
        if self.dc:
            return self.power_w / self.voltage
        return self.power_w / (3.0 * self.voltage)

    def value(self, item: MeterItem, ev: Ev | None) -> str | None:
        """The reading for one item, or None when there is nothing to measure (no car: no SoC)."""
        measurand = item.measurand
        if measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
            return str(self.register)
        if measurand is Measurand.POWER_ACTIVE_IMPORT:
            return _num(self.power_w)
        if measurand is Measurand.POWER_OFFERED:
            return _num(self.max_power_w)
        if measurand is Measurand.CURRENT_IMPORT:
            return _num(self.current_a())
        if measurand is Measurand.CURRENT_OFFERED:
            if self.dc:
                return _num(self.max_power_w / self.voltage)
            return _num(self.max_power_w / (3.0 * 230.0))
        if measurand is Measurand.VOLTAGE:
            return _num(self.voltage)
        if measurand is Measurand.SOC:
            return None if ev is None else str(ev.soc_percent)
        if measurand is Measurand.TEMPERATURE:
            return _num(self.temperature)
        if measurand is Measurand.FREQUENCY:
            return f"{self.frequency:.2f}"
        return None

    def meter_value(
        self,
        items: tuple[MeterItem, ...],
        context: ReadingContext,
        timestamp: datetime,
        ev: Ev | None,
    ) -> MeterValue:
        """One MeterValue with a SampledValue per item (skipping ones with nothing to read)."""
        sampled: list[SampledValue] = []
        for item in items:
            value = self.value(item, ev)
            if value is None:
                continue
            sampled.append(
                SampledValue(
                    value=value,
                    context=context,
                    measurand=item.measurand,
                    phase=item.phase,
                    location=_LOCATIONS.get(item.measurand),  # Outlet is the default
                    unit=_UNITS[item.measurand],
                )
            )
        if not sampled:
            # A MeterValue needs at least one sampled value: the register is always there.
            sampled.append(
                SampledValue(
                    value=str(self.register),
                    context=context,
                    measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                    unit=UnitOfMeasure.WH,
                )
            )
        return MeterValue(timestamp=timestamp, sampled_value=sampled)
