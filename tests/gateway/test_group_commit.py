"""Group commit (kilowatt/gateway/group_commit.py): station messages that arrive together share
one transaction and one commit; a failing message fails alone; nothing is answered before it is
committed. On a real SQLite file or PostgreSQL database, with a probe table of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kilowatt.db import create_engine, session_factory
from kilowatt.events import Event, EventBus
from kilowatt.gateway.group_commit import GroupCommit
from kilowatt.live.capture import PENDING, EventSession, session_info
from kilowatt.metrics import Metrics

metadata = MetaData()
probe = Table(
    "group_commit_probe",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # Checked at COMMIT, not at the insert: a row naming a missing parent fails the whole batch.
    Column(
        "parent_id",
        Integer,
        ForeignKey("group_commit_probe.id", deferrable=True, initially="DEFERRED"),
        nullable=True,
    ),
)


class Probe:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.commits = 0
        event.listen(engine.sync_engine, "commit", self._committed)

    def _committed(self, _connection: Any) -> None:
        self.commits += 1

    async def ids(self) -> list[int]:
        async with self.engine.connect() as connection:
            return list((await connection.scalars(select(probe.c.id).order_by(probe.c.id))).all())

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(probe)) or 0)


@pytest.fixture
async def probe_db(db_backend: str, fresh_database: Callable[[str], str]) -> AsyncIterator[Probe]:
    engine = create_engine(fresh_database(db_backend))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield Probe(engine)
    finally:
        await engine.dispose()


def inserting(row_id: int, parent_id: int | None = None, *, fail: bool = False) -> Any:
    async def work(db: AsyncSession) -> int:
        await db.execute(insert(probe).values(id=row_id, parent_id=parent_id))
        if fail:
            raise ValueError(f"message {row_id} is refused")
        return row_id

    return work


async def test_messages_arriving_together_share_one_commit(probe_db: Probe) -> None:
    metrics = Metrics()
    group = GroupCommit(session_factory(probe_db.engine), metrics=metrics)
    try:
        results = await asyncio.gather(*(group.run(inserting(n)) for n in range(1, 51)))
    finally:
        await group.close()
    assert results == list(range(1, 51))
    assert await probe_db.ids() == list(range(1, 51))
    assert probe_db.commits == 1  # all 50 were queued before the writer ran: one transaction
    samples = {s.name: s.value for s in metrics.db_batch_messages.collect()[0].samples}
    assert samples["kilowatt_db_batch_messages_count"] == 1
    assert samples["kilowatt_db_batch_messages_sum"] == 50


async def test_a_failing_message_fails_alone(probe_db: Probe) -> None:
    group = GroupCommit(session_factory(probe_db.engine))
    try:
        outcomes = await asyncio.gather(
            *(group.run(inserting(n, fail=n == 7)) for n in range(1, 11)),
            return_exceptions=True,
        )
    finally:
        await group.close()
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], ValueError) and "7" in str(failed[0])
    assert await probe_db.ids() == [n for n in range(1, 11) if n != 7]  # its insert rolled back
    assert probe_db.commits == 1


async def test_a_batch_that_cannot_commit_is_applied_message_by_message(probe_db: Probe) -> None:
    group = GroupCommit(session_factory(probe_db.engine))
    try:
        outcomes = await asyncio.gather(
            *(group.run(inserting(n, parent_id=999 if n == 3 else None)) for n in range(1, 6)),
            return_exceptions=True,
        )
    finally:
        await group.close()
    # The missing parent fails the batch's COMMIT; each message is then applied alone. Had a
    # message's savepoint been committed on its own (SQLite outside an explicit transaction),
    # its second application would hit its own primary key and fail too.
    assert isinstance(outcomes[2], IntegrityError)
    assert [o for n, o in enumerate(outcomes) if n != 2] == [1, 2, 4, 5]
    assert await probe_db.ids() == [1, 2, 4, 5]


async def test_nothing_is_answered_before_its_commit(probe_db: Probe) -> None:
    group = GroupCommit(session_factory(probe_db.engine))
    observer = Probe(create_engine(probe_db.engine.url.render_as_string(hide_password=False)))
    visible_at_answer: list[bool] = []

    async def answered(row_id: int) -> None:
        await group.run(inserting(row_id))
        # Read on another connection, which sees committed rows only.
        visible_at_answer.append(row_id in await observer.ids())

    try:
        await asyncio.gather(*(answered(n) for n in range(1, 21)))
    finally:
        await group.close()
        await observer.engine.dispose()
    assert visible_at_answer == [True] * 20


async def test_the_events_of_a_failed_message_are_dropped_and_the_others_published(
    probe_db: Probe,
) -> None:
    bus = EventBus()
    published: list[str] = []
    bus.subscribe(lambda e: published.append(e.type))
    sessions = session_factory(
        probe_db.engine, sync_session_class=EventSession, info=session_info(bus, {})
    )
    group = GroupCommit(sessions)

    def raising_event(row_id: int, *, fail: bool) -> Any:
        async def work(db: AsyncSession) -> int:
            await db.execute(insert(probe).values(id=row_id))
            # As the capture's after_flush does for a changed charging session.
            db.sync_session.info.setdefault(PENDING, []).append(Event(f"probe.{row_id}"))
            if fail:
                raise ValueError("refused")
            return row_id

        return work

    try:
        await asyncio.gather(
            *(group.run(raising_event(n, fail=n == 2)) for n in (1, 2, 3)),
            return_exceptions=True,
        )
    finally:
        await group.close()
    assert published == ["probe.1", "probe.3"]


async def test_without_writers_each_message_commits_alone(probe_db: Probe) -> None:
    # writers=0, PostgreSQL's default: no grouping, no savepoints; a failure is its own.
    group = GroupCommit(session_factory(probe_db.engine), writers=0)
    outcomes = await asyncio.gather(
        *(group.run(inserting(n, fail=n == 2)) for n in (1, 2, 3)), return_exceptions=True
    )
    assert outcomes[0] == 1 and isinstance(outcomes[1], ValueError) and outcomes[2] == 3
    assert await probe_db.ids() == [1, 3]
    assert probe_db.commits == 2
