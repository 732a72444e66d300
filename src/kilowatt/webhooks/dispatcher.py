"""Deliver domain events to operators' back-office systems (signed, retried, logged).

Three stages, so that nothing on the OCPP path ever waits for a receiver:

1. the bus callback (``_on_event``) only puts the event on a bounded queue; when the queue is
   full the event is dropped, counted (``dropped``) and logged;
2. the recorder turns queued events into durable ``webhook_deliveries`` rows, in batches: one
   row per active subscription of the event's tenant whose event types match (events without
   a tenant go nowhere);
3. the scheduler starts one *lane* per subscription with deliveries due; a lane sends that
   subscription's due deliveries one at a time (so a slow or dead receiver holds up only its
   own subscription), claiming each with a conditional UPDATE so that two nodes never send the
   same attempt. A 2xx is delivered; anything else is retried after
   ``KILOWATT_WEBHOOK_RETRY_DELAYS`` and then failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt import __version__
from kilowatt.config import Settings
from kilowatt.db import utcnow
from kilowatt.events import Event, EventBus
from kilowatt.webhooks import repository
from kilowatt.webhooks.models import WebhookAttempt
from kilowatt.webhooks.service import body_of, delivery_row, matches
from kilowatt.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

BATCH = 500  # events recorded per transaction
MAX_LANES = 50  # subscriptions sent to at once by one node
# A claim older than this was left by a node that stopped mid-attempt (attempts end after the
# timeout): due again. The receiver may then see the delivery twice, with the same webhook-id.
STALE_CLAIM = timedelta(minutes=5)
ERROR_LENGTH = 500
JITTER = 0.1  # retries wait up to 10 % longer, so that failed deliveries do not return in step
GONE = 410  # Standard Webhooks: the receiver wants no more deliveries


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None  # None: delivered (a 2xx)


class WebhookDispatcher:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.settings = settings
        self.retry_delays = settings.webhook_retry_delays
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=settings.webhook_queue_size)
        self.dropped = 0  # events lost: the queue was full, or recording them failed
        self.recorded = 0  # deliveries recorded
        # Attempts by the state they left their delivery in: delivered, pending (a retry is
        # due), failed. ``progress`` is set after each one (monitors and tests wait on it, and
        # clear it themselves).
        self.outcomes: Counter[str] = Counter()
        self.progress = asyncio.Event()
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout,
            follow_redirects=False,
            headers={"user-agent": f"Kilowatt-Webhooks/{__version__}"},
        )
        self._queued = asyncio.Event()  # something was queued, or we are closing
        self._wake = asyncio.Event()  # deliveries may be due
        self._stopping = asyncio.Event()
        self._recorder_done = asyncio.Event()
        self._running = False
        self._overflowing = False
        self._busy: set[int] = set()  # subscriptions with a lane on this node
        self._lanes: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)

    # ---- stage 1: the bus callback (never blocks, never does I/O) ------------------------------
    def _on_event(self, event: Event) -> None:
        if event.tenant_id is None or self._stopping.is_set():
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "webhook queue full (%d events): dropping events until it drains",
                    self.queue.maxsize,
                )
            return
        self._queued.set()

    def wake(self) -> None:
        """Look for due deliveries now (a subscription was switched on, …)."""
        self._wake.set()

    # ---- running and stopping ------------------------------------------------------------------
    async def run(self) -> None:
        """Record and deliver events until cancelled."""
        self._running = True
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._record_loop(), name="webhook-recorder")
                tasks.create_task(self._schedule_loop(tasks), name="webhook-scheduler")
        finally:
            self._recorder_done.set()
            await self.client.aclose()

    async def close(self) -> None:
        """Stop accepting events; pending deliveries stay recorded for the next start."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stopping.set()
        self._queued.set()
        self._wake.set()
        if not self._running:
            return
        # What is queued is recorded, and attempts under way end (or time out) on their own.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._recorder_done.wait()
        if self._lanes:
            await asyncio.wait(set(self._lanes), timeout=self.settings.webhook_timeout + 1)

    # ---- stage 2: events -> deliveries ---------------------------------------------------------
    async def _record_loop(self) -> None:
        try:
            while True:
                await self._queued.wait()
                self._queued.clear()
                while not self.queue.empty():
                    batch = [self.queue.get_nowait() for _ in range(min(BATCH, self.queue.qsize()))]
                    await self._record(batch)
                if self._overflowing:
                    self._overflowing = False
                    log.warning("webhook queue drained; %d events dropped so far", self.dropped)
                if self._stopping.is_set():
                    return
        finally:
            self._recorder_done.set()

    async def _record(self, batch: list[Event]) -> None:
        tenants = {event.tenant_id for event in batch if event.tenant_id is not None}
        try:
            async with self.sessions() as db:
                subscriptions = await repository.active_subscriptions(db, tenants)
                now = utcnow()
                rows = []
                for event in batch:
                    body: str | None = None
                    for subscription_id, tenant_id, patterns in subscriptions:
                        if tenant_id == event.tenant_id and matches(patterns, event.type):
                            body = body or body_of(event)
                            rows.append(delivery_row(subscription_id, event, body, now))
                if rows:
                    await repository.add_deliveries(db, rows)
                    await db.commit()
        except Exception:
            self.dropped += len(batch)
            log.exception("could not record %d events for webhooks; they are lost", len(batch))
            return
        self.recorded += len(rows)
        if rows:
            self._wake.set()

    # ---- stage 3: deliveries -> receivers ------------------------------------------------------
    async def _schedule_loop(self, tasks: asyncio.TaskGroup, every: float = 30.0) -> None:
        last_release = last_prune = float("-inf")
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a wake-up during it means another pass
            idle = every
            try:
                if time.monotonic() - last_release > 60:
                    last_release = time.monotonic()
                    await self._release_stale_claims()
                if time.monotonic() - last_prune > 3600:
                    last_prune = time.monotonic()
                    await self._prune()
                if await self._start_lanes(tasks):
                    idle = await self._idle_for(every)
                # else: every lane is taken; one that ends wakes us
            except Exception:
                log.exception("webhook scheduler failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)

    async def _start_lanes(self, tasks: asyncio.TaskGroup) -> bool:
        """Start a lane for each idle subscription with a delivery due; False when there is no
        room for more lanes."""
        room = MAX_LANES - len(self._lanes)
        if room <= 0:
            return False
        async with self.sessions() as db:
            due = await repository.due_subscriptions(db, utcnow(), busy=self._busy, limit=room)
        for subscription_id in due:
            self._busy.add(subscription_id)
            lane = tasks.create_task(self._lane(subscription_id), name="webhook-lane")
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)
        return True

    async def _lane(self, subscription_id: int) -> None:
        """Send the subscription's due deliveries, one at a time, until none is due."""
        try:
            while not self._stopping.is_set():
                async with self.sessions() as db:
                    delivery_id = await repository.next_due(db, subscription_id, utcnow())
                if delivery_id is None:
                    return
                await self.attempt(delivery_id)
        except Exception:
            log.exception("webhook lane of subscription %d failed", subscription_id)
        finally:
            self._busy.discard(subscription_id)
            self._wake.set()

    async def _idle_for(self, every: float) -> float:
        """Seconds until the next retry of an idle subscription falls due (at most ``every``)."""
        async with self.sessions() as db:
            next_at = await repository.next_attempt_at(db, busy=self._busy)
        if next_at is None:
            return every
        return max(0.0, min(every, (next_at - utcnow()).total_seconds()))

    async def _release_stale_claims(self) -> None:
        now = utcnow()
        async with self.sessions() as db:
            released = await repository.release_stale_claims(db, now - STALE_CLAIM, now)
            await db.commit()
        if released:
            log.warning("released %d webhook deliveries left mid-attempt", released)

    async def _prune(self) -> None:
        """Keep the delivery log to ``KILOWATT_WEBHOOK_RETENTION_DAYS`` (0: keep everything)."""
        days = self.settings.webhook_retention_days
        if days <= 0:
            return
        before = utcnow() - timedelta(days=days)
        while True:  # in batches, so that SQLite's write lock is never held for long
            async with self.sessions() as db:
                removed = await repository.prune_finished(db, before, limit=1000)
                await db.commit()
            if removed < 1000:
                return

    # ---- one attempt ---------------------------------------------------------------------------
    async def attempt(
        self, delivery_id: int, *, claim_from: str | None = "pending", scheduled: bool = True
    ) -> bool:
        """Claim the delivery (from ``claim_from``; None: the caller holds it already), POST it,
        and record the outcome. ``scheduled``: a failure is retried on the schedule and counts
        towards switching the subscription off; otherwise (a test-fire, an operator's
        redelivery) it just ends ``failed``. False if the claim was lost."""
        now = utcnow()
        async with self.sessions() as db:
            if claim_from is not None:
                claimed = await repository.claim(
                    db, delivery_id, claim_from, now, due_only=claim_from == "pending"
                )
                await db.commit()
                if not claimed:
                    return False
            target = await repository.delivery_and_target(db, delivery_id)
        if target is None:
            return False  # its subscription was deleted meanwhile
        delivery, url, secret = target
        outcome = await self._post(url, secret, delivery.message_id, delivery.body.encode())
        await self._record_outcome(
            delivery.id, delivery.subscription_id, delivery.attempts + 1, outcome, scheduled
        )
        return True

    async def _post(self, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            **signed_headers(secret, message_id, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # One deadline for the whole attempt: connecting, sending and the answer's headers.
            async with asyncio.timeout(self.settings.webhook_timeout):
                async with self.client.stream("POST", url, content=body, headers=headers) as answer:
                    status = answer.status_code  # the body is not read: nothing of it is kept
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.settings.webhook_timeout:g} s"
        except Exception as exc:  # every way a request can fail is an outcome, not a crash
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = round((time.perf_counter() - started) * 1000)
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (redirects are not followed)"
        return Outcome(status, duration_ms, None if error is None else error[:ERROR_LENGTH])

    async def _record_outcome(
        self,
        delivery_id: int,
        subscription_id: int,
        number: int,
        outcome: Outcome,
        scheduled: bool,
    ) -> None:
        now = utcnow()
        gone = outcome.status_code == GONE
        values: dict[str, object] = {
            "attempts": number,
            "last_status_code": outcome.status_code,
            "last_duration_ms": outcome.duration_ms,
            "last_error": outcome.error,
            "updated_at": now,
            "next_attempt_at": None,
        }
        if outcome.error is None:
            values.update(state="delivered", delivered_at=now)
        elif scheduled and not gone and number <= len(self.retry_delays):
            delay = self.retry_delays[number - 1] * (1 + random.uniform(0, JITTER))
            values.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
        else:
            values.update(state="failed")
        attempt = WebhookAttempt(
            delivery_id=delivery_id,
            number=number,
            at=now,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
        )
        try:
            async with self.sessions() as db:
                if not await repository.finish_attempt(db, delivery_id, values, attempt):
                    return  # deleted with its subscription
                if values["state"] == "delivered":
                    await repository.reset_failures(db, subscription_id)
                elif values["state"] == "failed" and (scheduled or gone):
                    await self._count_failure(db, subscription_id, gone, now)
                await db.commit()
        except IntegrityError:  # the subscription (and the delivery) were deleted meanwhile
            log.info("webhook delivery %d vanished before its outcome was stored", delivery_id)
            return
        self.outcomes[str(values["state"])] += 1
        self.progress.set()

    async def _count_failure(
        self, db: AsyncSession, subscription_id: int, gone: bool, now: datetime
    ) -> None:
        failures = await repository.count_failure(db, subscription_id)
        limit = self.settings.webhook_disable_after
        if gone:
            reason = "the receiver answered 410 Gone"
        elif limit > 0 and failures >= limit:
            reason = f"{failures} deliveries in a row failed"
        else:
            return
        if await repository.switch_off(db, subscription_id, reason, now):
            log.warning("webhook subscription %d switched off: %s", subscription_id, reason)


__all__ = ["Outcome", "WebhookDispatcher"]
