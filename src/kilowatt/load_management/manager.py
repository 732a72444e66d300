"""The load manager: holds every load-managed site to its grid limit, off the OCPP path.

It listens on the bus (transactions starting and stopping, stations connecting and
disconnecting, meter values that reveal a car's phases) and marks the sites concerned; after a
short debounce it rebalances each marked site:

1. **Guard new sessions.** Every online station of the site holds a TxDefaultProfile of 0 A on
   connector 0 (sent once per connection), so a session that starts draws nothing until it has
   its share: a start can never push the site over its limit.
2. **Divide.** The limit in force (the site's own, lowered by any window) is divided among the
   running sessions by ``smart_charging.allocation.allocate``. Sessions Kilowatt cannot steer
   -- the station is offline, or it refused or did not answer a profile during this connection
   -- count as fixed at their last known draw (their last metered per-phase current, else the
   share they last accepted, else their maximum on three phases).
3. **Apply, decreases first.** TxProfiles that lower a session's current (and those for
   sessions that never had one) are sent and answered before any that raise one, so the site
   stays within its limit while the shares move. A failure turns that session into a fixed
   draw and the division is made again before anything is raised.
4. **Record** the allocation (``site_allocations``) when it differs from the last one, and
   publish ``load.allocated``.

A car's phases are learned from per-phase ``Current.Import`` meter values (a car drawing on one
phase is given a share on that phase only); until then it counts on all three.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.events import Event, EventBus
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.load_management import repository
from kilowatt.load_management.limits import limit_at
from kilowatt.load_management.models import SiteAllocation, SiteLoadConfig
from kilowatt.load_management.service import allocation_out
from kilowatt.ocpp.v16.enums import ChargingRateUnitType
from kilowatt.smart_charging.allocation import (
    PHASES,
    Allocation,
    FixedDraw,
    Session,
    SiteLimit,
    allocate,
)
from kilowatt.smart_charging.profiles import TX, TX_DEFAULT, ProfileInvalid
from kilowatt.smart_charging.service import SmartCharging
from kilowatt.stations.models import Station

__all__ = ["DEFAULT_PROFILE_ID", "OUR_PROFILE_IDS", "LoadManager", "tx_profile_id"]

log = logging.getLogger(__name__)

#: chargingProfileId of the 0 A TxDefaultProfile on connector 0 of a managed station.
DEFAULT_PROFILE_ID = 910_000
_TX_PROFILE_BASE = 911_000
#: Every chargingProfileId the manager uses (connectors 1 to 99).
OUR_PROFILE_IDS = (DEFAULT_PROFILE_ID, *range(_TX_PROFILE_BASE + 1, _TX_PROFILE_BASE + 100))
#: How long a session whose station refused its profile stays a fixed draw before a retry.
REFUSED_FOR = timedelta(minutes=5)
#: A phase counts as used by a car when its metered current is above this.
PHASE_IN_USE_A = Decimal("0.5")
_TENTH = Decimal("0.1")
_ROUNDS = 3
AMPS = ChargingRateUnitType.AMPS
PHASE_NAMES = {"L1": 1, "L2": 2, "L3": 3, "L1-N": 1, "L2-N": 2, "L3-N": 3}


def tx_profile_id(connector_id: int) -> int:
    """chargingProfileId of the TxProfile the manager keeps on a connector."""
    return _TX_PROFILE_BASE + connector_id


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Reading:
    """What the meter last said about a transaction's draw: current per phase (A)."""

    amps: dict[int, Decimal] = field(default_factory=dict)
    phases: tuple[int, ...] | None = None  # None: not known yet


@dataclass(slots=True)
class Guard:
    """The 0 A default a station accepted, during one connection, at ``at``."""

    connection: object
    at: datetime


