"""The OCPP message log writer: every frame in and out, written in batches off the hot path.

``log()`` only appends to a bounded in-memory queue; ``run()`` writes the queue in batches, one
executemany ``INSERT`` and one commit per batch (group commit, DESIGN.md decision 7). The log is
diagnostics, not a record of truth: when the database is unavailable the writer keeps the rows
and retries with back-off, and when the queue bound is reached it drops the oldest rows (and
counts them) rather than ever making the OCPP path wait.

Use it from one event loop (``log()`` is not thread-safe)::

    writer = MessageLogWriter(sessions)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(writer.run())
        ...
        await writer.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.messagelog.models import OcppMessage
from kilowatt.stations.security import redact_frame

logger = logging.getLogger(__name__)

_TABLE = cast(Table, OcppMessage.__table__)  # Core insert: no ORM work per row


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; a station may send one.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _clip(value: str | None, length: int) -> str | None:
    """Fit a station-supplied string into its column rather than fail the whole batch."""
    if value is None:
        return None
    return _text(value if len(value) <= length else value[:length])


class MessageLogWriter:
    """Queues OCPP frames for the ``ocpp_messages`` table and writes them in batches."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        max_queue: int = 100_000,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
    ) -> None:
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("need 1 <= batch_size <= max_queue")
        self._sessions = sessions
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._queue: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()  # something is queued, or we are closing
        self._batch_ready = asyncio.Event()  # a full batch is queued, or we are closing
        self._drained = asyncio.Event()  # the queue is empty and nothing is being written
        self._drained.set()
        self._closing = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._closed = False
        self._warned_full = False
        self.written = 0  # rows committed
        self.dropped = 0  # rows lost: queue full, or still queued when closing failed
        self.rejected = 0  # rows the database refused (a data error, never retried)
        self.failures = 0  # failed batch writes (each is retried)

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return len(self._queue)

    def log(
        self,
        charge_point_id: str,
        direction: str,
        message_type: int,
        action: str | None,
        message_id: str | None,
        frame: str,
        *,
        error_code: str | None = None,
        latency_ms: float | None = None,
        at: datetime,
    ) -> None:
        """Queue one frame; never blocks. ``at`` must be timezone-aware."""
        if at.tzinfo is None:
            raise ValueError("naive datetime given to the message log")
        if self._closed:
            self.dropped += 1
            return
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.dropped += 1
            if not self._warned_full:
                self._warned_full = True
                logger.warning("message log queue full (%d): dropping oldest", self._max_queue)
        self._queue.append(
            {
                "charge_point_id": _clip(charge_point_id, 255),
                "direction": direction,
                "message_type": message_type,
                "action": _clip(action, 40),
                "message_id": _clip(message_id, 50),
                # Station keys never reach the log (docs/security-profiles.md).
                "frame": _text(redact_frame(frame)),
                "error_code": _clip(error_code, 40),
                "latency_ms": latency_ms,
                "created_at": at,
            }
        )
        self._drained.clear()
        self._wakeup.set()
        if len(self._queue) >= self._batch_size:
            self._batch_ready.set()

    async def run(self) -> None:
        """Write queued rows until ``close()``: a batch when full or ``flush_interval`` after
        its first row; after a failed write, retry with exponential back-off."""
        delay = self._retry_initial
        while not self._closed:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if len(self._queue) < self._batch_size:
                self._batch_ready.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._flush_interval):
                        await self._batch_ready.wait()
            try:
                await self._write(limit=None)
            except Exception:
                logger.exception(
                    "message log write failed; %d rows kept, retry in %.1f s", self.pending, delay
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._closing.wait()
                delay = min(delay * 2, self._retry_max)
            else:
                delay = self._retry_initial

    async def flush(self) -> None:
        """Write every row queued now; raises the database error if that fails (rows kept)."""
        await self._write(limit=len(self._queue))

    async def drained(self) -> None:
        """Wait until every queued row is written (by ``run()`` or ``flush()``)."""
        await self._drained.wait()

    async def close(self) -> None:
        """Stop ``run()``, write what is queued, and count what cannot be written as dropped."""
        self._closed = True
        self._closing.set()
        self._wakeup.set()
        self._batch_ready.set()
        try:
            await self.flush()
        except Exception:
            logger.exception("message log: %d rows lost at close", self.pending)
            self.dropped += len(self._queue)
            self._queue.clear()

    async def _write(self, *, limit: int | None) -> None:
        async with self._write_lock:
            remaining = len(self._queue) if limit is None else min(limit, len(self._queue))
            while remaining > 0:
                size = min(remaining, self._batch_size, len(self._queue))
                if size == 0:
                    break
                batch = [self._queue.popleft() for _ in range(size)]
                try:
                    await self._insert(batch)
                except (IntegrityError, DataError):
                    await self._insert_one_by_one(batch)
                except BaseException:
                    self._requeue(batch)
                    self.failures += 1
                    raise
                remaining -= size
            if not self._queue:
                self._warned_full = False
                self._drained.set()

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._sessions() as session:
            await session.execute(insert(_TABLE), rows)
            await session.commit()
        self.written += len(rows)

    async def _insert_one_by_one(self, rows: list[dict[str, Any]]) -> None:
        """A batch the database refused: keep every row it accepts, count the others."""
        for index, row in enumerate(rows):
            try:
                await self._insert([row])
            except (IntegrityError, DataError):
                self.rejected += 1
                logger.exception("message log row rejected: %r", row)
            except BaseException:
                self._requeue(rows[index:])
                raise

    def _requeue(self, batch: list[dict[str, Any]]) -> None:
        """Put a failed batch back at the front, dropping its oldest rows past the bound."""
        room = self._max_queue - len(self._queue)
        if room < len(batch):
            self.dropped += len(batch) - room
            batch = batch[len(batch) - room :]
        self._queue.extendleft(reversed(batch))
