"""The background worker that keeps stations' local lists in sync, off the OCPP path.

It listens on the bus: ``token.changed`` (a tenant's tokens changed) marks the tenant's
connected stations; ``station.connected`` and an accepted ``station.booted`` mark that station;
a ``connector.status`` with the error code LocalListConflict marks it for a Full list.
Marks are coalesced for ``debounce`` seconds, then each marked station that takes part
(``service.enrolled``) is synchronised, and a connected station Kilowatt knows nothing about is
asked for its profiles first (auto-enrolment, ``service.to_ask``). Offline stations are simply
not connected: they are synchronised when they come back. Every ``sweep_every`` seconds the
connected stations are checked against the tokens anyway (changes made outside this node's
sessions).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.service import CommandService
from kilowatt.events import Event, EventBus
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.local_lists import capture as _capture  # noqa: F401  (registers the listeners)
from kilowatt.local_lists import repository, service
from kilowatt.local_lists.lists import FULL
from kilowatt.local_lists.sync import CONFLICT, Synchroniser

log = logging.getLogger(__name__)


class LocalListWorker:
    def __init__(
        self,
        sync: Synchroniser,
        sessions: async_sessionmaker[AsyncSession],
        registry: ConnectionRegistry,
        bus: EventBus,
        *,
        debounce: float = 0.5,
        sweep_every: float = 900.0,
        concurrency: int = 8,
        auto_enrol: bool = True,
        conflict_cooldown: float = 3600.0,
    ) -> None:
        self.sync = sync
        self.sessions = sessions
        self.registry = registry
        self.bus = bus
        self.debounce = debounce
        self.sweep_every = sweep_every
        self._limit = asyncio.Semaphore(concurrency)
        self._tenants: set[int] = set()
        self._connected: set[str] = set()
        self._scheduled: set[str] = set()
        self._conflicts: dict[str, int | None] = {}  # station -> the connector that reported
        self._wake = asyncio.Event()
        self.auto_enrol = auto_enrol
        # A conflict sends a Full at most once per connection and per ``conflict_cooldown``
        # seconds: station -> (that connection's start, loop time of the Full).
        self.conflict_cooldown = conflict_cooldown
        self._conflict_fulls: dict[str, tuple[datetime, float]] = {}
        self._asked: dict[str, datetime] = {}  # station -> the connection it was asked on

    def _on_event(self, event: Event) -> None:
        """A bus callback: only marks and wakes (never blocks the publisher)."""
        if event.type == "token.changed" and event.tenant_id is not None:
            self._tenants.add(event.tenant_id)
        elif event.type == "connector.status":
            # Every StatusNotification passes here: one comparison unless it is a conflict.
            if event.data.get("errorCode") != CONFLICT or event.station is None:
                return
            self._conflicts[event.station] = event.connector_id
        elif event.station is not None and (
            event.type == "station.connected"
            or (
                event.type == "station.booted"
                and event.data.get("registrationStatus") == "Accepted"
            )
        ):
            self._connected.add(event.station)
        else:
            return
        self._wake.set()

    def schedule(self, charge_point_id: str) -> None:
        """Synchronise this station soon if its list changed (e.g. its token group did)."""
        self._scheduled.add(charge_point_id)
        self._wake.set()

    async def run(self) -> None:
        unsubscribe = self.bus.subscribe(self._on_event)
        try:
            while True:
                sweep = False
                try:
                    async with asyncio.timeout(self.sweep_every):
                        await self._wake.wait()
                except TimeoutError:
                    sweep = True
                await asyncio.sleep(self.debounce)  # coalesce a burst of changes into one round
                self._wake.clear()
                tenants, self._tenants = self._tenants, set()
                connected, self._connected = self._connected, set()
                scheduled, self._scheduled = self._scheduled, set()
                conflicts, self._conflicts = self._conflicts, {}
                try:
                    await self._round(tenants, connected, scheduled, sweep, conflicts)
                except Exception:
                    log.exception("local list synchronisation failed; retrying later")
        finally:
            unsubscribe()

    async def _round(
        self,
        tenants: set[int],
        connected: set[str],
        scheduled: set[str],
        sweep: bool,
        conflicts: dict[str, int | None],
    ) -> None:
        # A station both connected and concerned by a token change is handled for the change;
        # one that reported a conflict gets the Full list, which covers both.
        changed = {c.charge_point_id for c in self.registry if sweep or c.tenant_id in tenants}
        changed = (changed | scheduled) - conflicts.keys()
        arrived = connected - conflicts.keys()  # candidates for auto-enrolment
        connected = arrived - changed
        async with self.sessions() as db:
            found = await repository.stations_by_charge_point_id(db, [*changed, *arrived])
            chosen = {s.charge_point_id for s in await service.enrolled(db, found)}
            ask: set[str] = set()
            if self.auto_enrol:
                new = [s for s in found if s.charge_point_id in arrived - chosen]
                ask = {s.charge_point_id for s in await service.to_ask(db, new)}
        jobs = [self._conflict(cp, connector_id) for cp, connector_id in conflicts.items()]
        jobs += [self._one(cp, on_connect=True) for cp in connected & chosen]
        jobs += [self._one(cp, on_connect=False) for cp in changed & chosen]
        jobs += [self._enrol(cp) for cp in ask]
        await asyncio.gather(*jobs)

    async def _one(self, charge_point_id: str, *, on_connect: bool) -> None:
        """On (re)connection: check the station's version, unless that was done during this
        connection already; after token changes: only if its list changed."""
        connection = self.registry.get(charge_point_id)
        if connection is None:
            return
        await self._sync(
            charge_point_id,
            only_if_changed=not on_connect,
            unless_checked_since=connection.connected_at if on_connect else None,
        )

    async def _conflict(self, charge_point_id: str, connector_id: int | None) -> None:
        """LocalListConflict: mark the list stale and send the Full list, unless a conflict
        already did so during this connection less than ``conflict_cooldown`` seconds ago (a
        station that keeps reporting it does not get a Full list after every report)."""
        connection = self.registry.get(charge_point_id)
        if connection is None:
            return
        now = asyncio.get_running_loop().time()
        last = self._conflict_fulls.get(charge_point_id)
        resync = (
            last is None
            or last[0] != connection.connected_at
            or now - last[1] >= self.conflict_cooldown
        )
        if resync:
            self._conflict_fulls[charge_point_id] = (connection.connected_at, now)
        try:
            await self.sync.conflict(charge_point_id, connector_id, resync=resync)
        except Exception:
            log.exception("%s: recording a local list conflict failed", charge_point_id)
            return
        if resync:
            await self._sync(charge_point_id, update_type=FULL, reason=CONFLICT)

    async def _enrol(self, charge_point_id: str) -> None:
        """Auto-enrolment: ask a station Kilowatt knows nothing about for its profiles and
        limits, once per connection; synchronise it if it has the profile. The answer is
        stored with the station, so a station without the profile is not asked again."""
        async with self._limit:
            connection = self.registry.get(charge_point_id)
            if connection is None or self._asked.get(charge_point_id) == connection.connected_at:
                return
            self._asked[charge_point_id] = connection.connected_at
            try:
                command = await self.sync.ask_configuration(charge_point_id)
            except Exception:
                log.exception("%s: GetConfiguration for local lists failed", charge_point_id)
                return
        if command.state != "completed":  # a CALLERROR, a timeout: ask on the next connection
            log.info("%s: GetConfiguration for local lists: %s", charge_point_id, command.outcome)
            return
        async with self.sessions() as db:
            found = await repository.stations_by_charge_point_id(db, [charge_point_id])
            enrolled = await service.enrolled(db, found)
            known = await service.limits(db, [s.id for s in found])
        # A station that does not know SupportedFeatureProfiles is probed with
        # GetLocalListVersion (-1 or NotSupported marks it unsupported, remembered).
        if enrolled or not any(k.profiles_known for k in known.values()):
            await self._one(charge_point_id, on_connect=True)
        else:
            log.info("%s: no LocalAuthListManagement; its list is left alone", charge_point_id)

    async def _sync(self, charge_point_id: str, **options: Any) -> None:
        async with self._limit:
            if self.registry.get(charge_point_id) is None:
                return
            try:
                result = await self.sync.sync(charge_point_id, automatic=True, **options)
            except Exception:
                log.exception("%s: local list synchronisation failed", charge_point_id)
                return
            if not result.skipped:
                log.info(
                    "%s: local list %s (%s, version %d, %d messages)",
                    charge_point_id,
                    result.outcome,
                    result.update_type,
                    result.version,
                    result.messages,
                )


class LocalLists:
    """The domain's runtime on a node: the synchroniser and its worker (``app.state.local_lists``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandService,
        registry: ConnectionRegistry,
        bus: EventBus,
        *,
        wait: float,
        auto_enrol: bool = True,
    ) -> None:
        self.sync = Synchroniser(sessions, commands, registry, bus, wait=wait)
        self.worker = LocalListWorker(self.sync, sessions, registry, bus, auto_enrol=auto_enrol)
