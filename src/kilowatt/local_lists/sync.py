"""Bringing one station's local list up to date: GetLocalListVersion, then SendLocalList Full or
Differential (chunked to SendLocalListMaxLength), each call a durable Command.

Outcomes (OCPP 1.6 §5.15, §6.42): Accepted moves the acknowledged list forward chunk by chunk;
a Differential answered Failed or VersionMismatch is retried once as Full; NotSupported (or
listVersion -1, or a CALLERROR NotSupported/NotImplemented) marks the station unsupported and
it is left alone until an operator asks again; Offline/Timeout leave it stale for the next
connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.models import Command
from kilowatt.commands.service import (
    FINAL_STATES,
    CommandService,
    InvalidCommand,
    UnknownStation,
)
from kilowatt.events import Event, EventBus
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.local_lists import lists, repository, service
from kilowatt.local_lists.lists import FULL, Entries, Update
from kilowatt.stations import repository as stations

log = logging.getLogger(__name__)

REQUESTED_BY = "local-list"
UNSUPPORTED_ERRORS = frozenset({"NotSupported", "NotImplemented"})
# OCPP 1.6 ChargePointErrorCode: the central system's authorization data conflicts with the list.
CONFLICT = "LocalListConflict"


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a synchronisation did: ``outcome`` is InSync, Accepted, Failed, NotSupported,
    VersionMismatch, Offline, Timeout or a CALLERROR code; ``messages`` SendLocalLists sent."""

    outcome: str
    update_type: str | None = None
    version: int = 0
    messages: int = 0
    skipped: bool = False


@dataclass(slots=True)
class _Plan:
    station_id: int
    tenant_id: int
    version: int
    state: str
    acked: Entries
    wanted: Entries
    send_max: int | None
    attempted: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


