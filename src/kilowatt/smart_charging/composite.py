"""The composite schedule of OCPP 1.6 §3.13: the limit a connector is held to, over time.

Pure: no I/O, no clock (the caller passes ``start``). Used by Kilowatt to compute what it
expects a station to report, and by the simulator to answer GetCompositeSchedule and to limit
its simulated draw.

Rules (OCPP 1.6 §3.13.1-§3.13.3, errata 3.43):

* within one purpose the valid profile with the highest ``stackLevel`` prevails; when its
  schedule has ended (``duration``) or it is not valid (``validFrom``/``validTo``) the next
  lower one applies, and without any the purpose sets no limit;
* a TxDefaultProfile on the connector replaces one on connector 0 at the same stack level
  (connector 0's apply to every connector);
* a TxProfile (of the running transaction) overrules the TxDefaultProfiles;
* the result is the minimum of that and the ChargePointMaxProfile, in the requested unit.

Times are resolved to whole seconds (rounded up; a transaction's start down, so that a
Relative schedule holds from its very beginning). Amperes and watts convert with
``W = A x voltage x phases``: ``voltage`` is the nominal line voltage (230 V unless given, as
OCPP 1.6 §7.12 says), ``phases`` the period's ``numberPhases`` (3 when absent, §7.14). Limits
are rounded *down* to one decimal, so a converted limit never exceeds the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from kilowatt.ocpp.v16.enums import ChargingRateUnitType
from kilowatt.ocpp.v16.messages import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod

from .profiles import (
    AMPS,
    CHARGE_POINT_MAX,
    RECURRING,
    RELATIVE,
    TX,
    TX_DEFAULT,
    recurrence_seconds,
)

__all__ = [
    "DEFAULT_PHASES",
    "DEFAULT_VOLTAGE",
    "Composite",
    "CompositePeriod",
    "Installed",
    "Limit",
    "composite_schedule",
    "convert",
]

DEFAULT_VOLTAGE = Decimal(230)
DEFAULT_PHASES = 3
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Installed:
    """A profile as installed on a connector (0: the station as a whole)."""

    connector_id: int
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class Limit:
    """One period's limit in its own unit, with the phases it was given for."""

    value: Decimal
    unit: ChargingRateUnitType
    number_phases: int | None


def convert(
    limit: Limit, unit: ChargingRateUnitType, voltage: Decimal = DEFAULT_VOLTAGE
) -> Decimal:
    """``limit`` in ``unit`` (rounded down to one decimal)."""
    if limit.unit is unit:
        return limit.value
    phases = Decimal(limit.number_phases or DEFAULT_PHASES)
    # W -> A per phase, or A per phase -> W in total
    value = limit.value / (voltage * phases) if unit is AMPS else limit.value * voltage * phases
    return value.quantize(_TENTH, rounding=ROUND_FLOOR)


@dataclass(frozen=True, slots=True)
class CompositePeriod:
    """From ``start`` seconds after the schedule's start: at most ``limit`` (None: no limit)."""

    start: int
    limit: Decimal | None
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class Composite:
    """A connector's limits over [start, start + duration): periods ascending from 0."""

    start: datetime
    duration: int
    unit: ChargingRateUnitType
    periods: tuple[CompositePeriod, ...]

    def at(self, offset: float) -> CompositePeriod:
        """The period in force ``offset`` seconds after ``start``."""
        found = self.periods[0]
        for period in self.periods:
            if period.start > offset:
                break
            found = period
        return found

    def limited(self) -> bool:
        return any(p.limit is not None for p in self.periods)

    def as_schedule(self, unconstrained: Decimal | None = None) -> ChargingSchedule | None:
        """The OCPP ChargingSchedule (GetCompositeSchedule.conf); periods without a limit get
        ``unconstrained`` (the connector's own maximum). None when nothing can be said."""
        periods: list[ChargingSchedulePeriod] = []
        for p in self.periods:
            limit = p.limit if p.limit is not None else unconstrained
            if limit is None:
                return None
            if periods and periods[-1].limit == limit:
                continue
            periods.append(
                ChargingSchedulePeriod(
                    start_period=p.start, limit=limit, number_phases=p.number_phases
                )
            )
        return ChargingSchedule(
            duration=self.duration,
            start_schedule=self.start,
            charging_rate_unit=self.unit,
            charging_schedule_period=periods,
        )


