"""A session cut into periods inside which no tariff restriction can change (OCPI 2.2.1).

Times are exact `Fraction` seconds since the session start and energy exact `Fraction` Wh,
so a boundary that falls between two microseconds (where the interpolated energy crosses a
kWh tier) is still exact, and no rounding happens before the cost lines.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

from kilowatt.billing.readings import ChargeRecord, Reading, seconds_between
from kilowatt.billing.tariffs import (
    WEEKDAYS,
    ComponentType,
    ReservationRestriction,
    Restrictions,
    TariffSpec,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Real timezones change their UTC offset at most a few times a year, never twice in 6 hours.
_OFFSET_SCAN_STEP = 6 * 3600


@dataclass(frozen=True, slots=True)
class Moment:
    """What a restriction is evaluated against: the state at the start of a period."""

    local: datetime  # wall clock in the tariff's timezone
    seconds: Fraction  # since the session start
    energy_wh: Fraction  # delivered since the session start
    power_kw: Fraction | None  # average power of the period; None: unknown, power rules hold


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of the session that one set of tariff elements prices."""

    start: Fraction  # seconds since the session start
    end: Fraction
    energy_wh: Fraction
    charging: bool  # before charging finished
    parking: bool  # billable parking: charging finished and the grace time is over
    moment: Moment

    @property
    def seconds(self) -> Fraction:
        return self.end - self.start


def holds(restrictions: Restrictions | None, at: Moment) -> bool:
    """Whether every restriction given holds at `at` (no restrictions: always)."""
    r = restrictions
    if r is None:
        return True
    return (
        _time_of_day_holds(r, at.local.time())
        and _date_holds(r, at.local.date())
        and _within(at.energy_wh, _wh(r.min_kwh), _wh(r.max_kwh))
        and _within(at.seconds, r.min_duration, r.max_duration)
        and (at.power_kw is None or _within(at.power_kw, r.min_power, r.max_power))
    )


# Which elements price what: charging (elements without a reservation restriction), a used
# reservation, and an expired one (its own elements first, then the reservation's, OCPI 2.2.1).
CHARGING: tuple[ReservationRestriction | None, ...] = (None,)
USED_RESERVATION = (ReservationRestriction.RESERVATION,)
EXPIRED_RESERVATION = (
    ReservationRestriction.RESERVATION_EXPIRES,
    ReservationRestriction.RESERVATION,
)


def first_applicable(
    spec: TariffSpec,
    type: ComponentType,
    at: Moment,
    kinds: tuple[ReservationRestriction | None, ...] = CHARGING,
) -> int | None:
    """Index of the first element pricing `type` whose restrictions hold at `at`, among the
    elements of `kinds` (by kind in that order, then in tariff order)."""
    for kind in kinds:
        for i, element in enumerate(spec.elements):
            if (
                element.reservation is kind
                and element.component(type) is not None
                and holds(element.restrictions, at)
            ):
                return i
    return None


def session_start(spec: TariffSpec, record: ChargeRecord) -> Moment:
    """The moment a session starts: nothing delivered yet, power unknown (FLAT's moment)."""
    return Moment(
        _local(record.start, Fraction(0), ZoneInfo(spec.timezone)), Fraction(0), Fraction(0), None
    )


def split(spec: TariffSpec, record: ChargeRecord) -> list[Period]:
    """The session [start, end] cut at every instant where a restriction could change.

    The record must be priceable (see `readings.unpriceable`). Readings outside the session
    are taken as at its nearest end, so every Wh delivered lands in some period.
    """
    total = max(seconds_between(record.start, record.end), Fraction(0))
    meter = _Meter(record.start, record.readings, total)
    zone = ZoneInfo(spec.timezone)
    if total == 0:
        # A session of no duration: what the register says was delivered still has to be billed.
        at = Moment(_local(record.start, total, zone), total, Fraction(0), None)
        return [Period(total, total, meter.total, True, False, at)]
    charging_until, parking_from = _stay(spec, record, total)
    cuts = {Fraction(0), total, charging_until, *meter.times}
    if parking_from is not None:
        cuts.add(parking_from)
    cuts.update(_restriction_cuts(spec, record, meter, zone))
    periods = []
    for a, b in pairwise(sorted(c for c in cuts if 0 <= c <= total)):
        energy = meter.delivered(b) - meter.delivered(a)
        power_kw = energy * Fraction(36, 10) / (b - a)  # Wh per s, times 3600 s/h, over 1000 W/kW
        moment = Moment(_local(record.start, a, zone), a, meter.delivered(a), power_kw)
        parking = parking_from is not None and a >= parking_from
        periods.append(Period(a, b, energy, a < charging_until, parking, moment))
    return periods


def _stay(
    spec: TariffSpec, record: ChargeRecord, total: Fraction
) -> tuple[Fraction, Fraction | None]:
    """Seconds until charging finished, and from when parking is billed (None: never)."""
    if record.charging_ended_at is None:
        return total, None
    charging_until = min(
        max(seconds_between(record.start, record.charging_ended_at), Fraction(0)), total
    )
    return charging_until, charging_until + 60 * spec.idle_grace_minutes


