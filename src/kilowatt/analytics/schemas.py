"""API models of the analytics: the success metrics, uptime, exclusions and a station's health.

Percentages are 0 to 100 with two decimals (uptime: four), ``None`` when nothing was counted;
durations in the field's unit (``_seconds``, ``_minutes``). docs/analytics.md defines them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.analytics.uptime import REASONS
from kilowatt.api.auth import MAX_ID

Reason = Literal[
    "utility", "vehicle_fault", "vandalism", "natural_disaster", "maintenance", "closed_hours"
]
assert set(get_args(Reason)) == set(REASONS)


class ScopeOut(BaseModel):
    tenant_id: int | None = Field(description="None: every tenant (a platform admin's view)")
    site_id: int | None
    station: str | None


# ---- the summary --------------------------------------------------------------------------------
class ActionFigures(BaseModel):
    action: str
    total: int = Field(description="commands with an outcome (completed, error, timeout, offline)")
    succeeded: int = Field(description="completed with a positive outcome")
    success_percent: float | None
    outcomes: dict[str, int] = Field(description="outcome word (or state) -> count")


class CommandFigures(BaseModel):
    total: int
    succeeded: int
    success_percent: float | None
    in_flight: int = Field(description="pending or sent: not counted yet")
    positive_outcomes: list[str]
    by_action: list[ActionFigures]


class SessionFigures(BaseModel):
    requested: int = Field(description="every session requested in the period")
    completed: int
    failed: int
    expired: int
    cancelled: int = Field(description="ended by the driver before the charger started")
    open: int = Field(description="pending or active: no outcome yet")
    completion_percent: float | None = Field(
        description="completed / (completed + failed + expired)"
    )
    start_status: dict[str, int] = Field(description="the charger's answer to the start -> count")
    failed_not_authorized: int = Field(description="failed: the charger's start was not authorized")
    average_duration_seconds: float | None = Field(description="completed, started → ended")
    average_energy_wh: float | None = Field(description="completed sessions with a reading")
    energy_wh: int = Field(description="total of the completed sessions")


class UnlockFigures(BaseModel):
    requests: int = Field(description="UnlockConnector commands, whatever their outcome")
    per_day: float | None
    per_100_sessions: float | None = Field(description="per 100 sessions requested")


class ErrorFigures(BaseModel):
    count: int
    attempts: int
    percent: float | None


class ErrorBreakdown(BaseModel):
    network: ErrorFigures = Field(description="commands the station was offline for")
    charger: ErrorFigures = Field(
        description="commands answered with a CALLERROR or a negative status (Rejected, …)"
    )
    timeout: ErrorFigures = Field(description="commands the station did not answer in time")
    authorization: ErrorFigures = Field(
        description="StartTransactions answered other than Accepted (Invalid, Blocked, …)"
    )
    charger_outcomes: dict[str, int]
    authorization_statuses: dict[str, int]
    faulted_status_notifications: int = Field(
        description="StatusNotifications reporting Faulted (not part of any share)"
    )


class Summary(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    days: float
    scope: ScopeOut
    commands: CommandFigures
    sessions: SessionFigures
    unlocks: UnlockFigures
    errors: ErrorBreakdown


Metric = Literal[
    "sessions",
    "completed_sessions",
    "completion_percent",
    "energy_wh",
    "commands",
    "command_success_percent",
    "unlocks",
]


class TimeseriesPoint(BaseModel):
    at: datetime = Field(description="the start of the bucket (UTC)")
    value: float | None


class Timeseries(BaseModel):
    metric: str
    bucket: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    scope: ScopeOut
    points: list[TimeseriesPoint]


# ---- uptime -------------------------------------------------------------------------------------
class RuleOut(BaseModel):
    excluded_minutes: float
    uptime_percent: float | None


class ConnectorUptime(BaseModel):
    charge_point_id: str
    connector_id: int
    site_id: int | None
    from_: datetime = Field(
        serialization_alias="from", description="the period, from the station's registration"
    )
    to: datetime
    period_minutes: float
    outage_minutes: float = Field(description="down: Faulted/Unavailable, or the station offline")
    status_outage_minutes: float = Field(description="of which Faulted or Unavailable")
    offline_minutes: float = Field(description="of which the station was offline (may overlap)")
    no_data_minutes: float = Field(description="before the connector's first StatusNotification")
    nevi: RuleOut
    cec: RuleOut


class UptimePage(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    silence_minutes: float = Field(
        description="before a station's first recorded connection, a silence longer than "
        "this counts as offline (0: not inferred)"
    )
    items: list[ConnectorUptime]
    total: int
    limit: int
    offset: int


# ---- exclusions ---------------------------------------------------------------------------------
class ExclusionCreate(BaseModel):
    station: str = Field(min_length=1, max_length=255, description="its charge point id")
    connector_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="None: every connector of the station"
    )
    from_: datetime = Field(alias="from")
    to: datetime
    reason: Reason
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class ExclusionOut(BaseModel):
    id: int
    station: str
    connector_id: int | None
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    reason: str
    note: str | None
    created_by: str | None
    created_at: datetime


# ---- a station's health -------------------------------------------------------------------------
class DayCount(BaseModel):
    date: str = Field(description="YYYY-MM-DD (UTC)")
    count: int


class DailyCounts(BaseModel):
    total: int
    per_day: list[DayCount]


class ErrorCodeSeen(BaseModel):
    error_code: str
    count: int
    last_seen: datetime


class CallErrorOut(BaseModel):
    at: datetime
    direction: str
    action: str | None
    message_id: str | None
    error_code: str | None
    frame: str


class FailingCommand(BaseModel):
    action: str
    state: str
    outcome: str | None
    count: int
    last_at: datetime


class OpenSession(BaseModel):
    session_id: int
    connector_id: int
    state: str
    origin: str
    requested_at: datetime
    started_at: datetime | None


class ConnectorHealth(BaseModel):
    connector_id: int
    status: str
    error_code: str
    since: datetime | None


class StationHealth(BaseModel):
    charge_point_id: str
    online: bool = Field(description="as recorded (any node)")
    connected: bool = Field(description="connected to this node now")
    connected_since: datetime | None
    disconnected_at: datetime | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    days: int = Field(description="the window of the figures below, in days up to now")
    reconnects: DailyCounts = Field(
        description="connections opened after the station's first one (from its connection history)"
    )
    boots: DailyCounts = Field(description="BootNotifications received")
    connectors: list[ConnectorHealth]
    status_error_codes: list[ErrorCodeSeen]
    recent_call_errors: list[CallErrorOut]
    failing_commands: list[FailingCommand]
    open_sessions: list[OpenSession]
