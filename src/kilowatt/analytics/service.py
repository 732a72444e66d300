"""The analytics: the seed's success metrics, connector uptime, and a station's health.

Takes a DB session and never commits. docs/analytics.md defines every figure; the definitions
live here (``POSITIVE_OUTCOMES``, ``DECIDED_STATES``) and in ``analytics.uptime``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.analytics import repository, uptime
from kilowatt.analytics.repository import Scope
from kilowatt.analytics.schemas import (
    ActionFigures,
    CallErrorOut,
    CommandFigures,
    ConnectorHealth,
    ConnectorUptime,
    DailyCounts,
    DayCount,
    ErrorBreakdown,
    ErrorCodeSeen,
    ErrorFigures,
    FailingCommand,
    Metric,
    OpenSession,
    RuleOut,
    ScopeOut,
    SessionFigures,
    StationHealth,
    Summary,
    TimeseriesPoint,
    UnlockFigures,
)
from kilowatt.commands.service import FINAL_STATES
from kilowatt.messagelog import repository as message_log
from kilowatt.stations import repository as stations
from kilowatt.stations.models import Station

# A command succeeded when it completed with one of these words: the station did (or will do,
# Scheduled / RebootRequired) what was asked. Calls whose answer has no status (GetConfiguration,
# GetLocalListVersion, …) are recorded as Accepted.
POSITIVE_OUTCOMES = frozenset(
    {"Accepted", "AcceptedCanceled", "RebootRequired", "Scheduled", "Unlocked"}
)
# Sessions whose start has an outcome: the completion rate's denominator. Cancelled sessions (the
# driver ended them before the charger started) and open ones (pending, active) are not in it.
DECIDED_STATES = ("completed", "failed", "expired")
UNLOCK = "UnlockConnector"
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open period [start, end) of aware UTC datetimes."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)


def _percent(part: float, whole: float, digits: int = 2) -> float | None:
    return round(part / whole * 100, digits) if whole else None


def _minutes(duration: timedelta) -> float:
    return round(duration.total_seconds() / 60, 3)


# ---- the summary --------------------------------------------------------------------------------
async def summary(db: AsyncSession, scope: Scope, period: Period, scope_out: ScopeOut) -> Summary:
    start, end = period.start, period.end
    commands = await repository.command_counts(db, scope, start, end)
    sessions = await repository.session_counts(db, scope, start, end)
    completed = await repository.completed_figures(db, scope, start, end)
    authorizations = [
        *await repository.authorize_answers(db, scope, start, end),
        *await repository.start_authorizations(db, scope, start, end),
    ]
    not_authorized = await repository.sessions_not_authorized(db, scope, start, end)
    faulted = await repository.status_counts(db, scope, start, end, "Faulted")

    command_figures, kinds, charger_outcomes = _commands(commands)
    states: Counter[str] = Counter()
    start_status: Counter[str] = Counter()
    for state, status, count in sessions:
        states[state] += count
        if status is not None:
            start_status[status] += count
    requested = sum(states.values())
    decided = sum(states[s] for s in DECIDED_STATES)
    unlocks = sum(count for action, _, _, count in commands if action == UNLOCK)
    refused: Counter[str] = Counter()
    for status, n in authorizations:
        if status != "Accepted":
            refused[status] += n
    attempts = command_figures.total
    auth_attempts = sum(n for _, n in authorizations)
    return Summary(
        from_=start,
        to=end,
        days=round(period.days, 4),
        scope=scope_out,
        commands=command_figures,
        sessions=SessionFigures(
            requested=requested,
            completed=states["completed"],
            failed=states["failed"],
            expired=states["expired"],
            cancelled=states["cancelled"],
            open=states["pending"] + states["active"],
            completion_percent=_percent(states["completed"], decided),
            start_status=dict(sorted(start_status.items())),
            failed_not_authorized=not_authorized,
            average_duration_seconds=_round(completed.average_seconds),
            average_energy_wh=_round(completed.average_energy_wh),
            energy_wh=completed.energy_wh,
        ),
        unlocks=UnlockFigures(
            requests=unlocks,
            per_day=round(unlocks / period.days, 4) if period.days else None,
            per_100_sessions=_percent(unlocks, requested),
        ),
        errors=ErrorBreakdown(
            network=_errors(kinds["network"], attempts),
            charger=_errors(kinds["charger"], attempts),
            timeout=_errors(kinds["timeout"], attempts),
            authorization=_errors(sum(refused.values()), auth_attempts),
            charger_outcomes=dict(sorted(charger_outcomes.items())),
            authorization_statuses=dict(sorted(refused.items())),
            faulted_status_notifications=faulted,
        ),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _errors(count: int, attempts: int) -> ErrorFigures:
    return ErrorFigures(count=count, attempts=attempts, percent=_percent(count, attempts))


def command_kind(state: str, outcome: str | None) -> str:
    """``succeeded``, ``network`` (offline), ``timeout``, ``charger`` (a CALLERROR or a negative
    answer), or ``in_flight`` (no outcome yet)."""
    if state not in FINAL_STATES:
        return "in_flight"
    if state == "completed" and outcome in POSITIVE_OUTCOMES:
        return "succeeded"
    if state == "offline":
        return "network"
    if state == "timeout":
        return "timeout"
    return "charger"


def _commands(
    rows: Sequence[tuple[str, str, str | None, int]],
) -> tuple[CommandFigures, Counter[str], Counter[str]]:
    """The command figures, the count of each kind, and the charger errors by outcome."""
    kinds: Counter[str] = Counter()
    charger_outcomes: Counter[str] = Counter()
    per_action: dict[str, Counter[str]] = defaultdict(Counter)
    succeeded: Counter[str] = Counter()
    for action, state, outcome, count in rows:
        kind = command_kind(state, outcome)
        kinds[kind] += count
        if kind == "in_flight":
            continue
        per_action[action][outcome or state] += count
        if kind == "succeeded":
            succeeded[action] += count
        elif kind == "charger":
            charger_outcomes[outcome or state] += count
    by_action = [
        ActionFigures(
            action=action,
            total=sum(outcomes.values()),
            succeeded=succeeded[action],
            success_percent=_percent(succeeded[action], sum(outcomes.values())),
            outcomes=dict(sorted(outcomes.items())),
        )
        for action, outcomes in sorted(per_action.items())
    ]
    total = sum(a.total for a in by_action)
    figures = CommandFigures(
        total=total,
        succeeded=kinds["succeeded"],
        success_percent=_percent(kinds["succeeded"], total),
        in_flight=kinds["in_flight"],
        positive_outcomes=sorted(POSITIVE_OUTCOMES),
        by_action=by_action,
    )
    return figures, kinds, charger_outcomes


# ---- time series --------------------------------------------------------------------------------
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


class TooManyBuckets(ValueError):
    pass


def buckets(period: Period, bucket: str) -> list[datetime]:
    """The UTC-aligned bucket starts covering ``period``."""
    step = BUCKETS[bucket]
    first = period.start.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        first = first.replace(hour=0)
    count = -(-(period.end - first) // step)
    if count > MAX_BUCKETS:
        raise TooManyBuckets(f"{count} {bucket}s: at most {MAX_BUCKETS}; shorten the period")
    return [first + step * i for i in range(count)]


async def timeseries(
    db: AsyncSession, scope: Scope, period: Period, metric: Metric, bucket: str
) -> list[TimeseriesPoint]:
    """``metric`` per bucket (docs/analytics.md), every bucket of the period included."""
    starts = buckets(period, bucket)
    step = BUCKETS[bucket]
    first = starts[0] if starts else period.start
    numerator: Counter[int] = Counter()
    denominator: Counter[int] = Counter()

    def slot(at: datetime) -> int:
        return int((at - first) // step)

    if metric in ("sessions", "completed_sessions", "completion_percent", "energy_wh"):
        for at, state, energy in await repository.session_events(
            db, scope, period.start, period.end
        ):
            i = slot(at)
            if metric == "sessions":
                numerator[i] += 1
            elif metric == "completion_percent":
                numerator[i] += state == "completed"
                denominator[i] += state in DECIDED_STATES
            elif state == "completed":
                numerator[i] += 1 if metric == "completed_sessions" else (energy or 0)
    else:
        for at, action, state, outcome in await repository.command_events(
            db, scope, period.start, period.end
        ):
            i, kind = slot(at), command_kind(state, outcome)
            if metric == "unlocks":
                numerator[i] += action == UNLOCK
            elif metric == "commands":
                numerator[i] += kind != "in_flight"
            else:
                numerator[i] += kind == "succeeded"
                denominator[i] += kind != "in_flight"
    ratio = metric.endswith("_percent")
    return [
        TimeseriesPoint(
            at=at,
            value=_percent(numerator[i], denominator[i]) if ratio else float(numerator[i]),
        )
        for i, at in enumerate(starts)
    ]


# ---- uptime -------------------------------------------------------------------------------------
def _year_start(at: datetime) -> datetime:
    return datetime(at.year, 1, 1, tzinfo=UTC)


async def station_offline(
    db: AsyncSession,
    station: Station,
    start: datetime,
    end: datetime,
    *,
    silence: timedelta,
    now: datetime,
) -> list[uptime.Interval]:
    """When the station was offline in [start, end): exactly between its recorded connections,
    and before the first of them (history older than ``station_connections``) wherever the
    message log shows a silence longer than ``silence``. Never connected: since registration."""
    first, connections = await repository.connections(db, station.id, start, end)
    if first is None:
        return uptime.clip([(station.created_at, now)], start, end)
    offline = uptime.connection_offline(connections, first, start, end)
    bound = min(first, end)
    if silence > timedelta(0) and bound > start:
        cp = station.charge_point_id
        gaps = list(await repository.inbound_gaps(db, cp, start, bound, silence.total_seconds()))
        before, first_frame, last = await repository.inbound_edges(db, cp, start, bound)
        if before is not None:
            gaps.append((before, first_frame or bound))
        if last is not None:
            gaps.append((last, bound))
        offline += uptime.silent_offline(gaps, silence)
    return uptime.clip(offline, start, end)


async def connector_uptime(
    db: AsyncSession,
    scope: Scope,
    period: Period,
    *,
    silence: timedelta,
    now: datetime,
    limit: int,
    offset: int,
) -> tuple[list[ConnectorUptime], int]:
    """Uptime of one page of the scope's connectors (ordered by station and connector)."""
    rows, total = await repository.connectors_page(db, scope, limit=limit, offset=offset)
    if not rows:
        return [], total
    end = period.end
    by_station = {station.id: station for _, station in rows}
    # A connector counts from its station's registration; the history before the period (from
    # January 1st) is read for the CEC's yearly maintenance cap.
    starts = {i: min(max(period.start, s.created_at), end) for i, s in by_station.items()}
    histories = {
        i: min(max(_year_start(p), by_station[i].created_at), p) for i, p in starts.items()
    }
    load_from = min(histories.values())
    streams: dict[tuple[int, int], list[uptime.StatusRecord]] = defaultdict(list)
    for record in await repository.status_history(db, list(by_station), load_from, end):
        streams[(record.station_id, record.connector_id)].append(
            uptime.StatusRecord(record.timestamp, record.received_at, record.status)
        )
    exclusions = await repository.exclusions_overlapping(db, list(by_station), load_from, end)
    offline = {
        i: await station_offline(db, s, histories[i], end, silence=silence, now=now)
        for i, s in by_station.items()
    }
    items = []
    for connector, station in rows:
        start, history = starts[station.id], histories[station.id]
        own = streams.get((station.id, connector.connector_id), [])
        status_out = uptime.merge(
            uptime.status_down(own, end) + uptime.status_down(streams.get((station.id, 0), []), end)
        )
        outages = uptime.merge(status_out + offline[station.id])
        figures = uptime.uptime(
            (start, end),
            outages,
            [
                uptime.Exclusion(e.id, e.starts_at, e.ends_at, e.reason)
                for e in exclusions
                if e.station_id == station.id and e.connector_id in (None, connector.connector_id)
            ],
            history_from=history,
        )
        first = own[0] if own else None
        first_known = end if first is None else min(first.timestamp or end, first.received_at)
        items.append(
            ConnectorUptime(
                charge_point_id=station.charge_point_id,
                connector_id=connector.connector_id,
                site_id=station.site_id,
                from_=start,
                to=end,
                period_minutes=_minutes(figures.period),
                outage_minutes=_minutes(figures.outage),
                status_outage_minutes=_minutes(uptime.total(uptime.clip(status_out, start, end))),
                offline_minutes=_minutes(
                    uptime.total(uptime.clip(offline[station.id], start, end))
                ),
                no_data_minutes=_minutes(uptime.total([(start, min(first_known, end))])),
                nevi=_rule(figures.nevi),
                cec=_rule(figures.cec),
            )
        )
    return items, total


