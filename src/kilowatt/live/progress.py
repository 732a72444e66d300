"""Live progress of charging sessions: the charger's MeterValues become ``session.updated``
events for the session's driver (energy, power, SoC, and the cost so far).

This runs off the OCPP path: the MeterValues handler only publishes what it read; here the
latest readings per transaction are coalesced (a burst costs one update, memory is bounded by
the running transactions), the session is looked up once and cached, and the cost estimate —
a database read and a pricing run — is refreshed at most every ``cost_every`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.billing import service as billing
from kilowatt.events import Event, EventBus
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import Transaction

log = logging.getLogger(__name__)

CACHE = 50_000  # transactions whose session we remember
# How long a transaction found without a driver's session is not looked up again. Most are
# started by a card at the charger and never get one; a session linked to one later (an
# offline start reconciled) shows its progress once this has passed.
UNOWNED_SECONDS = 30.0


class SessionProgress:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        *,
        cost_every: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.cost_every = cost_every
        self._latest: dict[int, Event] = {}  # transaction id -> newest meter_values event
        self._wake = asyncio.Event()
        # transaction id -> (session id, user id, tenant id, meter start Wh)
        self._owners: OrderedDict[int, tuple[int, int | None, int, int]] = OrderedDict()
        self._costed: dict[int, tuple[float, dict[str, Any] | None]] = {}
        self._unowned: OrderedDict[int, float] = OrderedDict()  # transaction id -> looked at
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type == "meter_values":
            transaction_id = event.data.get("transactionId")
            if isinstance(transaction_id, int):
                self._latest[transaction_id] = event
                self._wake.set()
        elif event.type in ("session.ended", "session.failed"):
            transaction_id = event.data.get("transactionId")
            if isinstance(transaction_id, int):
                self._costed.pop(transaction_id, None)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._latest = self._latest, {}
            for transaction_id, reading in batch.items():
                try:
                    await self._publish(transaction_id, reading)
                except Exception:
                    log.exception("live progress of transaction %s failed", transaction_id)

    async def _owner(self, transaction_id: int) -> tuple[int, int | None, int, int] | None:
        if transaction_id in self._owners:
            self._owners.move_to_end(transaction_id)
            return self._owners[transaction_id]
        looked = self._unowned.get(transaction_id)
        if looked is not None and time.monotonic() - looked < UNOWNED_SECONDS:
            return None
        async with self.sessions() as db:
            row = (
                await db.execute(
                    select(
                        ChargingSession.id,
                        ChargingSession.user_id,
                        ChargingSession.tenant_id,
                        Transaction.meter_start,
                    )
                    .join(Transaction, Transaction.id == ChargingSession.transaction_id)
                    .where(ChargingSession.transaction_id == transaction_id)
                )
            ).first()
        if row is None:  # no driver's session (yet): asked again after UNOWNED_SECONDS
            self._unowned[transaction_id] = time.monotonic()
            self._unowned.move_to_end(transaction_id)
            if len(self._unowned) > CACHE:
                self._unowned.popitem(last=False)
            return None
        self._unowned.pop(transaction_id, None)
        owner = (row[0], row[1], row[2], row[3])
        self._owners[transaction_id] = owner
        if len(self._owners) > CACHE:
            self._owners.popitem(last=False)
        return owner

    async def _cost(self, transaction_id: int, session_id: int) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._costed.get(transaction_id)
        if cached is not None and now - cached[0] < self.cost_every:
            return cached[1]
        async with self.sessions() as db:
            session = await db.get(ChargingSession, session_id)
            tx = await db.get(Transaction, transaction_id)
            if session is None or tx is None or session.state != "active":
                return None
            estimate = await billing.estimate(db, session, tx, now=datetime.now(UTC))
        cost = (
            None
            if estimate is None
            else {
                "status": "estimated",
                "currency": estimate.currency,
                "total": str(estimate.total),
            }
        )
        self._costed[transaction_id] = (now, cost)
        return cost

    async def _publish(self, transaction_id: int, reading: Event) -> None:
        owner = await self._owner(transaction_id)
        if owner is None:
            return
        session_id, user_id, tenant_id, meter_start = owner
        energy = reading.data.get("energyWh")
        self.bus.publish(
            Event(
                "session.updated",
                {
                    "sessionId": session_id,
                    "state": "active",
                    "transactionId": transaction_id,
                    "energyWh": None if energy is None else int(energy) - meter_start,
                    "powerW": reading.data.get("powerW"),
                    "socPercent": reading.data.get("socPercent"),
                    "readingAt": reading.data.get("timestamp"),
                    "cost": await self._cost(transaction_id, session_id),
                },
                tenant_id=tenant_id,
                user_id=user_id,
                station=reading.station,
                connector_id=reading.connector_id,
            )
        )
