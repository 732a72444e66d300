"""Connector uptime the way 23 CFR 680.116(b) (NEVI) and the CEC count it: interval arithmetic.

No I/O: ``analytics.service`` loads a connector's status history, its station's offline times
and the operator's exclusions, and hands them here. docs/analytics.md gives the definitions.

    uptime % = (period - (outage - excluded outage)) / period * 100

(the NEVI rule writes it for a year: ((525,600 - (T_outage - T_excluded)) / 525,600) * 100).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Interval = tuple[datetime, datetime]

# A connector is down while its status (or its station's, connector 0) is one of these.
DOWN_STATUSES = frozenset({"Faulted", "Unavailable"})

REASONS = (
    "utility",
    "vehicle_fault",
    "vandalism",
    "natural_disaster",
    "maintenance",
    "closed_hours",
)
# 23 CFR 680.116(b)(3), T_excluded: electric utility service interruptions, failure to charge
# due to the fault of the vehicle, scheduled maintenance, vandalism, natural disasters, and the
# hours outside the charging station's identified hours of operation.
NEVI_EXCLUDED = frozenset(REASONS)
# The CEC's reliability standards exclude four causes only: grid power loss, natural disasters,
# vandalism (at most 10 days per incident) and planned maintenance (at most 72 hours a year).
# Vehicle faults and closed hours count as outage there.
CEC_UNCAPPED = frozenset({"utility", "natural_disaster"})
CEC_VANDALISM_CAP = timedelta(days=10)  # per incident (one exclusion row)
CEC_MAINTENANCE_CAP = timedelta(hours=72)  # per connector and calendar year (UTC)
_ZERO = timedelta(0)


# ---- intervals ----------------------------------------------------------------------------------
def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, non-empty: the union of ``intervals``."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of ``intervals`` inside [start, end)."""
    return merge((max(a, start), min(b, end)) for a, b in intervals)


def total(intervals: Iterable[Interval]) -> timedelta:
    return sum((b - a for a, b in merge(intervals)), _ZERO)


# ---- what makes a connector down ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatusRecord:
    """One StatusNotification: ``timestamp`` is the charger's (may be None), ``received_at`` ours."""

    timestamp: datetime | None
    received_at: datetime
    status: str


def status_down(records: Sequence[StatusRecord], end: datetime) -> list[Interval]:
    """Where a stream of StatusNotifications (in the order received) says Faulted or Unavailable.

    A status holds from its time until the next one (or ``end``). Its time is the charger's
    timestamp (a notification queued while offline happened before it arrived) when that lies
    between the previous notification's time and when we received it; otherwise the charger's
    clock is off, and the time we received it counts.
    """
    down: list[Interval] = []
    times: list[datetime] = []
    for record in records:
        previous = times[-1] if times else None
        at = record.received_at
        stamp = record.timestamp
        if stamp is not None and stamp < at and (previous is None or stamp >= previous):
            at = stamp
        if previous is not None and at < previous:
            at = previous
        times.append(at)
    for index, record in enumerate(records):
        until = times[index + 1] if index + 1 < len(records) else end
        if record.status in DOWN_STATUSES:
            down.append((times[index], until))
    return merge(down)


def connection_offline(
    connections: Iterable[tuple[datetime, datetime | None]],
    since: datetime,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """The gaps between a station's connections (connected_at, disconnected_at or None while
    open) in [start, end), counted from ``since``, when its history begins: offline."""
    online = clip(((a, end if b is None else b) for a, b in connections), start, end)
    offline: list[Interval] = []
    cursor = max(since, start)
    for a, b in online:
        if a > cursor:
            offline.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        offline.append((cursor, end))
    return offline


def silent_offline(gaps: Iterable[Interval], silence: timedelta) -> list[Interval]:
    """A station that sent nothing for longer than ``silence`` counts as offline from ``silence``
    after its last frame until its next one."""
    if silence <= _ZERO:
        return []
    return merge((last + silence, next_) for last, next_ in gaps if next_ - last > silence)


# ---- the two rules ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Exclusion:
    key: int  # one incident (the CEC caps vandalism per incident)
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class RuleFigures:
    excluded: timedelta
    uptime_percent: float | None  # None for an empty period


@dataclass(frozen=True, slots=True)
class Uptime:
    period: timedelta
    outage: timedelta
    nevi: RuleFigures
    cec: RuleFigures


def percent(period: timedelta, outage: timedelta, excluded: timedelta) -> float | None:
    """(period - (outage - excluded)) / period * 100."""
    if period <= _ZERO:
        return None
    return (period - (outage - excluded)) / period * 100


def _year_starts(start: datetime, end: datetime) -> list[datetime]:
    return [
        datetime(year, 1, 1, tzinfo=UTC)
        for year in range(start.year + 1, end.year + 1)
        if datetime(year, 1, 1, tzinfo=UTC) < end
    ]


def uptime(
    period: Interval,
    outages: Iterable[Interval],
    exclusions: Sequence[Exclusion],
    *,
    history_from: datetime | None = None,
) -> Uptime:
    """Outage and excluded outage of one connector over ``period``, under both rules.

    ``outages`` and ``exclusions`` may reach back to ``history_from`` (before the period): the
    CEC's caps are then charged with what was excluded there (this calendar year's maintenance,
    an incident of vandalism that began earlier). Outage covered by several exclusions counts
    once; under the CEC it is charged to an uncapped reason first, then to vandalism, then to
    maintenance.
    """
    start, end = period
    window_start = min(history_from or start, start)
    outage = clip(outages, window_start, end)
    cuts = {window_start, start, end, *_year_starts(window_start, end)}
    for a, b in outage:
        cuts.update((a, b))
    for exclusion in exclusions:
        cuts.update(t for t in (exclusion.start, exclusion.end) if window_start < t < end)
    points = sorted(t for t in cuts if window_start <= t <= end)

    vandalism_left = {e.key: CEC_VANDALISM_CAP for e in exclusions if e.reason == "vandalism"}
    maintenance_left: dict[int, timedelta] = {}
    outage_total = nevi_excluded = cec_excluded = _ZERO
    index = 0
    for a, b in itertools.pairwise(points):
        while index < len(outage) and outage[index][1] <= a:
            index += 1
        if index >= len(outage) or not outage[index][0] <= a < outage[index][1]:
            continue  # up
        length = b - a
        active = [e for e in exclusions if e.start <= a and b <= e.end]
        reasons = {e.reason for e in active}
        counted = a >= start
        nevi = length if reasons & NEVI_EXCLUDED else _ZERO
        cec = length if reasons & CEC_UNCAPPED else _ZERO
        for exclusion in sorted(active, key=lambda e: (e.start, e.key)):
            if cec == length:
                break
            if exclusion.reason == "vandalism":
                take = min(length - cec, vandalism_left[exclusion.key])
                vandalism_left[exclusion.key] -= take
                cec += take
        if cec < length and "maintenance" in reasons:
            left = maintenance_left.setdefault(a.year, CEC_MAINTENANCE_CAP)
            take = min(length - cec, left)
            maintenance_left[a.year] = left - take
            cec += take
        if counted:
            outage_total += length
            nevi_excluded += nevi
            cec_excluded += cec
    length = end - start
    return Uptime(
        period=length,
        outage=outage_total,
        nevi=RuleFigures(nevi_excluded, percent(length, outage_total, nevi_excluded)),
        cec=RuleFigures(cec_excluded, percent(length, outage_total, cec_excluded)),
    )
