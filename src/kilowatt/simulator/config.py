"""What a simulation run is asked to do (SimulatorConfig) and what it did (SimulatorStats)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .phases import check_rotation

__all__ = ["DEFAULT_ID_TAGS", "SimulatorConfig", "SimulatorStats"]

DEFAULT_ID_TAGS: tuple[str, ...] = tuple(f"SIMTAG{i:03d}" for i in range(1, 11))

#: Above this a connector is simulated as DC (one DC current and voltage, DC power curve).
AC_MAX_POWER_W = 22_000.0


@dataclass(frozen=True)  # no slots: the CLI reads class defaults (SimulatorConfig.id_tags)
class SimulatorConfig:
    """Everything a simulation run (or one SimulatedStation) needs; times in seconds.

    `url` is the CSMS base URL: the station id is appended as the last path segment.
    `time_scale` speeds up the *behaviour* (drivers' idle and plug-in times, the EV's battery
    and power ramp) but never the meter: energy is always power x wall-clock time, so the meter
    readings stay consistent with their timestamps.
    """

    url: str
    stations: int = 1
    connectors: int = 2
    id_prefix: str = "SIM"
    id_tags: tuple[str, ...] = DEFAULT_ID_TAGS
    charge_point_vendor: str = "Kilowatt"
    charge_point_model: str = "Simulator"
    firmware_version: str = "sim-1.0"
    #: HeartbeatInterval to use instead of the one the CSMS gives in BootNotification.conf.
    heartbeat_interval: float | None = None
    #: Seconds between MeterValues: MeterValueSampleInterval at boot (the CSMS may change it
    #: with ChangeConfiguration). Fractions are fine for tests and benchmarks.
    meter_interval: float = 10.0
    #: Mean time a connector stays free between two sessions (exponentially distributed).
    mean_idle_time: float = 1800.0
    #: Mean time a driver leaves the car plugged in (exponentially distributed, at least 60 s).
    mean_session_duration: float = 3600.0
    #: Maximum power per connector in W; above 22 kW the connector is DC.
    max_power_w: float = 11_000.0
    time_scale: float = 1.0
    #: Whether the stations plug in, swipe and leave on their own (else only commands drive them).
    auto_sessions: bool = True
    #: HTTP Basic password (OCPP security profile 1); the username is the station id.
    basic_auth_password: str | None = None
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    seed: int | None = None
    #: Run length for run(); None runs until the stop event is set.
    duration: float | None = None
    #: Spread the first connections of run() evenly over this many seconds.
    connect_stagger: float = 0.0
    #: How long to wait for the CSMS to answer a call (OCPP-J "message timeout").
    call_timeout: float = 30.0
    #: Retry wait after a Pending/Rejected BootNotification.conf whose interval is 0.
    boot_retry_interval: float = 30.0
    #: At the end of run(), stop running transactions (reason Other) before disconnecting.
    stop_transactions_on_exit: bool = True
    #: Bound on the graceful part of the shutdown at the end of run().
    shutdown_timeout: float = 10.0
    #: Whether the stations take reservations (the Reservation profile); else ReserveNow is
    #: answered Rejected.
    reservations: bool = True
    #: ConnectorPhaseRotation of connectors 1, 2, … in turn (RST, RTS, SRT, STR, TRS, TSR,
    #: Unknown, NotApplicable); connectors not given are RST. AC only: on DC every connector is
    #: NotApplicable. A single-phase car on "STR" loads grid phase L2 (docs/simulator.md).
    phase_rotation: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"url must be ws://host[:port]/path or wss://…, not {self.url!r}")
        if self.stations < 0:
            raise ValueError("stations must be >= 0")
        if self.connectors < 1:
            raise ValueError("connectors must be >= 1")
        if not self.id_tags or any(not 0 < len(tag) <= 20 for tag in self.id_tags):
            raise ValueError("id_tags must be one or more tags of 1..20 characters")
        positive = {
            "meter_interval": self.meter_interval,
            "mean_idle_time": self.mean_idle_time,
            "mean_session_duration": self.mean_session_duration,
            "max_power_w": self.max_power_w,
            "time_scale": self.time_scale,
            "reconnect_min": self.reconnect_min,
            "call_timeout": self.call_timeout,
            "boot_retry_interval": self.boot_retry_interval,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must be >= reconnect_min")
        if self.heartbeat_interval is not None and not self.heartbeat_interval > 0:
            raise ValueError("heartbeat_interval must be > 0")
        if self.duration is not None and self.duration < 0:
            raise ValueError("duration must be >= 0")
        for rotation in self.phase_rotation:
            check_rotation(rotation)
        if len(self.phase_rotation) > self.connectors:
            raise ValueError("phase_rotation names more connectors than there are")
        if self.phase_rotation and self.is_dc:
            raise ValueError("phase_rotation is for AC connectors (max_power_w <= 22 kW)")

    @property
    def is_dc(self) -> bool:
        return self.max_power_w > AC_MAX_POWER_W

    def station_url(self, station_id: str) -> str:
        return f"{self.url.rstrip('/')}/{station_id}"

    def station_id(self, index: int) -> str:
        """The id of the index-th station (0-based) of a run: SIM0001, SIM0002, …"""
        width = max(4, len(str(self.stations)))
        return f"{self.id_prefix}{index + 1:0{width}d}"


@dataclass(slots=True)
class SimulatorStats:
    """Counters of one run (shared by all its stations; one event loop, so no locking)."""

    messages_sent: int = 0
    messages_received: int = 0
    #: CALLs sent by the stations, per action.
    calls_sent: Counter[str] = field(default_factory=Counter)
    #: CALLs from the CSMS the stations answered (CALLRESULT or CALLERROR).
    calls_answered: int = 0
    #: CALLERRORs received, call timeouts, failed connection attempts, broken frames.
    errors: int = 0
    connects: int = 0
    reconnects: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    wh_delivered: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    stopped_at: float | None = None

    @property
    def elapsed(self) -> float:
        end = self.stopped_at if self.stopped_at is not None else time.monotonic()
        return max(end - self.started_at, 1e-9)

    @property
    def messages_per_second(self) -> float:
        """Frames sent plus received, per second of the run."""
        return (self.messages_sent + self.messages_received) / self.elapsed

    def as_dict(self) -> dict[str, Any]:
        """The counters as plain data (JSON-ready), with elapsed and messages_per_second."""
        return {
            "elapsed": round(self.elapsed, 3),
            "messages_sent": self.messages_sent,
            "messages_received": self.messages_received,
            "messages_per_second": round(self.messages_per_second, 1),
            "calls_sent": dict(self.calls_sent),
            "calls_answered": self.calls_answered,
            "errors": self.errors,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "sessions_started": self.sessions_started,
            "sessions_stopped": self.sessions_stopped,
            "wh_delivered": round(self.wh_delivered, 1),
        }

    def summary(self) -> str:
        return (
            f"{self.elapsed:.1f} s: {self.messages_sent} sent, {self.messages_received} received"
            f" ({self.messages_per_second:.0f} msg/s), {self.connects} connects"
            f" ({self.reconnects} reconnects), {self.sessions_started} sessions started,"
            f" {self.sessions_stopped} stopped, {self.wh_delivered / 1000:.1f} kWh,"
            f" {self.errors} errors"
        )
