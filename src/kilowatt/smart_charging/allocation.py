"""Site load management: dividing a site's grid-connection limit among its sessions.

Pure: no I/O, no clock. The caller passes the limit in force now (a time-varying limit is the
caller's business: it calls again when the limit changes) and the site's sessions.

Rules (see ``docs/smart-charging.md``, "Site load management: the allocator"):

* **Fixed draws first.** A session Kilowatt cannot control (its station is offline, or it
  rejected its profile) is counted at its last known draw per phase and subtracted from the
  limit. If the fixed draws alone exceed a phase's limit, that phase has no room left.
* **Admission.** Sessions are ranked by priority (higher first), then start time (earlier
  first), then id. In that order each session is admitted if its minimum current still fits on
  every phase it uses, after the minimums of the sessions admitted before it; otherwise it is
  paused (0 A). So when the minimums do not all fit, the lowest-priority, most recently started
  sessions are paused first; when they all fit nobody is paused.
* **Water-filling.** Admitted sessions share the rest by weighted max-min fairness: a common
  level ``t`` rises, each session draws ``clamp(priority x t, min, max)``, and when a phase
  is full every session on it stops growing. Equal priorities give equal shares.
* **Rounding.** Computed exactly (``Fraction``), then rounded down to 0.1 A, so rounding never
  exceeds a limit. The 0.1 A steps this frees are handed back to sessions below their maximum
  whose phases all have 0.1 A free: first one step to each session rounding cost something,
  smallest share (current / priority) first, ties in rank order; then one step per session per
  pass, in rank order, until no session can take one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "DEFAULT_VOLTAGE",
    "PHASES",
    "Allocation",
    "FixedDraw",
    "Session",
    "SiteLimit",
    "allocate",
]

#: The phases of a site, L1 to L3.
PHASES: tuple[int, ...] = (1, 2, 3)
#: Nominal phase-to-neutral voltage used to turn a kW limit into amperes.
DEFAULT_VOLTAGE = Decimal(230)
_TENTH = Fraction(1, 10)


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)


def _deci(value: Fraction) -> int:
    """``value`` in deci-amperes, rounded down."""
    return math.floor(value * 10)


def _is_tenth(value: Decimal) -> bool:
    return Fraction(value) * 10 == _deci(Fraction(value))


@dataclass(frozen=True, slots=True)
class SiteLimit:
    """The grid-connection limit per phase (A): L1, L2, L3."""

    l1: Decimal
    l2: Decimal
    l3: Decimal

    def __post_init__(self) -> None:
        if min(self.l1, self.l2, self.l3) < 0:
            raise ValueError("a phase limit must not be negative")

    @classmethod
    def uniform(cls, amperes: Decimal) -> SiteLimit:
        """The same limit on each phase."""
        return cls(amperes, amperes, amperes)

    @classmethod
    def from_kw(cls, kilowatts: Decimal, voltage: Decimal = DEFAULT_VOLTAGE) -> SiteLimit:
        """A three-phase limit in kW: ``A = W / (3 x voltage)`` per phase, rounded down to 0.1 A.

        ``voltage`` is the phase-to-neutral voltage (230 V unless given).
        """
        if voltage <= 0:
            raise ValueError("voltage must be positive")
        per_phase = Fraction(kilowatts) * 1000 / (3 * Fraction(voltage))
        return cls.uniform(Decimal(_deci(per_phase)) / 10)

    def on(self, phase: int) -> Decimal:
        return (self.l1, self.l2, self.l3)[phase - 1]


@dataclass(frozen=True, slots=True)
class Session:
    """A session Kilowatt controls.

    ``phases``: the phases it draws on (``(1, 2, 3)`` for a three-phase vehicle, one phase for a
    single-phase vehicle: which one is an input, since stations may rotate phases). Currents are
    per phase, in A, with at most one fraction digit. ``priority`` (≥ 1, from the token group)
    ranks sessions for admission and weights their share.
    """

    id: str
    phases: tuple[int, ...]
    min_current: Decimal
    max_current: Decimal
    started_at: datetime
    priority: int = 1

    def __post_init__(self) -> None:
        if not self.phases or len(set(self.phases)) != len(self.phases):
            raise ValueError(f"{self.id}: phases must be distinct and not empty")
        if any(p not in PHASES for p in self.phases):
            raise ValueError(f"{self.id}: phases are 1, 2 or 3")
        if not 0 <= self.min_current <= self.max_current:
            raise ValueError(f"{self.id}: need 0 <= min_current <= max_current")
        if not (_is_tenth(self.min_current) and _is_tenth(self.max_current)):
            raise ValueError(f"{self.id}: currents have at most one fraction digit")
        if self.priority < 1:
            raise ValueError(f"{self.id}: priority must be at least 1")


@dataclass(frozen=True, slots=True)
class FixedDraw:
    """A session whose draw Kilowatt cannot control: its last known draw per phase (A)."""

    id: str
    draw: Mapping[int, Decimal]

    def __post_init__(self) -> None:
        if any(p not in PHASES or a < 0 for p, a in self.draw.items()):
            raise ValueError(f"{self.id}: a draw is >= 0 A on phase 1, 2 or 3")

    def on(self, phase: int) -> Decimal:
        return self.draw.get(phase, Decimal(0))


@dataclass(frozen=True, slots=True)
class Allocation:
    """The current (A) per controllable session, ``paused`` those at 0 A for want of room, and
    ``load`` the resulting draw per phase (fixed draws included)."""

    currents: Mapping[str, Decimal]
    paused: frozenset[str]
    load: Mapping[int, Decimal] = field(default_factory=dict)


def _rank_key(session: Session) -> tuple[int, datetime, str]:
    return (-session.priority, session.started_at, session.id)


def _clamp(session: Session, level: Fraction) -> Fraction:
    low, high = _fraction(session.min_current), _fraction(session.max_current)
    return min(max(session.priority * level, low), high)


def _water_fill(sessions: list[Session], room: dict[int, Fraction]) -> dict[str, Fraction]:
    """Weighted max-min fair currents; the minimums must fit in ``room``."""
    frozen: dict[str, Fraction] = {}
    level = Fraction(0)
    while True:
        growing = [s for s in sessions if s.id not in frozen]
        if not growing:
            return frozen

        def load(phase: int, at: Fraction, growing: list[Session] = growing) -> Fraction:
            return sum(
                (frozen[s.id] for s in sessions if s.id in frozen and phase in s.phases),
                Fraction(0),
            ) + sum((_clamp(s, at) for s in growing if phase in s.phases), Fraction(0))

        stops = sorted(
            {
                b
                for s in growing
                for b in (
                    _fraction(s.min_current) / s.priority,
                    _fraction(s.max_current) / s.priority,
                )
                if b > level
            }
        )
        hit: tuple[Fraction, list[int]] | None = None
        for stop in stops:
            over = [p for p in PHASES if load(p, stop) > room[p]]
            if not over:
                level = stop
                continue
            # Between ``level`` and ``stop`` each phase's load is linear in the level.
            crossings: dict[int, Fraction] = {}
            for p in over:
                start, end = load(p, level), load(p, stop)
                crossings[p] = level + (room[p] - start) * (stop - level) / (end - start)
            first = min(crossings.values())
            hit = (first, [p for p, at in crossings.items() if at == first])
            break
        if hit is None:  # everyone reaches their maximum
            for s in growing:
                frozen[s.id] = _fraction(s.max_current)
            return frozen
        level, full = hit
        for s in growing:
            if any(p in full for p in s.phases):
                frozen[s.id] = _clamp(s, level)


def allocate(
    limit: SiteLimit, sessions: Iterable[Session], fixed: Iterable[FixedDraw] = ()
) -> Allocation:
    """Divide ``limit`` among ``sessions`` after the ``fixed`` draws (see the module docs)."""
    ranked = sorted(sessions, key=_rank_key)
    ids = [s.id for s in ranked]
    if len(set(ids)) != len(ids):
        raise ValueError("session ids must be unique")
    fixed = list(fixed)
    fixed_load = {p: sum((_fraction(f.on(p)) for f in fixed), Fraction(0)) for p in PHASES}
    room = {p: max(_fraction(limit.on(p)) - fixed_load[p], Fraction(0)) for p in PHASES}

    free = dict(room)
    admitted: list[Session] = []
    paused: set[str] = set()
    for s in ranked:
        need = _fraction(s.min_current)
        if all(free[p] >= need for p in s.phases):
            admitted.append(s)
            for p in s.phases:
                free[p] -= need
        else:
            paused.add(s.id)

    exact = _water_fill(admitted, room)
    deci = {s.id: _deci(exact[s.id]) for s in admitted}
    spare = {
        p: room[p] - sum((Fraction(deci[s.id], 10) for s in admitted if p in s.phases), Fraction(0))
        for p in PHASES
    }

    def step(session: Session) -> bool:
        """Give ``session`` 0.1 A more if it is below its maximum and its phases have room."""
        if Fraction(deci[session.id] + 1, 10) > _fraction(session.max_current):
            return False
        if any(spare[p] < _TENTH for p in session.phases):
            return False
        deci[session.id] += 1
        for p in session.phases:
            spare[p] -= _TENTH
        return True

    # First one step to each session rounding cost something, smallest share (current divided
    # by priority) first, ties in rank order; then to anyone, in rank order.
    losers = [s for s in admitted if exact[s.id] * 10 > deci[s.id]]
    for s in sorted(losers, key=lambda s: Fraction(deci[s.id], s.priority)):
        step(s)
    changed = True
    while changed:
        changed = False
        for s in admitted:
            changed = step(s) or changed

    currents = {s.id: Decimal(deci.get(s.id, 0)) / 10 for s in sorted(ranked, key=lambda s: s.id)}
    load = {
        p: sum((f.on(p) for f in fixed), Decimal(0))
        + sum((currents[s.id] for s in ranked if p in s.phases), Decimal(0))
        for p in PHASES
    }
    return Allocation(currents=currents, paused=frozenset(paused), load=load)
