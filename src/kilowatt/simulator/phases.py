"""Which grid phases a car on a connector loads: ConnectorPhaseRotation (OCPP 1.6 §9.1.7).

A rotation names, for the connector's phases 1, 2, 3 in turn, the grid phase it is wired to:
R = L1, S = L2, T = L3. "STR" wires the connector's first phase to L2, so a single-phase car
on it loads L2 only. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "GRID_PHASES",
    "ROTATIONS",
    "grid_lines",
    "neutral_current",
    "parse_rotations",
    "rotation_key",
]

GRID_PHASES = (1, 2, 3)
#: The values a connector may have in ConnectorPhaseRotation.
ROTATIONS = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})
#: The wiring assumed when the key does not say (Unknown, NotApplicable, no entry): the
#: standard reference phasing, which is also every connector's default.
DEFAULT_ROTATION = "RST"
_LINE = {"R": 1, "S": 2, "T": 3}


def check_rotation(value: str) -> str:
    """One connector's rotation; ValueError if it is not one of ROTATIONS."""
    if value not in ROTATIONS:
        raise ValueError(f"phase rotation must be one of {sorted(ROTATIONS)}, not {value!r}")
    return value


def parse_rotations(value: str) -> dict[int, str]:
    """ConnectorPhaseRotation ("0.RST, 1.RST, 2.STR") -> {connector id: rotation};
    ValueError for a malformed item."""
    rotations: dict[int, str] = {}
    for item in value.split(","):
        connector, _, rotation = item.strip().partition(".")
        if not connector.isdigit():
            raise ValueError(f"bad phase rotation {item.strip()!r}")
        rotations[int(connector)] = check_rotation(rotation)
    return rotations


def rotation_key(connectors: int, rotations: tuple[str, ...], *, dc: bool) -> str:
    """The initial ConnectorPhaseRotation: connector 0 (grid to main meter) and each connector;
    ``rotations`` gives connectors 1, 2, … in turn, the rest are RST (NotApplicable for DC)."""
    if dc:
        return ",".join(f"{i}.NotApplicable" for i in range(connectors + 1))
    items = [f"0.{DEFAULT_ROTATION}"]
    for i in range(1, connectors + 1):
        items.append(f"{i}.{rotations[i - 1] if i <= len(rotations) else DEFAULT_ROTATION}")
    return ",".join(items)


def grid_lines(rotation: str, phases: int) -> tuple[int, ...]:
    """The grid phases (1..3) that a car charging on ``phases`` phases loads."""
    wiring = rotation if rotation in ROTATIONS and len(rotation) == 3 else DEFAULT_ROTATION
    return tuple(_LINE[letter] for letter in wiring[:phases])


def neutral_current(currents: Mapping[int, float]) -> float:
    """The neutral conductor's current for these phase currents (120° apart, in phase with
    their voltages): 0 for a balanced three-phase load, the phase current for a single one."""
    a, b, c = (currents.get(p, 0.0) for p in GRID_PHASES)
    return math.sqrt(max(0.0, a * a + b * b + c * c - a * b - b * c - c * a))
