"""Sends the certificates the station CA signed: CertificateSigned as a durable command, after
the SignCertificate reply went out (the bus callback only queues; the work runs here)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.service import FINAL_STATES, CommandService, InvalidCommand, UnknownStation
from kilowatt.config import Settings
from kilowatt.events import Event, EventBus
from kilowatt.security import ca, service
from kilowatt.security.models import StationCertificate
from kilowatt.stations import repository as stations

log = logging.getLogger(__name__)


class CertificateSigner:
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
        # The longest a station may take to answer, plus the time to record its answer.
        self.wait = settings.call_timeout + 5
        self._queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type == "security.certificate_issued" and event.station is not None:
            certificate_id = event.data.get("certificateId")
            if isinstance(certificate_id, int):
                self._queue.put_nowait((certificate_id, event.station))

    async def run(self) -> None:
        """Deliver issued certificates until cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                while True:
                    certificate_id, charge_point_id = await self._queue.get()
                    tasks.create_task(self._guarded(certificate_id, charge_point_id))
        finally:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    async def _guarded(self, certificate_id: int, charge_point_id: str) -> None:
        try:
            await self.deliver(certificate_id, charge_point_id)
        except Exception:
            log.exception("%s: delivering certificate %s failed", charge_point_id, certificate_id)

    async def deliver(self, certificate_id: int, charge_point_id: str) -> str:
        """Send one issued certificate and record the station's answer; the new state."""
        authority = ca.load(
            self.settings.data_dir, self.settings.station_ca_cert, self.settings.station_ca_key
        )
        async with self.sessions() as db:
            row = await db.get(StationCertificate, certificate_id)
            if row is None or row.state != "issued":
                return "gone" if row is None else row.state
            chain = row.certificate + authority.chain_tail
        try:
            command = await self.commands.send(
                charge_point_id,
                "CertificateSigned",
                {"certificateChain": chain},
                wait=None,
                requested_by="station-ca",
            )
        except (InvalidCommand, UnknownStation) as exc:
            log.error("%s: CertificateSigned not sent: %s", charge_point_id, exc)
            return await self._record(certificate_id, None, "error", str(exc)[:40])
        async with self.sessions() as db:
            row = await db.get(StationCertificate, certificate_id)
            assert row is not None
            row.state, row.command_id = "sent", command.id
            await db.commit()
        command = await self.commands.get(command.id, wait=self.wait)
        if command.state not in FINAL_STATES:
            return "sent"  # still unanswered: a later look at the command says more
        return await self._record(certificate_id, command.id, command.state, command.outcome)

    async def _record(
        self, certificate_id: int, command_id: str | None, state: str, outcome: str | None
    ) -> str:
        async with self.sessions() as db:
            row = await db.get(StationCertificate, certificate_id)
            assert row is not None
            new_state = service.certificate_answered(row, state, outcome)
            row.command_id = command_id or row.command_id
            row.answered_at = datetime.now(UTC)
            await db.commit()
            charge_point_id = await _charge_point_id(db, row.station_id)
            event = Event(
                "security.certificate_answered",
                {
                    "certificateId": row.id,
                    "serial": row.serial,
                    "state": new_state,
                    "outcome": outcome,
                },
                tenant_id=row.tenant_id,
                station=charge_point_id,
            )
        log.info("%s: certificate %s %s (%s)", charge_point_id, row.serial, new_state, outcome)
        self.bus.publish(event)
        return new_state


async def _charge_point_id(db: AsyncSession, station_id: int) -> str | None:
    station = await stations.by_id(db, station_id)
    return None if station is None else station.charge_point_id
