"""A connector's meter: the energy register, and the sampled values of a MeterValues.req.

Which values are sampled comes from MeterValuesSampledData / StopTxnSampledData: a comma
separated list of measurands, each optionally with a phase ("Current.Import.L1", OCPP 1.6 §9.1.17).
On AC, current, voltage and power are per grid phase: see Meter.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from kilowatt.ocpp.v16.enums import Location, Measurand, Phase, ReadingContext, UnitOfMeasure
from kilowatt.ocpp.v16.messages import MeterValue, SampledValue

from . import phases
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


#: On AC an unphased Current.Import or Voltage is read on every grid phase (phase L1…L3 and
#: L1-N…L3-N): a single "overall" current says nothing about a single-phase car.
_PER_PHASE: dict[Measurand, tuple[Phase, ...]] = {
    Measurand.CURRENT_IMPORT: (Phase.L1, Phase.L2, Phase.L3),
    Measurand.VOLTAGE: (Phase.L1_N, Phase.L2_N, Phase.L3_N),
}


def expand(items: tuple[MeterItem, ...], *, dc: bool) -> tuple[MeterItem, ...]:
    """The items a sample carries: on AC, unphased Current.Import and Voltage per phase."""
    if dc:
        return items
    out: list[MeterItem] = []
    for item in items:
        per_phase = _PER_PHASE.get(item.measurand) if item.phase is None else None
        if per_phase is None:
            out.append(item)
        else:
            out.extend(MeterItem(item.measurand, p) for p in per_phase)
    return tuple(out)


def _line(phase: Phase) -> int | None:
    """The grid phase (1..3) a phase value names first (L2, L2-N, L2-L3 -> 2); None for N."""
    return int(phase.value[1]) if phase.value.startswith("L") else None


class Meter:
    """One connector's meter. The register only ever grows; everything else is the last reading.

    On AC the load is spread evenly over the grid phases the car uses (``lines``, from the
    car's phases and the connector's phase rotation); the others carry nothing.
    """

    __slots__ = (
        "_expanded",
        "_expanded_from",
        "currents",
        "dc",
        "frequency",
        "lines",
        "max_power_w",
        "power_w",
        "register_wh",
        "rotation",
        "temperature",
        "voltage",
        "voltages",
    )

    def __init__(self, max_power_w: float, *, dc: bool, register_wh: float = 0.0) -> None:
        self.max_power_w = max_power_w
        self.dc = dc
        self.register_wh = register_wh
        self.power_w = 0.0
        self.voltage = 400.0 if dc else 230.0
        #: AC phase-to-neutral voltages of L1, L2, L3.
        self.voltages = [230.0, 230.0, 230.0]
        #: ConnectorPhaseRotation of this connector (the station keeps it up to date).
        self.rotation = phases.DEFAULT_ROTATION
        #: The grid phases the last reading's load was on.
        self.lines: tuple[int, ...] = phases.GRID_PHASES
        #: The last reading's current on L1, L2, L3 (AC), worked out once per reading.
        self.currents = (0.0, 0.0, 0.0)
        # The station samples the same items every time: expand them once (per-sample cost).
        self._expanded_from: tuple[MeterItem, ...] | None = None
        self._expanded: tuple[MeterItem, ...] = ()
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
        if ev is not None and not self.dc:
            self.lines = phases.grid_lines(self.rotation, ev.phases)
        if self.dc:
            soc = ev.soc if ev is not None else 0.5
            self.voltage = 330.0 + 120.0 * soc + rng.uniform(-1.0, 1.0)
        else:
            # Within ±1.5 % of 230 V on each phase: smart_charging.SAFE_VOLTAGE relies on it.
            self.voltages = [230.0 * (1.0 + rng.uniform(-0.015, 0.015)) for _ in range(3)]
            self.voltage = self.voltages[0]
            share = power_w / len(self.lines)
            v1, v2, v3 = self.voltages
            lines = self.lines
            self.currents = (
                share / v1 if 1 in lines else 0.0,
                share / v2 if 2 in lines else 0.0,
                share / v3 if 3 in lines else 0.0,
            )
        self.frequency = 50.0 + rng.uniform(-0.03, 0.03)
        # The cable warms with the load and cools slowly towards ambient.
        target = 22.0 + 20.0 * power_w / self.max_power_w
        self.temperature += (target - self.temperature) * 0.2

    def phase_currents(self) -> dict[int, float]:
        """AC: the current on each grid phase 1..3 (A), 0 on the phases the car does not use.
        DC: the charger's AC input per phase at 230 V (conversion losses left out)."""
        if self.dc:
            each = self.power_w / (3.0 * 230.0)
            return dict.fromkeys(phases.GRID_PHASES, each)
        return dict(zip(phases.GRID_PHASES, self.currents, strict=True))

    def current_a(self) -> float:
        """DC: the DC current. AC: the current on the busiest phase."""
        if self.dc:
            return self.power_w / self.voltage
        return max(self.currents)

    def _current(self, phase: Phase | None) -> float:
        if self.dc or phase is None:
            return self.current_a()
        line = _line(phase)
        if line is None:
            return phases.neutral_current(self.phase_currents())
        return self.currents[line - 1]

    def _voltage(self, phase: Phase | None) -> float:
        if self.dc or phase is None:
            return self.voltage
        line = _line(phase)
        if line is None:
            return 0.0  # the neutral, against itself
        if phase.value.count("L") == 2:  # line to line: √3 times phase to neutral
            other = int(phase.value[-1])
            return (self.voltages[line - 1] + self.voltages[other - 1]) / 2 * math.sqrt(3)
        return self.voltages[line - 1]

    def _power(self, phase: Phase | None) -> float:
        if self.dc or phase is None:
            return self.power_w
        line = _line(phase)
        return self.power_w / len(self.lines) if line in self.lines else 0.0

    def value(self, item: MeterItem, ev: Ev | None) -> str | None:
        """The reading for one item, or None when there is nothing to measure (no car: no SoC)."""
        measurand = item.measurand
        if measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
            return str(self.register)
        if measurand is Measurand.POWER_ACTIVE_IMPORT:
            return _num(self._power(item.phase))
        if measurand is Measurand.POWER_OFFERED:
            return _num(self.max_power_w)
        if measurand is Measurand.CURRENT_IMPORT:
            return _num(self._current(item.phase))
        if measurand is Measurand.CURRENT_OFFERED:
            if self.dc:
                return _num(self.max_power_w / self.voltage)
            return _num(self.max_power_w / (3.0 * 230.0))
        if measurand is Measurand.VOLTAGE:
            return _num(self._voltage(item.phase))
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
        if items is not self._expanded_from:
            self._expanded_from, self._expanded = items, expand(items, dc=self.dc)
        for item in self._expanded:
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