@dataclass(slots=True)
class Refusal:
    why: str
    connection: object
    at: datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One running session as the manager sees it, for the division and the record."""

    transaction_id: int
    station: Station
    connector_id: int
    started_at: datetime
    received_at: datetime
    token_group: str | None
    phases: tuple[int, ...]
    min_current: Decimal
    max_current: Decimal
    priority: int
    fixed: Mapping[int, Decimal] | None  # per-phase draw when not controllable
    why_fixed: str | None


def per_phase_currents(data: Mapping[str, Any]) -> dict[int, Decimal]:
    """The per-phase currents (phase 1..3 -> A) of a ``meter_values`` event."""
    found: dict[int, Decimal] = {}
    for name, value in (data.get("currentsA") or {}).items():
        phase = PHASE_NAMES.get(name)
        if phase is not None and value is not None:
            found[phase] = Decimal(str(value))
    return found


class LoadManager:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        smart: SmartCharging,
        registry: ConnectionRegistry,
        bus: EventBus,
        *,
        wait: float,
        debounce: float = 0.2,
        sweep_every: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.smart = smart
        self.registry = registry
        self.bus = bus
        self.wait = wait
        self.debounce = debounce
        self.sweep_every = sweep_every
        self.clock = clock
        self._stations: set[int] = set()
        self._charge_points: set[str] = set()
        self._sites: set[int] = set()
        self._wake = asyncio.Event()
        self._locks: dict[int, asyncio.Lock] = {}
        self._readings: dict[int, Reading] = {}
        self._refused: dict[int, Refusal] = {}
        self._guards: dict[str, Guard] = {}
        self._last: dict[int, tuple[Any, ...]] = {}
        self._managed: dict[int, set[str]] = {}  # site -> stations holding our profiles
        self._next_change: dict[int, datetime] = {}
        self._next_sweep = time.monotonic() + sweep_every

    # -- marking (bus callbacks: never block) ----------------------------------------------------
    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.type in ("transaction.started", "transaction.stopped"):
            station_id = data.get("stationId")
            if isinstance(station_id, int):
                self._stations.add(station_id)
            if event.type == "transaction.stopped":
                self._forget(data.get("transactionId"))
        elif event.type in ("station.connected", "station.disconnected") and event.station:
            self._charge_points.add(event.station)
        elif event.type == "meter_values" and event.station:
            if not self._read(data):
                return
            self._charge_points.add(event.station)
        else:
            return
        self._wake.set()

    def _read(self, data: Mapping[str, Any]) -> bool:
        """Keep a transaction's per-phase draw; whether its phases changed (worth a rebalance)."""
        transaction_id = data.get("transactionId")
        amps = per_phase_currents(data)
        if not isinstance(transaction_id, int) or not amps:
            return False
        reading = self._readings.setdefault(transaction_id, Reading())
        reading.amps = amps
        in_use = tuple(sorted(p for p, a in amps.items() if a > PHASE_IN_USE_A))
        if not in_use or in_use == reading.phases:
            return False  # a paused car tells nothing about its phases
        reading.phases = in_use
        return True

    def _forget(self, transaction_id: object) -> None:
        if isinstance(transaction_id, int):
            self._readings.pop(transaction_id, None)
            self._refused.pop(transaction_id, None)

    def schedule(self, site_id: int) -> None:
        """Rebalance this site soon (its settings or windows changed)."""
        self._sites.add(site_id)
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        unsubscribe = self.bus.subscribe(self._on_event)
        try:
            async with self.sessions() as db:
                self._sites.update(await repository.enabled_site_ids(db))
            self._wake.set()
            while True:
                due = await self._wait()
                await asyncio.sleep(self.debounce)  # coalesce a burst of events into one round
                self._wake.clear()
                try:
                    await self._round(due)
                except Exception:
                    log.exception("load management round failed; retrying later")
        finally:
            unsubscribe()

    async def _wait(self) -> set[int]:
        """Wait for a mark, a site's next limit change or the sweep; the sites due by time."""
        now = self.clock()
        timeout = max(0.0, self._next_sweep - time.monotonic())
        for at in self._next_change.values():
            timeout = min(timeout, max(0.0, (at - now).total_seconds()))
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
        now = self.clock()
        due = {site for site, at in self._next_change.items() if at <= now}
        if time.monotonic() >= self._next_sweep:  # retry refusals, catch changes made elsewhere
            self._next_sweep = time.monotonic() + self.sweep_every
            due |= set(self._managed)
        return due

    async def _round(self, due: set[int]) -> None:
        stations, self._stations = self._stations, set()
        charge_points, self._charge_points = self._charge_points, set()
        sites, self._sites = self._sites, set()
        async with self.sessions() as db:
            sites |= await repository.managed_sites_of(db, stations, charge_points)
            stale = await repository.unmanaged_holding(db, charge_points, OUR_PROFILE_IDS)
        await self._clear(stale)
        for site_id in sorted(sites | due):
            await self.rebalance(site_id, reason="timer" if site_id not in sites else "change")

    # -- one site ----------------------------------------------------------------------------------
    async def rebalance(self, site_id: int, *, reason: str = "change") -> SiteAllocation | None:
        """Divide the site's limit now and apply it; the allocation recorded (None: the site is
        not load-managed, or nothing changed since the last one)."""
        lock = self._locks.setdefault(site_id, asyncio.Lock())
        async with lock:
            now = self.clock()
            async with self.sessions() as db:
                config = await repository.config(db, site_id)
                if config is None or not config.enabled:
                    holding = await repository.holding_our_profiles(db, site_id, OUR_PROFILE_IDS)
                else:
                    holding = None
            if config is None or not config.enabled:
                await self._release(site_id, holding or [])
                return None
            async with self.sessions() as db:
                windows = await repository.windows(db, site_id, now)
                stations = list(await repository.stations_of(db, site_id))
                ids = [s.id for s in stations]
                max_power = await repository.connector_max_power(db, ids)
                running = await repository.running(db, ids)
                installed = await repository.our_installed(db, ids, OUR_PROFILE_IDS)
                site = await repository.site(db, site_id)
            limit, next_change = limit_at(config, windows, now)
            if next_change is None:
                self._next_change.pop(site_id, None)
            else:
                self._next_change[site_id] = next_change
            online = [s for s in stations if s.charge_point_id in self.registry]
            self._managed[site_id] = {s.charge_point_id for s in stations}
            await self._guard(online)
            by_id = {s.id: s for s in stations}
            told = self._told(running, installed)
            allocation, entries = self._divide(config, limit, by_id, running, max_power, now, told)
            for _ in range(_ROUNDS):
                if await self._apply(entries, allocation, told, raising=False):
                    allocation, entries = self._divide(
                        config, limit, by_id, running, max_power, now, told
                    )
                    continue
                if not await self._apply(entries, allocation, told, raising=True):
                    break
                allocation, entries = self._divide(
                    config, limit, by_id, running, max_power, now, told
                )
            return await self._record(
                site_id, site.tenant_id if site else None, reason, limit, allocation, entries, now
            )

    def _divide(
        self,
        config: SiteLoadConfig,
        limit: SiteLimit,
        stations: Mapping[int, Station],
        running: Iterable[repository.Running],
        max_power: Mapping[tuple[int, int], int],
        now: datetime,
        told: Mapping[int, Decimal],
    ) -> tuple[Allocation, list[Entry]]:
        entries = [self._entry(config, stations, r, max_power, now, told) for r in running]
        sessions = [
            Session(
                id=str(e.transaction_id),
                phases=e.phases,
                min_current=e.min_current,
                max_current=e.max_current,
                started_at=e.started_at,
                priority=e.priority,
            )
            for e in entries
            if e.fixed is None
        ]
        fixed = [FixedDraw(str(e.transaction_id), e.fixed) for e in entries if e.fixed is not None]
        return allocate(limit, sessions, fixed), entries

    def _entry(
        self,
        config: SiteLoadConfig,
        stations: Mapping[int, Station],
        r: repository.Running,
        max_power: Mapping[tuple[int, int], int],
        now: datetime,
        told: Mapping[int, Decimal],
    ) -> Entry:
        station = stations[r.station_id]
        reading = self._readings.get(r.transaction_id)
        phases = reading.phases if reading is not None and reading.phases else PHASES
        most = config.max_current_a
        watts = max_power.get((r.station_id, r.connector_id))
        if watts is not None:
            per_phase = Decimal(watts) / (config.voltage * len(phases))
            most = min(most, per_phase.quantize(_TENTH, rounding=ROUND_FLOOR))
        least = min(config.min_current_a, most)
        priority = int((config.priorities or {}).get(r.token_group or "", 1))
        why = self._why_fixed(station, r.transaction_id, now)
        fixed: Mapping[int, Decimal] | None = None
        if why is not None:
            fixed = self._last_draw(r.transaction_id, phases, most, told)
        return Entry(
            transaction_id=r.transaction_id,
            station=station,
            connector_id=r.connector_id,
            started_at=r.started_at,
            received_at=r.received_at,
            token_group=r.token_group,
            phases=phases,
            min_current=least,
            max_current=most,
            priority=max(1, priority),
            fixed=fixed,
            why_fixed=why,
        )

    def _why_fixed(self, station: Station, transaction_id: int, now: datetime) -> str | None:
        connection = self.registry.get(station.charge_point_id)
        if connection is None:
            return "offline"
        refusal = self._refused.get(transaction_id)
        if refusal is None:
            return None
        if refusal.connection is not connection or now - refusal.at >= REFUSED_FOR:
            del self._refused[transaction_id]  # a new connection, or time to try again
            return None
        return refusal.why

    def _last_draw(
        self,
        transaction_id: int,
        phases: tuple[int, ...],
        most: Decimal,
        told: Mapping[int, Decimal],
    ) -> dict[int, Decimal]:
        """What an uncontrolled session is taken to draw: as metered, else as last accepted,
        else its maximum."""
        reading = self._readings.get(transaction_id)
        if reading is not None and reading.amps:
            return {p: reading.amps.get(p, Decimal(0)) for p in PHASES}
        return dict.fromkeys(phases, told.get(transaction_id, most))

    # -- talking to stations -----------------------------------------------------------------------
    async def _guard(self, online: Iterable[Station]) -> None:
        """A 0 A TxDefaultProfile on every online station, once per connection."""
        todo = []
        for station in online:
            connection = self.registry.get(station.charge_point_id)
            held = self._guards.get(station.charge_point_id)
            if connection is not None and (held is None or held.connection is not connection):
                todo.append((station, connection))

        async def guard(station: Station, connection: object) -> None:
            sent_at = self.clock()
            status = await self._send(station, 0, Decimal(0), purpose=TX_DEFAULT)
            if status == "Accepted":
                self._guards[station.charge_point_id] = Guard(connection, sent_at)
            else:
                log.warning(
                    "%s: the 0 A default profile was not accepted (%s): new sessions there "
                    "start at the station's own limit",
                    station.charge_point_id,
                    status,
                )

        await asyncio.gather(*(guard(s, c) for s, c in todo))

    def _told(
        self,
        running: Iterable[repository.Running],
        installed: Mapping[tuple[int, int], repository.Ours],
    ) -> dict[int, Decimal]:
        """transaction -> the most its station lets it draw, as far as Kilowatt knows: our
        TxProfile's limit, or 0 A when it started under our 0 A default."""
        told: dict[int, Decimal] = {}
        for r in running:
            mine = installed.get((r.station_id, tx_profile_id(r.connector_id)))
            guard = installed.get((r.station_id, DEFAULT_PROFILE_ID))
            if (
                mine is not None
                and mine.transaction_id == r.transaction_id
                and mine.limit is not None
            ):
                told[r.transaction_id] = mine.limit
            elif guard is not None and guard.installed_at <= r.received_at:
                told[r.transaction_id] = Decimal(0)
        return told

    async def _apply(
        self,
        entries: list[Entry],
        allocation: Allocation,
        told: dict[int, Decimal],
        *,
        raising: bool,
    ) -> bool:
        """Send the TxProfiles that lower (or, ``raising``, raise) a share; whether any failed.

        A session whose current limit is unknown (it ran before the site was managed) is first
        held to what it was last metered drawing (0 A if never), a decrease or no change, and
        raised to its share with the others."""
        jobs = []
        for e in entries:
            if e.fixed is not None:
                continue
            share = allocation.currents[str(e.transaction_id)]
            before = told.get(e.transaction_id)
            if before == share:
                continue
            if raising and (before is None or share > before):
                jobs.append(self._hold(e, share, told))
            elif not raising and before is None:
                jobs.append(self._hold(e, min(share, self._metered(e.transaction_id)), told))
            elif not raising and before is not None and share < before:
                jobs.append(self._hold(e, share, told))
        results = await asyncio.gather(*jobs)
        return not all(results)

    def _metered(self, transaction_id: int) -> Decimal:
        reading = self._readings.get(transaction_id)
        most = max(reading.amps.values(), default=Decimal(0)) if reading else Decimal(0)
        return most.quantize(_TENTH, rounding=ROUND_FLOOR)

    async def _hold(self, e: Entry, current: Decimal, told: dict[int, Decimal]) -> bool:
        """Send the session ``current``; False if the station did not take it."""
        connection = self.registry.get(e.station.charge_point_id)
        status = await self._send(e.station, e.connector_id, current, purpose=TX)
        if status is None:
            return True  # the transaction ended meanwhile: nothing to hold
        if status == "Accepted":
            told[e.transaction_id] = current
            return True
        self._refused[e.transaction_id] = Refusal(status, connection, self.clock())
        log.warning(
            "%s connector %d: a %s A share was not accepted (%s); counted at its last draw",
            e.station.charge_point_id,
            e.connector_id,
            current,
            status,
        )
        return False

    async def _send(
        self, station: Station, connector_id: int, current: Decimal, *, purpose: Any
    ) -> str | None:
        """Send a profile of ``current`` A; the station's answer, Timeout, Offline, a CALLERROR
        code (see ``ChargingProfileChange.status``), or None if there is nothing to send."""
        profile_id = DEFAULT_PROFILE_ID if purpose is TX_DEFAULT else tx_profile_id(connector_id)
        try:
            answer = await self.smart.apply_limit(
                station,
                connector_id,
                current,
                AMPS,
                wait=self.wait,
                requested_by="load-manager",
                purpose=purpose,
                profile_id=profile_id,
            )
        except ProfileInvalid as exc:
            log.info("%s: no profile sent: %s", station.charge_point_id, exc)
            return None
        return answer.change.status if answer.final else "Timeout"

    async def _release(self, site_id: int, holding: list[tuple[Station, int]]) -> None:
        """The site is not load-managed (any more): take our profiles off its stations."""
        self._managed.pop(site_id, None)
        self._next_change.pop(site_id, None)
        self._last.pop(site_id, None)
        await self._clear(holding)

    async def _clear(self, holding: Iterable[tuple[Station, int]]) -> None:
        for station, profile_id in holding:
            if station.charge_point_id not in self.registry:
                continue  # cleared when it comes back (see _round)
            self._guards.pop(station.charge_point_id, None)
            await self.smart.clear(
                station, profile_id=profile_id, wait=self.wait, requested_by="load-manager"
            )

    # -- the record -------------------------------------------------------------------------------
    async def _record(
        self,
        site_id: int,
        tenant_id: int | None,
        reason: str,
        limit: SiteLimit,
        allocation: Allocation,
        entries: list[Entry],
        now: datetime,
    ) -> SiteAllocation | None:
        shares = [self._share(e, allocation) for e in entries]
        key = (
            limit,
            tuple(
                sorted(
                    (s["transaction_id"], s["current_a"], s["fixed"], tuple(s["phases"]))
                    for s in shares
                )
            ),
        )
        if self._last.get(site_id) == key:
            return None
        self._last[site_id] = key
        row = SiteAllocation(
            site_id=site_id,
            at=now,
            reason=reason,
            limit_l1_a=limit.l1,
            limit_l2_a=limit.l2,
            limit_l3_a=limit.l3,
            load_l1_a=allocation.load.get(1, Decimal(0)),
            load_l2_a=allocation.load.get(2, Decimal(0)),
            load_l3_a=allocation.load.get(3, Decimal(0)),
            sessions=shares,
        )
        async with self.sessions() as db:
            db.add(row)
            await db.commit()
            await db.refresh(row)
        data = allocation_out(row).model_dump(mode="json")
        self.bus.publish(Event("load.allocated", data, tenant_id=tenant_id))
        return row

    def _share(self, e: Entry, allocation: Allocation) -> dict[str, Any]:
        """A session's part of the allocation, as stored (see ``schemas.ShareOut``)."""
        key = str(e.transaction_id)
        current = max(e.fixed.values(), default=Decimal(0)) if e.fixed else allocation.currents[key]
        return {
            "transaction_id": e.transaction_id,
            "charging_station_id": e.station.charge_point_id,
            "connector_id": e.connector_id,
            "token_group": e.token_group,
            "priority": e.priority,
            "phases": list(e.phases),
            "min_a": str(e.min_current),
            "max_a": str(e.max_current),
            "current_a": str(current),
            "paused": key in allocation.paused,
            "fixed": e.fixed is not None,
            "why": e.why_fixed,
        }