def _restriction_cuts(
    spec: TariffSpec, record: ChargeRecord, meter: _Meter, zone: tzinfo
) -> Iterator[Fraction]:
    restrictions = [e.restrictions for e in spec.elements if e.restrictions is not None]
    for r in restrictions:
        yield from (Fraction(s) for s in (r.min_duration, r.max_duration) if s is not None)
        for wh in (_wh(r.min_kwh), _wh(r.max_kwh)):
            reached = None if wh is None else meter.first_reaching(wh)
            if reached is not None:
                yield reached
    for instant in _wall_clock_cuts(restrictions, record.start, record.end, zone):
        yield seconds_between(record.start, instant)


def _wall_clock_cuts(
    restrictions: Sequence[Restrictions], start: datetime, end: datetime, zone: tzinfo
) -> Iterator[datetime]:
    """Instants where the local time of day or date passes a value some restriction names.

    Each wall time is taken with both folds (it happens twice when clocks go back), and every
    UTC offset change is a cut too, because the wall clock jumps over times there.
    """
    wall_times = {t for r in restrictions for t in (r.start_time, r.end_time) if t is not None}
    if not wall_times and not any(
        r.start_date or r.end_date or r.day_of_week for r in restrictions
    ):
        return
    # Midnight changes the date, and the time of day too: a lone start_time ("from 08:00")
    # stops holding when the clock wraps from 23:59 to 00:00.
    wall_times.add(time(0))
    for day in _days(start.astimezone(zone).date(), end.astimezone(zone).date()):
        for wall_time in wall_times:
            for fold in (0, 1):
                yield datetime.combine(day, wall_time, tzinfo=zone).replace(fold=fold)
    yield from _offset_changes(zone, start, end)


def _days(first: date, last: date) -> Iterator[date]:
    # One day either side: a cut on the neighbouring local day can still fall in the session.
    day = first - timedelta(days=1)
    while day <= last + timedelta(days=1):
        yield day
        day += timedelta(days=1)


def _offset_changes(zone: tzinfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """The instants in [start, end] where `zone`'s UTC offset changes (to the second)."""

    def offset(second: int) -> timedelta | None:
        return (_EPOCH + timedelta(seconds=second)).astimezone(zone).utcoffset()

    first = (start.astimezone(UTC) - _EPOCH) // timedelta(seconds=1)
    last = -((_EPOCH - end.astimezone(UTC)) // timedelta(seconds=1))  # ceiling
    low = first
    while low < last:
        high = min(low + _OFFSET_SCAN_STEP, last)
        if offset(low) != offset(high):
            yield _EPOCH + timedelta(seconds=_bisect_change(offset, low, high))
        low = high


def _bisect_change(offset: Callable[[int], timedelta | None], low: int, high: int) -> int:
    """The first second in (low, high] with high's offset, given low's differs."""
    target = offset(high)
    while high - low > 1:
        middle = (low + high) // 2
        if offset(middle) == target:
            high = middle
        else:
            low = middle
    return high


class _Meter:
    """The energy register over time: linear between readings, a step between equal times."""

    def __init__(self, start: datetime, readings: Sequence[Reading], total: Fraction) -> None:
        self.times = [min(max(seconds_between(start, r.at), Fraction(0)), total) for r in readings]
        first = readings[0].energy_wh
        self._delivered = [Fraction(r.energy_wh - first) for r in readings]
        self.total = self._delivered[-1]

    def delivered(self, at: Fraction) -> Fraction:
        """Wh delivered by `at`, a step at `at` included (one at 0 belongs to the first period)."""
        i = bisect_right(self.times, at) - 1
        if at == 0 or i < 0:
            return Fraction(0)
        if i == len(self.times) - 1:
            return self._delivered[-1]
        t0, t1 = self.times[i], self.times[i + 1]
        e0, e1 = self._delivered[i], self._delivered[i + 1]
        return e0 + (e1 - e0) * (at - t0) / (t1 - t0)

    def first_reaching(self, wh: Fraction) -> Fraction | None:
        """The first instant by which `wh` were delivered; None if never (0 Wh: no cut needed)."""
        if wh <= 0:
            return None
        for (t0, e0), (t1, e1) in pairwise(zip(self.times, self._delivered, strict=True)):
            if e0 < wh <= e1:
                return t0 if t1 == t0 else t0 + (wh - e0) * (t1 - t0) / (e1 - e0)
        return None


def _local(start: datetime, seconds: Fraction, zone: tzinfo) -> datetime:
    # Whole microseconds at or before the cut: every local-time cut is on that grid, so the
    # wall clock read here is the one of the period that starts at `seconds`.
    micro = math.floor(seconds * 10**6)
    return (start.astimezone(UTC) + timedelta(microseconds=micro)).astimezone(zone)


def _time_of_day_holds(r: Restrictions, now: time) -> bool:
    start, end = r.start_time, r.end_time
    if start is not None and end is not None and end < start:  # wraps past midnight
        return now >= start or now < end
    return (start is None or now >= start) and (end is None or now < end)


def _date_holds(r: Restrictions, day: date) -> bool:
    return (
        (r.start_date is None or day >= r.start_date)
        and (r.end_date is None or day < r.end_date)
        and (r.day_of_week is None or WEEKDAYS[day.weekday()] in r.day_of_week)
    )


def _within(
    value: Fraction,
    minimum: Fraction | Decimal | int | None,
    maximum: Fraction | Decimal | int | None,
) -> bool:
    return (minimum is None or value >= Fraction(minimum)) and (
        maximum is None or value < Fraction(maximum)
    )


def _wh(kwh: Decimal | None) -> Fraction | None:
    return None if kwh is None else Fraction(kwh) * 1000
