"""Group commit: the receive loop's database work shares transactions, and their commits.

Every CALL a station sends is handled in a database transaction that commits before the reply
goes out (DESIGN.md decision 3). One commit per message makes the commit, an fsync on SQLite
and a round trip plus a WAL flush on PostgreSQL, the ceiling of the whole node. Here the
messages that arrive while a commit is in flight wait for the next one together: a writer
takes everything queued (up to ``max_batch``), runs each message's work in its own savepoint of
one transaction, commits once, and only then answers them all.

- A message whose work fails is rolled back to its savepoint and gets its own error; the
  others in the batch are unaffected.
- If the batch itself fails (the commit, or an error that poisons the transaction), each
  message is run again alone in its own transaction, so one bad message never fails the rest.
  An unreachable database fails them all at once instead (the journal takes them from there,
  docs/durability.md).
- A station's messages are answered one at a time (its connection awaits each reply), so
  batching never reorders one station's messages.

SQLite has a single writer and an fsync per commit: one writer task. PostgreSQL already groups
the WAL flushes of concurrent commits itself, and while handlers are ORM work bound by this
process's CPU, a savepoint per message costs more than the shared commit saves (measured:
docs/performance.md). So there ``writers=0`` (the default) runs each message in its own
transaction, concurrently over the pool, as before; ``KILOWATT_DB_WRITERS=N`` forces N
group-commit writers on either database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.journal.durability import is_unavailable
from kilowatt.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]

MAX_BATCH = 256


@dataclass(eq=False, slots=True)
class _Item(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    value: Any = None
    error: BaseException | None = field(default=None)


class GroupCommit:
    """Runs database work in shared transactions; ``run`` returns once the work is committed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        writers: int = 1,
        max_batch: int = MAX_BATCH,
        metrics: Metrics | None = None,
    ) -> None:
        if writers < 0 or max_batch < 1:
            raise ValueError("group commit needs writers >= 0 (0: no grouping) and a batch >= 1")
        self.sessions = sessions
        self.writers = writers
        self.max_batch = max_batch
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Item[Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._sqlite: bool | None = None

    async def run(self, work: Work[T]) -> T:
        """Run ``work(db)`` in a transaction shared with other work; its result once committed.

        ``work`` may run more than once (alone, after its batch failed), each time on a fresh
        transaction, so it must keep its effects in the database session it is given.
        """
        if self.writers == 0:
            return await self._alone(work)
        if not self._tasks:
            self._start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(work, future))
        return await future

    async def _alone(self, work: Work[T]) -> T:
        """No grouping: the work in a transaction of its own."""
        self.metrics.db_batch_messages.observe(1)
        async with self.sessions() as db:
            value = await work(db)
            committing = time.perf_counter()
            await db.commit()
            self.metrics.db_commit_seconds.observe(time.perf_counter() - committing)
        return value

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._writer(), name=f"group-commit-{n}")
            for n in range(self.writers)
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(ConnectionError("the node is shutting down"))

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [item for item in batch if not item.future.done()]  # callers gone: skip
            if not live:
                continue
            try:
                await self._commit(live)
            except asyncio.CancelledError:
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(ConnectionError("the node is shutting down"))
                raise
            except Exception:  # never lose the writer: every item has its outcome by now
                log.exception("group commit failed")
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(ConnectionError("group commit failed"))

    async def _commit(self, batch: list[_Item[Any]]) -> None:
        self.metrics.db_batch_messages.observe(len(batch))
        retry: list[_Item[Any]] = []
        try:
            async with self.sessions() as db:
                await self._begin(db)
                for item in batch:
                    item.value, item.error = None, None
                    try:
                        async with db.begin_nested():
                            item.value = await item.work(db)
                    except Exception as exc:
                        if is_unavailable(exc):
                            raise
                        item.error = exc
                        if len(batch) > 1 and _conflict(exc):
                            retry.append(item)  # lost a lock to another batch: alone, after
                committing = time.perf_counter()
                await db.commit()
                self.metrics.db_commit_seconds.observe(time.perf_counter() - committing)
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                for item in batch:
                    _settle(item, None, exc)
                return
            log.warning(
                "a batch of %d messages failed (%s); applying them one by one", len(batch), exc
            )
            for item in batch:
                await self._commit([item])
            return
        for item in batch:
            if item not in retry:
                _settle(item, item.value, item.error)
        for item in retry:
            await self._commit([item])

    async def _begin(self, db: AsyncSession) -> None:
        # Python's sqlite3 opens a transaction only before a write, and a SAVEPOINT outside one
        # is a transaction of its own that its RELEASE commits: one commit per message again.
        # Open the transaction explicitly, and take the write lock now rather than on the first
        # write (a read-then-write upgrade can fail at once with SQLITE_BUSY).
        if self._sqlite is None:
            self._sqlite = db.get_bind().dialect.name == "sqlite"
        if self._sqlite:
            await db.execute(text("BEGIN IMMEDIATE"))


# PostgreSQL's deadlock_detected and serialization_failure: another transaction won a lock.
CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})


def _conflict(exc: BaseException) -> bool:
    """Whether ``exc`` says the work lost a lock to concurrent work (and may succeed alone)."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code in CONFLICT_SQLSTATES


def _settle(item: _Item[Any], value: Any, error: BaseException | None) -> None:
    if item.future.done():
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(value)