class Synchroniser:
    """Synchronises stations' lists; one synchronisation per station at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandService,
        registry: ConnectionRegistry,
        bus: EventBus,
        *,
        wait: float,
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.registry = registry
        self.bus = bus
        self.wait = wait  # seconds to wait for a station's answer (above the call timeout)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def sync(
        self,
        charge_point_id: str,
        *,
        update_type: str | None = None,
        only_if_changed: bool = False,
        automatic: bool = False,
        unless_checked_since: datetime | None = None,
        reason: str | None = None,
    ) -> SyncResult:
        """Bring the station's list up to date (``update_type`` forces Full or Differential).

        ``only_if_changed``: do nothing when the tokens give the list already acknowledged.
        ``automatic``: leave stations marked unsupported alone.
        ``unless_checked_since``: do nothing if it was attempted since then (this connection).
        ``reason``: why it runs (e.g. ``LocalListConflict``), passed on in the event.
        """
        async with self._locks[charge_point_id]:
            plan = await self._plan(charge_point_id)
            if automatic and plan.state == service.UNSUPPORTED:
                return SyncResult("NotSupported", skipped=True)
            since = unless_checked_since
            if since is not None and plan.attempted is not None and plan.attempted >= since:
                return SyncResult(plan.state, version=plan.version, skipped=True)
            if only_if_changed and plan.state == service.IN_SYNC and plan.acked == plan.wanted:
                return SyncResult("InSync", version=plan.version, skipped=True)
            if self.registry.get(charge_point_id) is None:
                await self._note(plan, "Offline", "station is not connected", stale=True)
                return SyncResult("Offline", version=plan.version)
            try:
                result = await self._run(charge_point_id, plan, update_type)
            except InvalidCommand as exc:  # e.g. an id tag the schema refuses
                await self._note(plan, "Invalid", str(exc), state=service.FAILED)
                result = SyncResult("Invalid", version=plan.version)
            self.bus.publish(
                Event(
                    "station.local_list",
                    {
                        "outcome": result.outcome,
                        "version": result.version,
                        "updateType": result.update_type,
                        "reason": reason,
                    },
                    tenant_id=plan.tenant_id,
                    station=charge_point_id,
                )
            )
            return result

    async def ask_configuration(self, charge_point_id: str) -> Command:
        """GetConfiguration of the keys that say whether and how the station keeps a list; the
        command's outcome stores them with the station (as any GetConfiguration's does)."""
        return await self._call(charge_point_id, "GetConfiguration", {"key": [*service.ENROL_KEYS]})

    async def conflict(
        self, charge_point_id: str, connector_id: int | None, *, resync: bool
    ) -> None:
        """The station reported LocalListConflict: its list is out of step (state ``stale``);
        recorded in ``last_outcome``/``last_error`` and published as
        ``station.local_list_conflict``. ``resync``: a Full list follows."""
        where = "the station" if not connector_id else f"connector {connector_id}"
        error = f"{where} reported LocalListConflict; " + (
            "a Full list is sent"
            if resync
            else "a Full list was sent for a conflict on this connection already: "
            "the next connection sends it again"
        )
        async with self._locks[charge_point_id], self.sessions() as db:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                return
            row = await service.record(db, station.id, _now())
            row.state = service.STALE
            row.last_outcome, row.last_error, row.updated_at = CONFLICT, error, _now()
            version, tenant_id = row.version, station.tenant_id
            await db.commit()
        self.bus.publish(
            Event(
                "station.local_list_conflict",
                {"connectorId": connector_id, "version": version, "resync": resync},
                tenant_id=tenant_id,
                station=charge_point_id,
                connector_id=connector_id,
            )
        )

    async def _plan(self, charge_point_id: str) -> _Plan:
        now = _now()
        async with self.sessions() as db:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                raise UnknownStation(charge_point_id)
            row = await service.record(db, station.id, now)
            limit = (await service.limits(db, [station.id]))[station.id]
            wanted, _ = await service.desired(db, station, row.token_group, limit, now)
            plan = _Plan(
                station.id,
                station.tenant_id,
                row.version,
                row.state,
                dict(row.entries),
                wanted,
                limit.send_max,
                row.last_attempt_at,
            )
            await db.commit()
        return plan

    async def _run(self, cp: str, plan: _Plan, update_type: str | None) -> SyncResult:
        asked = await self._call(cp, "GetLocalListVersion", {})
        if asked.state != "completed":
            return await self._failed_call(plan, asked)
        reported = int((asked.response or {}).get("listVersion", 0))
        await self._update(plan, station_version=reported)
        if reported == -1:
            await self._note(plan, "NotSupported", "listVersion -1", state=service.UNSUPPORTED)
            return SyncResult("NotSupported")
        if update_type != FULL and reported == 0 and not plan.wanted:
            # An empty list on the station and none wanted: in step whatever we last sent.
            plan.acked = {}
            await self._update(plan, entries={})
            await self._note(plan, "InSync", None, state=service.IN_SYNC, synced=True)
            return SyncResult("InSync", version=plan.version)
        in_step = reported == plan.version and plan.version > 0
        changes = lists.diff(plan.acked, plan.wanted)
        if update_type != FULL and in_step:
            if not changes:
                await self._note(plan, "InSync", None, state=service.IN_SYNC, synced=True)
                return SyncResult("InSync", version=plan.version)
            updates = lists.differential_updates(changes, plan.version + 1, plan.send_max)
            result = await self._send(cp, plan, updates)
            if result.outcome not in ("Failed", "VersionMismatch"):
                return result
            reported = max(reported, result.version)  # OCPP 1.6 §5.15: retry with Full
        version = lists.next_version(plan.version, reported)
        return await self._send(cp, plan, lists.full_updates(plan.wanted, version, plan.send_max))

    async def _send(self, cp: str, plan: _Plan, updates: list[Update]) -> SyncResult:
        sent = 0
        for update in updates:
            command = await self._call(cp, "SendLocalList", update.payload())
            sent += 1
            if command.state != "completed":
                return await self._failed_call(plan, command, update)
            status = str((command.response or {}).get("status"))
            if status != "Accepted":
                state = service.UNSUPPORTED if status == "NotSupported" else service.FAILED
                await self._note(
                    plan, status, f"{update.update_type} {update.version}", state=state
                )
                return SyncResult(status, update.update_type, update.version, sent)
            plan.acked = lists.apply(plan.acked, update.update_type, update.data)
            plan.version = update.version
            await self._update(
                plan, version=plan.version, entries=plan.acked, station_version=plan.version
            )
        await self._note(plan, "Accepted", None, state=service.IN_SYNC, synced=True)
        first = updates[0].update_type if updates else None
        return SyncResult("Accepted", first, plan.version, sent)

    async def _call(self, cp: str, action: str, payload: dict[str, Any]) -> Command:
        command = await self.commands.send(
            cp, action, payload, wait=self.wait, requested_by=REQUESTED_BY
        )
        if command.state not in FINAL_STATES:  # the station's answer is overdue: wait once more
            command = await self.commands.get(command.id, wait=self.wait)
        return command

    async def _failed_call(
        self, plan: _Plan, command: Command, update: Update | None = None
    ) -> SyncResult:
        outcome = command.outcome or ("Timeout" if command.state not in FINAL_STATES else "Error")
        if command.state == "error" and outcome in UNSUPPORTED_ERRORS:
            await self._note(
                plan, "NotSupported", command.error_description, state=service.UNSUPPORTED
            )
            return SyncResult("NotSupported")
        await self._note(plan, outcome, command.error_description, stale=True)
        return SyncResult(outcome, update.update_type if update else None, plan.version)

    async def _note(
        self,
        plan: _Plan,
        outcome: str,
        error: str | None,
        *,
        state: str | None = None,
        stale: bool = False,
        synced: bool = False,
    ) -> None:
        now = _now()
        changes: dict[str, Any] = {"last_outcome": outcome, "last_error": error}
        if outcome != "Offline":
            changes["last_attempt_at"] = now
        if synced:
            changes["last_sync_at"] = now
        if state is not None:
            changes["state"] = state
        elif stale and plan.state not in (service.UNSUPPORTED,):
            changes["state"] = service.STALE if plan.acked != plan.wanted else plan.state
        plan.state = changes.get("state", plan.state)
        await self._update(plan, **changes)

    async def _update(self, plan: _Plan, **changes: Any) -> None:
        async with self.sessions() as db:
            row = await repository.for_station(db, plan.station_id)
            if row is None:  # the station was deleted meanwhile
                return
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = _now()
            await db.commit()
