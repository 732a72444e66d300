"""The background worker that keeps stations' local lists in sync, off the OCPP path.

It listens on the bus: ``token.changed`` (a tenant's tokens changed) marks the tenant's
connected stations; ``station.connected`` and an accepted ``station.booted`` mark that station.
Marks are coalesced for ``debounce`` seconds, then each marked station that takes part
(``service.enrolled``) is synchronised. Offline stations are simply not connected: they are
synchronised when they come back. Every ``sweep_every`` seconds the connected stations are
checked against the tokens anyway (changes made outside this node's sessions).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.service import CommandService
from kilowatt.events import Event, EventBus
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.local_lists import capture as _capture  # noqa: F401  (registers the listeners)
from kilowatt.local_lists import repository, service
from kilowatt.local_lists.sync import Synchroniser

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
        self._wake = asyncio.Event()

    def _on_event(self, event: Event) -> None:
        """A bus callback: only marks and wakes (never blocks the publisher)."""
        if event.type == "token.changed" and event.tenant_id is not None:
            self._tenants.add(event.tenant_id)
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
                try:
                    await self._round(tenants, connected, scheduled, sweep)
                except Exception:
                    log.exception("local list synchronisation failed; retrying later")
        finally:
            unsubscribe()

    async def _round(
        self, tenants: set[int], connected: set[str], scheduled: set[str], sweep: bool
    ) -> None:
        # A station both connected and concerned by a token change is handled for the change.
        changed = {c.charge_point_id for c in self.registry if sweep or c.tenant_id in tenants}
        changed |= scheduled
        connected -= changed
        async with self.sessions() as db:
            found = await repository.stations_by_charge_point_id(db, [*changed, *connected])
            chosen = {s.charge_point_id for s in await service.enrolled(db, found)}
        jobs = [self._one(cp, on_connect=True) for cp in connected & chosen]
        jobs += [self._one(cp, on_connect=False) for cp in changed & chosen]
        await asyncio.gather(*jobs)

    async def _one(self, charge_point_id: str, *, on_connect: bool) -> None:
        """On (re)connection: check the station's version, unless that was done during this
        connection already; after token changes: only if its list changed."""
        async with self._limit:
            connection = self.registry.get(charge_point_id)
            if connection is None:
                return
            try:
                result = await self.sync.sync(
                    charge_point_id,
                    only_if_changed=not on_connect,
                    automatic=True,
                    unless_checked_since=connection.connected_at if on_connect else None,
                )
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
    ) -> None:
        self.sync = Synchroniser(sessions, commands, registry, bus, wait=wait)
        self.worker = LocalListWorker(self.sync, sessions, registry, bus)
