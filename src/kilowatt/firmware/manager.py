"""The node's firmware worker: delivers campaigns' UpdateFirmware commands, hands them to
stations that were offline when they reconnect, and records the firmware version a station
boots with after an installation.

Delivery runs off the request path: the API commits a campaign and ``start``s it; each
station's update is claimed with a conditional UPDATE (``scheduled``/``offline`` -> ``sending``,
once across nodes), sent as a durable command, and moved by the command's outcome. A paced
campaign (batch size, maintenance window) starts its stations through ``pacing.advance``
instead, again whenever one of them finishes, and when its window opens. The bus callback only
queues work (it never blocks).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
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
from kilowatt.config import Settings
from kilowatt.events import Event, EventBus
from kilowatt.firmware import pacing, repository, service, signed, signing
from kilowatt.firmware.models import (
    DiagnosticsRequest,
    FirmwareCampaign,
    FirmwareFile,
    FirmwareUpdate,
)
from kilowatt.stations import repository as stations

log = logging.getLogger(__name__)

CONCURRENCY = 50  # updates being delivered at once by one node
RECONNECT_GRACE = 10.0  # seconds after a reconnection before an update is sent without a boot
# A campaign waiting for its window is looked at again when the window opens, and at least this
# often (seconds): a wrong clock or a DST change never leaves it waiting much longer.
WINDOW_RECHECK = 3600.0
# The states after which a paced campaign's slot is free again.
SLOT_FREED = frozenset({*repository.FINAL, "offline"})
Job = Callable[[], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class FirmwareManager:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandService,
        bus: EventBus,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.bus = bus
        self.settings = settings
        self.key = signing.file_url_secret(settings.data_dir, settings.file_url_secret)
        # Where stations reach this node (KILOWATT_PUBLIC_URL): the base of the signed links.
        self.public_url = settings.public_url
        self.reconnect_grace = RECONNECT_GRACE
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        # The time pacing decides by (tests drive it); one pacing decision per campaign at once.
        self.clock: Callable[[], datetime] = _now
        self._pacing: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._window_timers: dict[int, asyncio.TimerHandle] = {}
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)

    # ---- the bus callback: only queues ---------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.station is None:
            return
        if event.type == "firmware.status" and event.data.get("state") in SLOT_FREED:
            campaign_id = event.data.get("campaignId")
            if isinstance(campaign_id, int):
                self._jobs.put_nowait(functools.partial(self.advance, campaign_id))
        elif event.type == "station.connected":
            # A station that just booted says so first (its accepted boot delivers at once);
            # one that only reconnected sends no BootNotification: deliver after a grace.
            asyncio.get_running_loop().call_later(
                self.reconnect_grace,
                self._jobs.put_nowait,
                functools.partial(self._station_back, event.station),
            )
        elif event.type == "station.booted":
            version = event.data.get("firmwareVersion")
            self._jobs.put_nowait(functools.partial(self._booted, event.station, version))
            if event.data.get("registrationStatus") == "Accepted":
                self._jobs.put_nowait(functools.partial(self._station_back, event.station))

    def start(self, campaign_id: int) -> None:
        """Deliver a committed campaign's updates."""
        self._jobs.put_nowait(lambda: self._start(campaign_id))

    def later(self, job: Job) -> None:
        """Run ``job`` on this worker (e.g. recording a command's late outcome)."""
        self._jobs.put_nowait(job)

    def wake(self) -> None:
        """Look at every open paced campaign again now (e.g. after ``clock`` moved)."""
        self._jobs.put_nowait(self._advance_all)

    async def run(self) -> None:
        """Work through the queue until cancelled; first resume what a stop left scheduled."""
        self._jobs.put_nowait(self._resume)
        async with asyncio.TaskGroup() as tasks:
            while True:
                job = await self._jobs.get()
                await self._slots.acquire()
                tasks.create_task(self._guarded(job))

    def close(self) -> None:
        for timer in self._window_timers.values():
            timer.cancel()
        self._window_timers.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _guarded(self, job: Job) -> None:
        try:
            await job()
        except Exception:
            log.exception("firmware job failed")
        finally:
            self._slots.release()

    # ---- jobs ------------------------------------------------------------------------------------
    async def _resume(self) -> None:
        async with self.sessions() as db:
            pending = await repository.undelivered(db)
        for update_id, _, paced in pending:
            if not paced:
                self._jobs.put_nowait(functools.partial(self.deliver, update_id))
        await self._advance_all()

    async def _start(self, campaign_id: int) -> None:
        async with self.sessions() as db:
            campaign = await db.get(FirmwareCampaign, campaign_id)
            paced = campaign is not None and pacing.is_paced(campaign)
            updates = [] if paced else await repository.campaign_updates(db, campaign_id)
        if paced:
            await self.advance(campaign_id)
        for update_, _ in updates:
            if update_.state == "scheduled":
                self._jobs.put_nowait(functools.partial(self.deliver, update_.id))

    async def _station_back(self, charge_point_id: str) -> None:
        async with self.sessions() as db:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                return
            pending = await repository.undelivered(db, station_id=station.id)
        for update_id, campaign_id, paced in pending:
            if paced:  # started when its batch and window allow
                await self.advance(campaign_id)
            else:
                await self.deliver(update_id)

    async def _advance_all(self) -> None:
        async with self.sessions() as db:
            campaign_ids = await repository.open_paced_campaigns(db)
        for campaign_id in campaign_ids:
            await self.advance(campaign_id)

    async def advance(self, campaign_id: int) -> None:
        """Start the stations of a paced campaign that its batch and window allow now."""
        async with self._pacing[campaign_id]:
            now = self.clock()
            async with self.sessions() as db:
                done = await pacing.advance(
                    db, campaign_id, now, lambda cp: self.commands.registry.get(cp) is not None
                )
                await db.commit()
                events = [await self._offline_event(db, u) for u in done.offline]
        if done.opens_at is not None:
            self._when_open(campaign_id, (done.opens_at - now).total_seconds())
        for event in events:
            if event is not None:
                self.bus.publish(event)
        for update_id in done.claimed:
            self._jobs.put_nowait(functools.partial(self._send, update_id))

    async def _offline_event(self, db: AsyncSession, update_id: int) -> Event | None:
        update_ = await db.get(FirmwareUpdate, update_id)
        if update_ is None:
            return None
        campaign = await db.get(FirmwareCampaign, update_.campaign_id)
        station = await stations.by_id(db, update_.station_id)
        assert campaign is not None and station is not None
        return service.firmware_event(update_, campaign.tenant_id, station.charge_point_id)

    def _when_open(self, campaign_id: int, seconds: float) -> None:
        previous = self._window_timers.pop(campaign_id, None)
        if previous is not None:
            previous.cancel()
        self._window_timers[campaign_id] = asyncio.get_running_loop().call_later(
            min(max(seconds, 0.0), WINDOW_RECHECK),
            self._jobs.put_nowait,
            functools.partial(self.advance, campaign_id),
        )

    async def _booted(self, charge_point_id: str, version: object) -> None:
        async with self.sessions() as db:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                return
            firmware = version if isinstance(version, str) else None
            update_ = await service.booted(db, station.id, firmware, _now())
            await db.commit()
        if update_ is not None:
            self.bus.publish(service.firmware_event(update_, station.tenant_id, charge_point_id))

    async def deliver(self, update_id: int) -> None:
        """Send one station its UpdateFirmware (if it is still to be sent) and record how the
        station answered: ``sent``, ``offline`` (sent again when it reconnects) or ``error``."""
        async with self.sessions() as db:
            claimed = await repository.claim(db, update_id, _now())
            await db.commit()
        if claimed:
            await self._send(update_id)

    async def _send(self, update_id: int) -> None:
        """Send a claimed (``sending``) update and record the station's answer."""
        now = _now()
        async with self.sessions() as db:
            update_ = await db.get(FirmwareUpdate, update_id)
            assert update_ is not None
            campaign = await db.get(FirmwareCampaign, update_.campaign_id)
            station = await stations.by_id(db, update_.station_id)
            assert campaign is not None and station is not None
            file = await db.get(FirmwareFile, campaign.file_id)
            if file is None or file.deleted_at is not None:
                await self._finish(db, update_, "error", station.charge_point_id, "file deleted")
                return
            cp, tenant_id = station.charge_point_id, station.tenant_id
            if self.commands.registry.get(cp) is None:
                await self._finish(db, update_, "offline", cp, "waiting for the station")
                if self.commands.registry.get(cp) is not None:  # it came back meanwhile
                    self._jobs.put_nowait(lambda: self._station_back(cp))
                return
            if campaign.signing_certificate is None:
                action = "UpdateFirmware"
                payload = service.update_payload(
                    self.settings, self.public_url, self.key, campaign, file, now
                )
            else:  # security whitepaper L01
                action = "SignedUpdateFirmware"
                payload = signed.signed_payload(
                    self.settings, self.public_url, self.key, campaign, file, update_, now
                )
            created_by = campaign.created_by
            await db.commit()
        command_id: str | None = None
        detail: str | None
        try:
            command = await self.commands.send(
                cp, action, payload, wait=None, requested_by=created_by
            )
            command = await self._outcome(command)
        except UnknownStation:
            state, detail = "error", "station deleted"
        except InvalidCommand as exc:
            state, detail = "error", str(exc)
        else:
            state, detail = _state_of(command)
            if action == "SignedUpdateFirmware" and command.state == "completed":
                state, detail = signed.answer_state(command.outcome)
            command_id = command.id
        async with self.sessions() as db:
            update_ = await db.get(FirmwareUpdate, update_id)
            assert update_ is not None
            if command_id is not None:
                update_.command_id = command_id
            await self._finish(db, update_, state, cp, detail, tenant_id=tenant_id)

    async def send_diagnostics(
        self,
        request_id: int,
        charge_point_id: str,
        payload: dict[str, Any],
        *,
        wait: float,
        requested_by: str | None,
    ) -> None:
        """Send GetDiagnostics; record its outcome now if it comes within ``wait`` seconds,
        else when it comes."""
        try:
            command = await self.commands.send(
                charge_point_id, "GetDiagnostics", payload, wait=wait, requested_by=requested_by
            )
        except (UnknownStation, InvalidCommand) as exc:
            await self._diagnostics_outcome(request_id, charge_point_id, None, str(exc))
            return
        if command.state in FINAL_STATES:
            await self._diagnostics_outcome(request_id, charge_point_id, command, None)
        else:
            await self._diagnostics_outcome(request_id, charge_point_id, command, None, final=False)

            async def later() -> None:
                done = await self._outcome(command)
                await self._diagnostics_outcome(request_id, charge_point_id, done, None)

            self._jobs.put_nowait(later)

    async def _diagnostics_outcome(
        self,
        request_id: int,
        charge_point_id: str,
        command: Command | None,
        error: str | None,
        *,
        final: bool = True,
    ) -> None:
        now = _now()
        file_name: str | None = None
        if command is None:
            state, detail = "error", error
        else:
            response = command.response or {}
            file_name = response.get("fileName")
            state, detail = _diagnostics_state(command, file_name) if final else ("sending", None)
        async with self.sessions() as db:
            values: dict[str, Any] = {"detail": detail}
            if command is not None:
                values["command_id"] = command.id
            moved = await repository.move_diagnostics(
                db, request_id, ("sending",), state, now, file_name=file_name, **values
            )
            row = await db.get(DiagnosticsRequest, request_id)
            assert row is not None
            if not moved and final:  # the station reported progress first: keep its state
                row.file_name = file_name or row.file_name
                if command is not None:
                    row.command_id = command.id
            await db.commit()
            await db.refresh(row)
        if moved and final:
            self.bus.publish(service.diagnostics_event(row, charge_point_id, None))

    async def _outcome(self, command: Command) -> Command:
        while command.state not in FINAL_STATES:
            command = await self.commands.get(command.id, wait=self.settings.call_timeout + 5)
        return command

    async def _finish(
        self,
        db: AsyncSession,
        update_: FirmwareUpdate,
        state: str,
        charge_point_id: str,
        detail: str | None,
        *,
        tenant_id: int | None = None,
    ) -> None:
        now = _now()
        if state == "offline":
            # not delivered: if the campaign was closed meanwhile, it never will be
            campaign = await repository.lock_campaign(db, update_.campaign_id)
            if campaign is not None and campaign.state != "open":
                state, detail = "cancelled", "campaign closed"
        moved = await repository.move(
            db, update_.id, ("sending",), state, now, detail=detail, command_id=update_.command_id
        )
        if moved and state in repository.FINAL:
            await service.complete_if_done(db, update_.campaign_id, now)
        await db.commit()
        if not moved:  # the station reported progress before its answer was recorded
            return
        await db.refresh(update_)
        if tenant_id is None:
            campaign = await db.get(FirmwareCampaign, update_.campaign_id)
            assert campaign is not None
            tenant_id = campaign.tenant_id
        self.bus.publish(service.firmware_event(update_, tenant_id, charge_point_id))


def _diagnostics_state(command: Command, file_name: str | None) -> tuple[str, str | None]:
    if command.state == "completed":
        # No fileName: "no diagnostics information available" (OCPP 1.6 §6.26).
        return ("sent", None) if file_name else ("no_file", "no diagnostics available")
    if command.state == "offline":
        return "offline", command.error_description
    return "error", f"{command.outcome}: {command.error_description or ''}".strip(": ")


def _state_of(command: Command) -> tuple[str, str | None]:
    if command.state == "completed":
        return "sent", None
    if command.state in ("offline", "timeout"):
        return "offline", command.error_description
    return "error", f"{command.outcome}: {command.error_description or ''}".strip(": ")
