"""The electric vehicle on a connector, and the power it draws: ramp, plateau, taper, full.

Pure arithmetic, no I/O and no clock: the caller advances the model by wall-clock seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Ev", "charge_power_w"]

#: Simulated seconds from contactor close to full power.
RAMP_SECONDS = 30.0
#: Power at contactor close, as a share of the target.
RAMP_START = 0.25
#: SoC where the taper starts: DC fast charging tapers early, AC on-board chargers late.
TAPER_START_DC = 0.55
TAPER_START_AC = 0.92
#: Power at 100 % SoC, as a share of the plateau.
TAPER_END = 0.08
#: Longest integration step, in simulated seconds (keeps the taper smooth at large time scales).
MAX_STEP = 5.0
#: Share of AC cars with a single-phase on-board charger.
SINGLE_PHASE_SHARE = 0.25


@dataclass(slots=True)
class Ev:
    """One car: battery, state of charge, the most power it accepts, and (on AC) how many
    phases its on-board charger uses (a DC car's phases mean nothing: left at 3)."""

    capacity_wh: float
    soc: float
    target_soc: float = 1.0
    max_power_w: float = 11_000.0
    #: Simulated seconds charged since the contactor closed (for the ramp).
    charging_seconds: float = 0.0
    phases: int = 3

    def __post_init__(self) -> None:
        if self.phases not in (1, 2, 3):
            raise ValueError(f"a car charges on 1, 2 or 3 phases, not {self.phases}")

    @classmethod
    def random(cls, rng: random.Random, *, dc: bool) -> Ev:
        """A plausible car arriving to charge: on AC about a quarter are single-phase (3.7 or
        7.4 kW, i.e. 16 or 32 A on one phase), the rest three-phase (11 or 22 kW)."""
        phases = 3
        if dc:
            max_power = rng.choice((50_000.0, 100_000.0, 150_000.0, 250_000.0))
        elif rng.random() < SINGLE_PHASE_SHARE:
            phases, max_power = 1, rng.choice((3_700.0, 7_400.0))
        else:
            max_power = rng.choice((11_000.0, 11_000.0, 22_000.0))
        return cls(
            capacity_wh=rng.choice((40_000.0, 58_000.0, 64_000.0, 77_000.0, 82_000.0)),
            soc=rng.uniform(0.1, 0.6),
            target_soc=rng.choice((0.8, 0.9, 1.0, 1.0)),
            max_power_w=max_power,
            phases=phases,
        )

    @property
    def full(self) -> bool:
        return self.soc >= self.target_soc

    @property
    def soc_percent(self) -> int:
        return min(100, int(self.soc * 100))


def charge_power_w(ev: Ev, connector_max_w: float, *, dc: bool) -> float:
    """The power the car draws now (W): ramp up, constant plateau, taper towards 100 %, 0 when full."""
    if ev.full:
        return 0.0
    plateau = min(connector_max_w, ev.max_power_w)
    ramp = min(1.0, RAMP_START + (1.0 - RAMP_START) * ev.charging_seconds / RAMP_SECONDS)
    start = TAPER_START_DC if dc else TAPER_START_AC
    taper = 1.0
    if ev.soc > start:
        taper = max(TAPER_END, 1.0 - (1.0 - TAPER_END) * (ev.soc - start) / (1.0 - start))
    return plateau * ramp * taper


def advance(
    ev: Ev, wall_seconds: float, *, time_scale: float, connector_max_w: float, dc: bool
) -> tuple[float, float]:
    """Charge `ev` for `wall_seconds`; returns (metered Wh, power W at the end).

    The meter sees power x wall time; the battery sees power x simulated time
    (wall x time_scale), which is what makes a scaled-up demo fill cars quickly.
    """
    energy_wh = 0.0
    remaining = wall_seconds * time_scale
    while remaining > 0 and not ev.full:
        step = min(remaining, MAX_STEP)
        power = charge_power_w(ev, connector_max_w, dc=dc)
        energy_wh += power * (step / time_scale) / 3600.0
        ev.soc = min(1.0, ev.soc + power * step / 3600.0 / ev.capacity_wh)
        ev.charging_seconds += step
        remaining -= step
    return energy_wh, charge_power_w(ev, connector_max_w, dc=dc)