def _rule(figures: uptime.RuleFigures) -> RuleOut:
    return RuleOut(
        excluded_minutes=_minutes(figures.excluded),
        uptime_percent=None if figures.uptime_percent is None else round(figures.uptime_percent, 4),
    )


# ---- a station's health -------------------------------------------------------------------------
async def station_health(
    db: AsyncSession, station: Station, *, connected: bool, now: datetime, days: int
) -> StationHealth:
    """What an operator looks at first when a station misbehaves (docs/analytics.md)."""
    since = now - timedelta(days=days)
    cp = station.charge_point_id
    dates = [(now - timedelta(days=n)).date().isoformat() for n in range(days - 1, -1, -1)]

    def daily(times: Sequence[datetime]) -> DailyCounts:
        per_day = Counter(at.date().isoformat() for at in times)
        return DailyCounts(
            total=len(times), per_day=[DayCount(date=d, count=per_day[d]) for d in dates]
        )

    errors = await message_log.search(db, cp, errors_only=True, since=since, limit=20)
    return StationHealth(
        charge_point_id=cp,
        online=station.online,
        connected=connected,
        connected_since=station.connected_at if station.online else None,
        disconnected_at=station.disconnected_at,
        last_boot_at=station.last_boot_at,
        last_heartbeat_at=station.last_heartbeat_at,
        days=days,
        reconnects=daily(await repository.reconnect_times(db, station.id, since)),
        boots=daily(await message_log.call_times(db, cp, "BootNotification", since)),
        connectors=[
            ConnectorHealth(
                connector_id=c.connector_id,
                status=c.status,
                error_code=c.error_code,
                since=c.status_at,
            )
            for c in await stations.connectors(db, station.id)
        ],
        status_error_codes=[
            ErrorCodeSeen(error_code=code, count=count, last_seen=last)
            for code, count, last in await repository.status_error_codes(db, station.id, since)
        ],
        recent_call_errors=[
            CallErrorOut(
                at=m.created_at,
                direction=m.direction,
                action=m.action,
                message_id=m.message_id,
                error_code=m.error_code,
                frame=m.frame,
            )
            for m in errors
        ],
        failing_commands=[
            FailingCommand(action=a, state=s, outcome=o, count=n, last_at=last)
            for a, s, o, n, last in await repository.failing_commands(
                db, station.id, since, POSITIVE_OUTCOMES
            )
        ],
        open_sessions=[
            OpenSession(
                session_id=s.id,
                connector_id=s.connector_id,
                state=s.state,
                origin=s.origin,
                requested_at=s.requested_at,
                started_at=s.started_at,
            )
            for s in await repository.open_sessions(db, station.id)
        ],
    )
