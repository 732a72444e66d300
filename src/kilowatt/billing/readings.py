"""What was measured in a session (meter readings) and whether it can be believed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise

from kilowatt.billing.money import round_half_up

# The session end is often the CSMS's own clock (the StopTransaction arrived, or `now`) while
# the last readings carry the charger's clock, which may run a little ahead. The first reading
# is by construction the meter start at `start`, so nothing is tolerated before it.
END_CLOCK_SKEW = timedelta(seconds=60)
# A connector's rated power is nominal; a real meter reads a few percent above it (mains
# voltage above nominal, meter tolerance), so only a clear excess is implausible.
POWER_TOLERANCE = Fraction(11, 10)


@dataclass(frozen=True, slots=True)
class Reading:
    """The cumulative energy register (Wh) at an instant."""

    at: datetime
    energy_wh: int

    def __post_init__(self) -> None:
        _require_aware(self.at, "Reading.at")


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    """A session to price: readings sorted by time, the first at `start` (the meter start).

    `charging_ended_at` is when the car stopped drawing energy; None means it was still
    charging at `end`, so no time counts as parking.
    """

    start: datetime
    end: datetime
    readings: tuple[Reading, ...]
    charging_ended_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "ChargeRecord.start")
        _require_aware(self.end, "ChargeRecord.end")
        if self.charging_ended_at is not None:
            _require_aware(self.charging_ended_at, "ChargeRecord.charging_ended_at")


@dataclass(frozen=True, slots=True)
class ReservedTime:
    """The time a reservation held a connector: from the charger's acceptance until the
    session started (`expired` False) or until the reservation expired unused (True)."""

    start: datetime
    end: datetime
    expired: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.start, "ReservedTime.start")
        _require_aware(self.end, "ReservedTime.end")


class ImplausibleData(ValueError):
    """Readings that cannot be priced; `reasons` says why, in words an operator can act on."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def charging_end(readings: Sequence[Reading], *, final: bool) -> datetime | None:
    """When charging finished: the first reading after which the energy never increased.

    No energy delivered at all gives the first reading's time (the whole stay is parking).
    A live session (`final=False`) whose last reading still increased, or that has only its
    meter start so far, is still charging: None. No readings: None (nothing is known).
    """
    if not readings:
        return None
    if not final and (len(readings) == 1 or readings[-1].energy_wh > readings[-2].energy_wh):
        return None
    i = len(readings) - 1
    while i > 0 and readings[i].energy_wh <= readings[i - 1].energy_wh:
        i -= 1
    return readings[i].at


def implausibilities(record: ChargeRecord, *, max_power_w: int) -> list[str]:
    """Why the record's data cannot be trusted for billing; empty when it can.

    Per-reading power is checked between consecutive readings; with every reading inside the
    session that also bounds the session's average power, so that is not checked separately.
    """
    return [*unpriceable(record), *_suspicious(record, max_power_w)]


def unpriceable(record: ChargeRecord) -> list[str]:
    """The problems that make a price meaningless: no readings, time or energy running backwards."""
    reasons = []
    if not record.readings:
        reasons.append("no meter readings")
    if _utc(record.end) < _utc(record.start):
        reasons.append(
            f"the session ends at {_when(record.end)}, before it starts at {_when(record.start)}"
        )
    for before, after in pairwise(record.readings):
        if _utc(after.at) < _utc(before.at):
            reasons.append(f"readings out of order: {_when(after.at)} after {_when(before.at)}")
        elif after.energy_wh < before.energy_wh:
            reasons.append(
                f"meter went backwards from {before.energy_wh} Wh to {after.energy_wh} Wh"
                f" at {_when(after.at)}"
            )
    return reasons


def _suspicious(record: ChargeRecord, max_power_w: int) -> list[str]:
    reasons = []
    start, latest = _utc(record.start), _utc(record.end) + END_CLOCK_SKEW
    for reading in record.readings:
        if _utc(reading.at) < start:
            reasons.append(
                f"a reading at {_when(reading.at)} is before the session start {_when(start)}"
            )
        elif _utc(reading.at) > latest:
            reasons.append(
                f"a reading at {_when(reading.at)} is more than {END_CLOCK_SKEW.seconds} s"
                f" after the session end {_when(record.end)}"
            )
        if reading.energy_wh < 0:
            reasons.append(f"negative meter register {reading.energy_wh} Wh at {_when(reading.at)}")
    for before, after in pairwise(record.readings):
        reason = _too_fast(before, after, max_power_w)
        if reason:
            reasons.append(reason)
    return reasons


def _too_fast(before: Reading, after: Reading, max_power_w: int) -> str | None:
    energy = after.energy_wh - before.energy_wh
    seconds = seconds_between(before.at, after.at)
    if energy <= 0 or seconds < 0:
        return None  # backwards or out of order: reported as such
    limit = f"the connector's {_kw(Fraction(max_power_w))} kW"
    if seconds == 0:
        return f"{energy} Wh in 0 s at {_when(after.at)}, above {limit}"
    power_w = energy * 3600 / seconds
    if power_w <= max_power_w * POWER_TOLERANCE:
        return None
    return (
        f"{energy} Wh in {_number(seconds)} s is {_kw(power_w)} kW, above {limit}"
        f" (until {_when(after.at)})"
    )


def seconds_between(earlier: datetime, later: datetime) -> Fraction:
    """Exact seconds from `earlier` to `later` (negative if `later` is before)."""
    delta = _utc(later) - _utc(earlier)
    return Fraction(delta // timedelta(microseconds=1), 10**6)


def _utc(at: datetime) -> datetime:
    # Differences between datetimes sharing one local tzinfo ignore DST; UTC makes them exact.
    return at.astimezone(UTC)


def _when(at: datetime) -> str:
    return _utc(at).isoformat().replace("+00:00", "Z")


def _kw(watts: Fraction) -> str:
    return _number(watts / 1000)


def _number(value: Fraction) -> str:
    text = format(round_half_up(value, 2), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {at!r}")