def _seconds(moment: datetime, *, up: bool = True) -> int:
    """Whole POSIX seconds, rounded up (or down)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400 + delta.seconds + (1 if delta.microseconds and up else 0)


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A profile with its times in whole seconds, ready to be evaluated at any second."""

    purpose: str
    rank: tuple[int, int, int]  # stack level, connector-specific, id: the highest prevails
    profile: ChargingProfile
    valid_from: int | None
    valid_to: int | None
    origin: int | None  # the schedule's start (the first recurrence's, for Recurring)
    period: int | None  # recurrence length

    def limit_at(self, t: int) -> Limit | None:
        if self.origin is None:
            return None
        if self.valid_from is not None and t < self.valid_from:
            return None
        if self.valid_to is not None and t >= self.valid_to:
            return None
        offset = t - self.origin
        if offset < 0:
            return None
        schedule = self.profile.charging_schedule
        end = schedule.duration
        if self.period is not None:
            offset %= self.period
            # errata 3.43: what a period or duration holds beyond the recurrence is not run
            end = self.period if end is None else min(end, self.period)
        if end is not None and offset >= end:
            return None
        chosen: ChargingSchedulePeriod | None = None
        for p in schedule.charging_schedule_period:
            if p.start_period <= offset:
                chosen = p
            else:
                break
        if chosen is None:
            return None
        return Limit(chosen.limit, schedule.charging_rate_unit, chosen.number_phases)

    def breakpoints(self, lo: int, hi: int) -> Iterable[int]:
        """Every second in [lo, hi) at which this profile's limit may change."""
        for moment in (self.valid_from, self.valid_to):
            if moment is not None:
                yield moment
        if self.origin is None:
            return
        schedule = self.profile.charging_schedule
        starts = [p.start_period for p in schedule.charging_schedule_period]
        if schedule.duration is not None:
            starts.append(schedule.duration)
        if self.period is None:
            yield self.origin
            yield from (self.origin + s for s in starts)
            return
        starts = [s for s in starts if s < self.period]
        first = max(0, (lo - self.origin) // self.period)
        base = self.origin + first * self.period
        while base < hi:
            yield base
            yield from (base + s for s in starts)
            base += self.period


def _resolve(
    item: Installed, connector_id: int, window_start: int, tx_start: int | None
) -> _Resolved:
    profile = item.profile
    schedule = profile.charging_schedule
    kind = profile.charging_profile_kind
    period: int | None = None
    origin: int | None
    if kind is RELATIVE:
        # Relative to the transaction's start; with no transaction, to the window's start.
        origin = tx_start if tx_start is not None else window_start
    elif schedule.start_schedule is not None:
        origin = _seconds(schedule.start_schedule)
        if kind is RECURRING and profile.recurrency_kind is not None:
            period = recurrence_seconds(profile.recurrency_kind)
    else:  # an Absolute or Recurring profile without its start: from the transaction's start
        origin = tx_start if tx_start is not None else window_start
    return _Resolved(
        purpose=profile.charging_profile_purpose,
        rank=(
            profile.stack_level,
            1 if item.connector_id == connector_id else 0,
            profile.charging_profile_id,
        ),
        profile=profile,
        valid_from=None if profile.valid_from is None else _seconds(profile.valid_from),
        valid_to=None if profile.valid_to is None else _seconds(profile.valid_to),
        origin=origin,
        period=period,
    )


def _applicable(
    profiles: Iterable[Installed], connector_id: int, transaction_id: int | None, has_tx: bool
) -> list[Installed]:
    chosen: list[Installed] = []
    specific_tx_default = {
        p.profile.stack_level
        for p in profiles
        if p.connector_id == connector_id
        and connector_id != 0
        and p.profile.charging_profile_purpose is TX_DEFAULT
    }
    for item in profiles:
        purpose = item.profile.charging_profile_purpose
        if purpose is CHARGE_POINT_MAX:
            if item.connector_id == 0:
                chosen.append(item)
        elif connector_id == 0:
            continue  # connector 0 reports the station's own limit (ChargePointMax)
        elif purpose is TX_DEFAULT:
            if item.connector_id == connector_id or (
                item.connector_id == 0 and item.profile.stack_level not in specific_tx_default
            ):
                chosen.append(item)
        elif (
            purpose is TX
            and has_tx
            and item.connector_id == connector_id
            and item.profile.transaction_id in (None, transaction_id)
        ):
            chosen.append(item)
    return chosen


def _prevailing(profiles: Sequence[_Resolved], t: int) -> Limit | None:
    for resolved in profiles:  # sorted by rank, highest first
        limit = resolved.limit_at(t)
        if limit is not None:
            return limit
    return None


def composite_schedule(
    profiles: Iterable[Installed],
    *,
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType,
    transaction_id: int | None = None,
    transaction_start: datetime | None = None,
    voltage: Decimal = DEFAULT_VOLTAGE,
) -> Composite:
    """The composite schedule of ``connector_id`` over [start, start + duration).

    ``transaction_start`` says a transaction runs on the connector (its TxProfiles apply and
    Relative profiles count from it); ``transaction_id`` picks the TxProfiles meant for it.
    Connector 0 gives the station's ChargePointMaxProfile limit.
    """
    if duration <= 0:
        raise ValueError("duration must be positive")
    lo = _seconds(start)
    hi = lo + duration
    has_tx = transaction_start is not None
    # rounded down: a Relative schedule holds from the very start of the transaction
    tx_start = _seconds(transaction_start, up=False) if transaction_start is not None else None
    items = _applicable(list(profiles), connector_id, transaction_id, has_tx)
    resolved = sorted(
        (_resolve(i, connector_id, lo, tx_start) for i in items),
        key=lambda r: r.rank,
        reverse=True,
    )
    by_purpose = {
        purpose: [r for r in resolved if r.purpose is purpose]
        for purpose in (CHARGE_POINT_MAX, TX_DEFAULT, TX)
    }
    cuts = {lo}
    for r in resolved:
        cuts.update(b for b in r.breakpoints(lo, hi) if lo < b < hi)
    periods: list[CompositePeriod] = []
    for t in sorted(cuts):
        station = _prevailing(by_purpose[CHARGE_POINT_MAX], t)
        transaction = _prevailing(by_purpose[TX], t) or _prevailing(by_purpose[TX_DEFAULT], t)
        candidates = [lim for lim in (station, transaction) if lim is not None]
        value: Decimal | None = None
        phases: int | None = None
        for candidate in candidates:
            converted = convert(candidate, unit, voltage)
            if value is None or converted < value:
                value, phases = converted, candidate.number_phases
        period = CompositePeriod(t - lo, value, phases)
        if periods and (periods[-1].limit, periods[-1].number_phases) == (value, phases):
            continue
        periods.append(period)
    return Composite(
        start=datetime.fromtimestamp(lo, UTC), duration=duration, unit=unit, periods=tuple(periods)
    )
