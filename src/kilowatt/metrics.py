"""Prometheus metrics of the node (``GET /metrics``), documented in docs/metrics.md.

One ``Metrics`` per node, on a registry of its own (never prometheus_client's global one:
several nodes share a process in the tests). Two kinds of values:

* recorded as things happen, by the gateway, the station connections and the command service:
  counters and histograms. The OCPP receive loop is the hot path, so the label children of an
  action are bound once and kept (``_Action``): recording a message is a dict lookup and an
  increment.
* read from the node when scraped (connected stations, sessions by state, the event bus, the
  message log): the route takes a ``NodeState`` and renders it with the rest.

Every label value comes from a closed set (OCPP 1.6 action names, CALLERROR codes, our own
outcome words), so a station cannot grow the number of series by sending made-up names.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from kilowatt import __version__
from kilowatt.auth import deps
from kilowatt.ocpp import v16
from kilowatt.ocpp.rpc import ErrorCode
from kilowatt.sessions.models import ChargingSession

if TYPE_CHECKING:
    from kilowatt.app import Kilowatt

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # text/plain; version=0.0.4; charset=utf-8

# No "<counter>_created" series: in the 0.0.4 text format Prometheus stores each as a gauge of
# its own, a series per label set that nobody queries. (A process-wide switch of the library;
# Kilowatt is the only user of prometheus_client in its process.)
disable_created_metrics()  # type: ignore[no-untyped-call]

# Handling one OCPP message (handler + commit): well under a millisecond on a quiet SQLite
# node, up to a second when the database is the bottleneck.
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# A command's round trip to the station: network and the charger's own work, up to the CALL
# timeout (30 s by default).
COMMAND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Publishing an event is synchronous, in-process work: microseconds.
PUBLISH_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01)

# The states of ChargingSession (sessions/models.py), always exported, 0 included.
SESSION_STATES = ("pending", "active", "completed", "failed", "expired", "cancelled")

KNOWN_ACTIONS = frozenset(v16.REQUESTS)
ERROR_CODES = frozenset(code.value for code in ErrorCode)

# How a CALL we sent ended (connection.CallOutcome.kind) -> kilowatt_ocpp_messages_sent result.
_SENT_RESULTS = {"result": "completed", "error": "error", "timeout": "timeout", "closed": "offline"}
# Frame types a session never answers (a CALLERROR only ever answers a CALL).
_RESPONSE_TYPES = (3, 4)


def action_label(action: object) -> str:
    """An OCPP 1.6 action name, or "unknown"."""
    return action if isinstance(action, str) and action in KNOWN_ACTIONS else "unknown"


def code_label(code: object) -> str:
    """An OCPP-J error code, or "other" (a station may send any string as its code)."""
    return str(code) if code in ERROR_CODES else "other"


class _Action:
    """The label children of one incoming action, bound once (the hot path's records)."""

    __slots__ = ("handler_seconds", "ok")

    def __init__(self, metrics: Metrics, action: str) -> None:
        self.ok = metrics.messages_received.labels(action, "ok")
        self.handler_seconds = metrics.handler_seconds.labels(action)


@dataclass(frozen=True, slots=True)
class NodeState:
    """What the node holds right now, read when scraped."""

    stations_connected: int = 0
    sessions: Mapping[str, int] = field(default_factory=dict)
    events_published: int = 0
    event_streams: int = 0
    event_queue_depth_max: int = 0
    message_log_queue: int = 0
    message_log_dropped: int = 0
    webhook_queue: int = 0
    webhook_dropped: int = 0
    webhook_recorded: int = 0
    webhook_attempts: Mapping[str, int] = field(default_factory=dict)


class _NodeStateCollector:
    """Exports the ``NodeState`` given to ``Metrics.render``."""

    def __init__(self) -> None:
        self.state = NodeState()

    def collect(self) -> Iterable[Metric]:
        state = self.state
        yield GaugeMetricFamily(
            "kilowatt_stations_connected",
            "Stations connected to this node.",
            value=state.stations_connected,
        )
        sessions = GaugeMetricFamily(
            "kilowatt_sessions", "Charging sessions by state (every tenant).", labels=["state"]
        )
        for name, count in sorted({**dict.fromkeys(SESSION_STATES, 0), **state.sessions}.items()):
            sessions.add_metric([name], count)
        yield sessions
        yield CounterMetricFamily(
            "kilowatt_events_published",
            "Domain events published on the node's bus since it started.",
            value=state.events_published,
        )
        yield GaugeMetricFamily(
            "kilowatt_event_streams",
            "Live event streams open (clients of the event stream).",
            value=state.event_streams,
        )
        yield GaugeMetricFamily(
            "kilowatt_event_queue_depth_max",
            "Events waiting in the fullest live stream's queue (0 without streams).",
            value=state.event_queue_depth_max,
        )
        yield GaugeMetricFamily(
            "kilowatt_message_log_queue",
            "OCPP frames queued for the message log and not yet written.",
            value=state.message_log_queue,
        )
        yield CounterMetricFamily(
            "kilowatt_message_log_dropped",
            "OCPP frames the message log dropped (queue full, or unwritable at shutdown).",
            value=state.message_log_dropped,
        )
        yield GaugeMetricFamily(
            "kilowatt_webhook_queue",
            "Events waiting to be recorded as webhook deliveries.",
            value=state.webhook_queue,
        )
        yield CounterMetricFamily(
            "kilowatt_webhook_events_dropped",
            "Events lost for webhooks (their queue was full, or recording them failed).",
            value=state.webhook_dropped,
        )
        yield CounterMetricFamily(
            "kilowatt_webhook_deliveries_recorded",
            "Webhook deliveries recorded (one per matching subscription of an event).",
            value=state.webhook_recorded,
        )
        attempts = CounterMetricFamily(
            "kilowatt_webhook_attempts",
            "Webhook delivery attempts by what they left the delivery in.",
            labels=["state"],
        )
        for name, count in sorted(state.webhook_attempts.items()):
            attempts.add_metric([name], count)
        yield attempts


class Metrics:
    """The collectors of one node, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.messages_received = Counter(
            "kilowatt_ocpp_messages_received",
            "CALLs from stations by action and answer: ok, or the CALLERROR code we sent.",
            ("action", "result"),
            registry=registry,
        )
        self.messages_sent = Counter(
            "kilowatt_ocpp_messages_sent",
            "CALLs we sent to stations by action and end: completed | error | timeout | offline.",
            ("action", "result"),
            registry=registry,
        )
        self.callerrors = Counter(
            "kilowatt_ocpp_callerrors",
            "CALLERRORs by code; direction sent (we answered a station) or received.",
            ("code", "direction"),
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "kilowatt_ocpp_handler_seconds",
            "Time to handle a station's CALL: the handler and its database commit.",
            ("action",),
            buckets=HANDLER_BUCKETS,
            registry=registry,
        )
        self.db_commit_seconds = Histogram(
            "kilowatt_db_commit_seconds",
            "Time of each commit that precedes replies to stations (one per group commit).",
            buckets=HANDLER_BUCKETS,
            registry=registry,
        )
        self.db_batch_messages = Histogram(
            "kilowatt_db_batch_messages",
            "Station messages committed together by one group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=registry,
        )
        self.commands = Counter(
            "kilowatt_commands",
            "Commands finished, by action and outcome (Accepted, Rejected, ..., Offline, Timeout, "
            "or the CALLERROR code).",
            ("action", "outcome"),
            registry=registry,
        )
        self.command_seconds = Histogram(
            "kilowatt_command_seconds",
            "Time from sending a command to the station's answer (answered commands only).",
            ("action",),
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )
        self.bus_publish_seconds = Histogram(
            "kilowatt_bus_publish_seconds",
            "Time to publish one event on the bus (its subscribers and streams included).",
            buckets=PUBLISH_BUCKETS,
            registry=registry,
        )
        # Durability (docs/durability.md): the local journal kept while the database is down.
        self.journal_depth = Gauge(
            "kilowatt_journal_depth",
            "Transaction messages acknowledged and kept in the local journal, not yet in the DB.",
            registry=registry,
        )
        self.journal_appended = Counter(
            "kilowatt_journal_appended",
            "Transaction messages journaled (fsynced) while the database was unreachable.",
            registry=registry,
        )
        self.journal_replayed = Counter(
            "kilowatt_journal_replayed",
            "Journal entries applied to the database once it was back.",
            registry=registry,
        )
        self.replies_repeated = Counter(
            "kilowatt_ocpp_replies_repeated",
            "Retried transaction messages answered with their stored reply (nothing changed).",
            registry=registry,
        )
        Gauge(
            "kilowatt_build_info", "The running Kilowatt version.", ("version",), registry=registry
        ).labels(__version__).set(1)
        self._node = _NodeStateCollector()
        registry.register(self._node)
        self._actions: dict[str, _Action] = {}

    # ---- recording (the gateway, connections and commands call these) -----------------------
    def incoming(self, action: str) -> _Action:
        """The bound children of a valid incoming ``action`` (a key of ``v16.REQUESTS``)."""
        bound = self._actions.get(action)
        if bound is None:
            bound = self._actions[action] = _Action(self, action_label(action))
        return bound

    def call_answered(self, action: str) -> None:
        """We answered a station's CALL with a CALLRESULT."""
        self.incoming(action).ok.inc()

    def call_refused(self, action: str, code: str) -> None:
        """We answered a station's CALL (or a frame we could not read) with a CALLERROR."""
        code = code_label(code)
        self.messages_received.labels(action_label(action), code).inc()
        self.callerrors.labels(code, "sent").inc()

    def frame_rejected(self, text: str, code: str) -> None:
        """The session refused a frame (``FrameRejected``) and answered it with ``code``,
        unless the frame was a response, which is never answered. A rare path: it reads the
        frame's head again, the way the session did, for the action."""
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            frame = None
        action = None
        if isinstance(frame, list) and len(frame) >= 2:
            if type(frame[0]) is int and frame[0] in _RESPONSE_TYPES and type(frame[1]) is str:
                return
            if frame[0] == 2 and len(frame) > 2:
                action = frame[2]
        self.call_refused(action_label(action), code)

    def call_finished(self, action: str, kind: str) -> None:
        """A CALL we sent ended: ``kind`` is ``CallOutcome.kind``."""
        self.messages_sent.labels(action_label(action), _SENT_RESULTS.get(kind, kind)).inc()

    def callerror_received(self, code: str) -> None:
        self.callerrors.labels(code_label(code), "received").inc()

    def command_finished(
        self, action: str, state: str, outcome: str | None, seconds: float | None
    ) -> None:
        """A command reached its final ``state`` with ``outcome`` (its recorded word: the
        station's status, Offline, Timeout or an error code); ``seconds`` when answered."""
        # Statuses passed the response schema (closed enums); an error code may be anything.
        word = code_label(outcome) if state == "error" else str(outcome)
        self.commands.labels(action_label(action), word).inc()
        if seconds is not None:
            self.command_seconds.labels(action_label(action)).observe(seconds)

    # ---- exposition -------------------------------------------------------------------------
    def render(self, state: NodeState) -> bytes:
        """Everything, in the Prometheus text format (0.0.4), with ``state`` as the node's."""
        self._node.state = state
        return generate_latest(self.registry)


# ---- GET /metrics ---------------------------------------------------------------------------
router = APIRouter(tags=["health"])


async def require_scraper(request: Request) -> None:
    """Prometheus with ``Authorization: Bearer <KILOWATT_METRICS_TOKEN>`` (when that is set),
    else a platform admin or the node's admin key: the figures span every tenant."""
    token: str = request.app.state.kilowatt.settings.metrics_token
    if token:
        scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), token.encode()
        ):
            return
    # Not the scrape token: the caller must be who PlatformAdmin admits (401 / 403 otherwise).
    principal = await deps.optional_principal(request)
    await deps.require_platform_admin(await deps.require_principal(principal))


async def node_state(node: Kilowatt) -> NodeState:
    """The node's figures now: one query (sessions by state), the rest from memory."""
    async with node.sessions() as db:
        rows = await db.execute(
            select(ChargingSession.state, func.count()).group_by(ChargingSession.state)
        )
        sessions: dict[str, int] = dict(rows.all())
    return NodeState(
        stations_connected=len(node.registry),
        sessions=sessions,
        events_published=node.bus.published,
        event_streams=node.bus.streams,
        event_queue_depth_max=max(node.bus.queue_depths(), default=0),
        message_log_queue=node.message_log.pending,
        message_log_dropped=node.message_log.dropped,
        webhook_queue=node.webhooks.queue.qsize(),
        webhook_dropped=node.webhooks.dropped,
        webhook_recorded=node.webhooks.recorded,
        webhook_attempts=dict(node.webhooks.outcomes),
    )


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_scraper)],
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def scrape(request: Request) -> Response:
    """The node's metrics in the Prometheus text format (docs/metrics.md)."""
    node: Kilowatt = request.app.state.kilowatt
    return Response(node.metrics.render(await node_state(node)), media_type=CONTENT_TYPE)
