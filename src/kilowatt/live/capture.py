"""Domain events from the rows themselves: whatever code path changes a charging session or a
command, the change becomes an event — published only once the transaction commits.

The node's database sessions carry the bus in ``Session.info``; ``after_flush`` turns the
flushed changes of ``ChargingSession`` and ``Command`` rows into events kept on the session,
``after_commit`` publishes them, a rollback drops them. (Bulk Core UPDATEs are not seen here:
the code that issues them publishes its own events, e.g. the payment worker.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from kilowatt.commands.models import Command
from kilowatt.events import Event, EventBus
from kilowatt.reservations.events import reservation_data, reservation_event
from kilowatt.reservations.models import Reservation
from kilowatt.sessions.models import ChargingSession

PENDING = "kilowatt.events"
MARKS = "kilowatt.event_marks"  # savepoint -> len(PENDING) when it began
BUS = "kilowatt.bus"
DIRECTORY = "kilowatt.station_directory"  # station id -> (charge point id, tenant id)

# What a session's new state means for its watchers.
STATE_EVENTS = {
    "pending": "session.created",
    "active": "session.started",
    "completed": "session.ended",
    "failed": "session.failed",
    "expired": "session.failed",
    "cancelled": "session.failed",
}
# Columns whose change, state unchanged, is an update worth pushing (bill, reconciliation).
SESSION_UPDATE_COLUMNS = (
    "cost_status",
    "cost_total",
    "energy_wh",
    "reconciled",
    "stop_status",
    "warnings",
    "billing_review_reason",
)
FINISHED_COMMAND_STATES = ("completed", "offline", "timeout", "error", "rejected")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def session_data(s: ChargingSession) -> dict[str, Any]:
    return {
        "sessionId": s.id,
        "state": s.state,
        "origin": s.origin,
        "stationId": s.station_id,
        "connectorId": s.connector_id,
        "transactionId": s.transaction_id,
        "startedAt": _iso(s.started_at),
        "endedAt": _iso(s.ended_at),
        "energyWh": s.energy_wh,
        "reconciled": s.reconciled,
        "cost": {
            "status": s.cost_status,
            "currency": s.currency,
            "total": None if s.cost_total is None else str(s.cost_total),
        },
        "failureReason": s.failure_reason,
    }


def _changed(obj: object, *columns: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[c].history.has_changes() for c in columns)


def _session_events(s: ChargingSession, *, new: bool) -> list[str]:
    if new:
        kinds = [STATE_EVENTS["pending"]]
        if s.state != "pending":
            kinds.append(STATE_EVENTS.get(s.state, "session.updated"))
        return kinds
    if _changed(s, "state"):
        return [STATE_EVENTS.get(s.state, "session.updated")]
    if _changed(s, *SESSION_UPDATE_COLUMNS):
        return ["session.updated"]
    return []


def _command_event(c: Command, *, new: bool) -> str | None:
    if new:
        return "command.sent" if c.state not in FINISHED_COMMAND_STATES else "command.finished"
    if _changed(c, "state") and c.state in FINISHED_COMMAND_STATES:
        return "command.finished"
    if _changed(c, "state") and c.state == "sent":
        return "command.sent"
    return None


def _directory(session: Session) -> Mapping[int, tuple[str, int]]:
    directory: Mapping[int, tuple[str, int]] = session.info.get(DIRECTORY, {})
    return directory


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if BUS not in session.info:
        return
    pending: list[Event] = session.info.setdefault(PENDING, [])
    directory = _directory(session)
    for obj, new in [(o, True) for o in session.new] + [(o, False) for o in session.dirty]:
        if isinstance(obj, ChargingSession):
            station = directory.get(obj.station_id)
            for kind in _session_events(obj, new=new):
                pending.append(
                    Event(
                        kind,
                        session_data(obj),
                        tenant_id=obj.tenant_id,
                        user_id=obj.user_id,
                        station=station[0] if station else None,
                        connector_id=obj.connector_id,
                    )
                )
        elif isinstance(obj, Reservation):
            reservation_kind = reservation_event(obj, new=new, changed=_changed(obj, "state"))
            if reservation_kind is not None:
                station = directory.get(obj.station_id)
                pending.append(
                    Event(
                        reservation_kind,
                        reservation_data(obj),
                        tenant_id=obj.tenant_id,
                        user_id=obj.user_id,
                        station=station[0] if station else None,
                        connector_id=obj.connector_id,
                    )
                )
        elif isinstance(obj, Command):
            command_kind = _command_event(obj, new=new)
            if command_kind is None:
                continue
            station = directory.get(obj.station_id)
            pending.append(
                Event(
                    command_kind,
                    {
                        "commandId": obj.id,
                        "action": obj.action,
                        "state": obj.state,
                        "outcome": obj.outcome,
                        "latencyMs": obj.latency_ms,
                        "requestedBy": obj.requested_by,
                    },
                    tenant_id=station[1] if station else None,
                    station=station[0] if station else None,
                )
            )


def _after_commit(session: Session) -> None:
    events: list[Event] = session.info.pop(PENDING, [])
    bus: EventBus | None = session.info.get(BUS)
    if bus is None:
        return
    for domain_event in events:
        bus.publish(domain_event)


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:  # a savepoint: remember where its events start
        marks: dict[SessionTransaction, int] = session.info.setdefault(MARKS, {})
        marks[transaction] = len(session.info.get(PENDING, ()))


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    marks: dict[SessionTransaction, int] = session.info.get(MARKS, {})
    if previous.nested:
        # Only the savepoint's own changes are undone (group commit runs each station message
        # in one): the events of what came before it still happen.
        start = marks.get(previous)
        if start is not None:
            del session.info.get(PENDING, [])[start:]
        return
    session.info.pop(PENDING, None)
    session.info.pop(MARKS, None)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the marks of its savepoints go with it (a savepoint ends
        session.info.pop(MARKS, None)  # before its after_soft_rollback, so they stay till here)


class EventSession(Session):
    """The node's ORM session: its committed changes of sessions and commands become events."""


event.listen(EventSession, "after_flush", _after_flush)
event.listen(EventSession, "after_commit", _after_commit)
event.listen(EventSession, "after_transaction_create", _after_transaction_create)
event.listen(EventSession, "after_transaction_end", _after_transaction_end)
event.listen(EventSession, "after_soft_rollback", _after_soft_rollback)


def session_info(bus: EventBus, directory: Mapping[int, tuple[str, int]]) -> dict[str, Any]:
    """What the node's session factory puts in every session's ``info``."""
    return {BUS: bus, DIRECTORY: directory}
