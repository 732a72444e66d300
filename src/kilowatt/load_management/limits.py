"""The limit a site is held to at a moment: its own, lowered by the windows in force then.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from kilowatt.smart_charging.allocation import SiteLimit

__all__ = ["PhaseLimits", "Window", "amperes_from_kw", "limit_at"]

_TENTH = Decimal("0.1")


class PhaseLimits(Protocol):
    """Anything with per-phase limits in A: a site's configuration or one of its windows."""

    @property
    def limit_l1_a(self) -> Decimal: ...
    @property
    def limit_l2_a(self) -> Decimal: ...
    @property
    def limit_l3_a(self) -> Decimal: ...


class Window(PhaseLimits, Protocol):
    """A lower limit from ``starts_at`` (inclusive) to ``ends_at`` (exclusive)."""

    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...


def amperes_from_kw(kilowatts: Decimal, voltage: Decimal, *, phases: int) -> Decimal:
    """The current per phase (A, rounded down to 0.1 A) that ``kilowatts`` spread over
    ``phases`` phases of ``voltage`` (phase to neutral) is."""
    if voltage <= 0:
        raise ValueError("voltage must be positive")
    return (kilowatts * 1000 / (voltage * phases)).quantize(_TENTH, rounding=ROUND_FLOOR)


def limit_at(
    own: PhaseLimits, windows: Iterable[Window], now: datetime
) -> tuple[SiteLimit, datetime | None]:
    """The site's limit at ``now`` (per phase, the lowest of its own and of every window in
    force) and when that may change next (a window starting or ending; None: never)."""
    l1, l2, l3 = own.limit_l1_a, own.limit_l2_a, own.limit_l3_a
    changes: list[datetime] = []
    for w in windows:
        if w.starts_at <= now < w.ends_at:
            l1, l2, l3 = min(l1, w.limit_l1_a), min(l2, w.limit_l2_a), min(l3, w.limit_l3_a)
        changes += [t for t in (w.starts_at, w.ends_at) if t > now]
    return SiteLimit(l1, l2, l3), min(changes, default=None)
