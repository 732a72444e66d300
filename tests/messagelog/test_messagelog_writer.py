"""The message log writer: batched, never blocking, surviving an unavailable database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from kilowatt import migrate
from kilowatt.db import create_engine, session_factory
from kilowatt.messagelog.models import OcppMessage
from kilowatt.messagelog.writer import MessageLogWriter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def log_heartbeats(writer: MessageLogWriter, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        writer.log(
            "CP1",
            "in",
            2,
            "Heartbeat",
            str(n),
            f'[2,"{n}","Heartbeat",{{}}]',
            at=T0 + timedelta(seconds=n),
        )


async def logged_ids(engine: AsyncEngine) -> list[str]:
    async with session_factory(engine)() as session:
        stmt = select(OcppMessage.message_id).order_by(OcppMessage.id)
        return [str(m) for m in (await session.scalars(stmt)).all()]


@pytest.fixture
def insert_batches(engine: AsyncEngine) -> list[int]:
    """The row count of every INSERT into ocpp_messages that reaches the driver."""
    batches: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OCPP_MESSAGES"):
            batches.append(len(params) if many else 1)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    return batches


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[MessageLogWriter]:
    writer = MessageLogWriter(session_factory(engine), batch_size=3, flush_interval=0.01)
    yield writer
    await writer.close()


async def test_flush_writes_everything_queued_in_batches(
    writer: MessageLogWriter, engine: AsyncEngine, insert_batches: list[int]
) -> None:
    log_heartbeats(writer, 7)
    assert writer.pending == 7

    await writer.flush()

    assert insert_batches == [3, 3, 1]
    assert await logged_ids(engine) == [str(n) for n in range(7)]
    assert (writer.pending, writer.written, writer.dropped) == (0, 7, 0)


async def test_rows_keep_what_was_logged(writer: MessageLogWriter, engine: AsyncEngine) -> None:
    writer.log(
        "CP1", "out", 4, None, "abc", '[4,"abc","NotImplemented","",{}]',
        error_code="NotImplemented", latency_ms=12.5, at=T0,
    )  # fmt: skip
    await writer.flush()

    async with session_factory(engine)() as session:
        row = (await session.scalars(select(OcppMessage))).one()
    assert (row.charge_point_id, row.direction, row.message_type, row.action) == (
        "CP1", "out", 4, None,
    )  # fmt: skip
    assert (row.error_code, row.latency_ms, row.created_at) == ("NotImplemented", 12.5, T0)


async def test_run_writes_in_the_background_until_closed(
    writer: MessageLogWriter, engine: AsyncEngine
) -> None:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        log_heartbeats(writer, 5)  # one full batch now, the rest after flush_interval
        await asyncio.wait_for(writer.drained(), timeout=10)
        log_heartbeats(writer, 2, start=5)
        await writer.close()  # ends run() and writes what is left
    assert task.done()
    assert await logged_ids(engine) == [str(n) for n in range(7)]


async def test_a_full_queue_drops_the_oldest(engine: AsyncEngine) -> None:
    writer = MessageLogWriter(session_factory(engine), batch_size=2, max_queue=5)
    log_heartbeats(writer, 8)
    assert (writer.pending, writer.dropped) == (5, 3)

    await writer.close()

    assert await logged_ids(engine) == ["3", "4", "5", "6", "7"]


async def test_station_supplied_strings_are_fitted_to_their_columns(
    writer: MessageLogWriter, engine: AsyncEngine
) -> None:
    writer.log("CP1", "in", 2, "A" * 100, "m" * 80, '[2,"x","A\x00",{}]', at=T0)
    await writer.flush()

    async with session_factory(engine)() as session:
        row = (await session.scalars(select(OcppMessage))).one()
    assert (row.action, row.message_id) == ("A" * 40, "m" * 50)
    assert row.frame == '[2,"x","A\ufffd",{}]'
    assert writer.rejected == 0


async def test_a_row_the_database_refuses_does_not_block_the_others(
    writer: MessageLogWriter, engine: AsyncEngine
) -> None:
    log_heartbeats(writer, 1)
    writer.log(None, "in", 2, "Heartbeat", "bad", "[]", at=T0)  # type: ignore[arg-type]
    log_heartbeats(writer, 1, start=1)

    await writer.flush()

    assert await logged_ids(engine) == ["0", "1"]
    assert (writer.written, writer.rejected, writer.pending) == (2, 1, 0)


def test_naive_timestamps_are_refused_at_once(writer: MessageLogWriter) -> None:
    with pytest.raises(ValueError, match="naive"):
        writer.log("CP1", "in", 2, "Heartbeat", "1", "[]", at=datetime(2026, 1, 1))
    assert writer.pending == 0


async def test_an_unavailable_database_keeps_the_rows_until_it_is_back(
    tmp_path: Path, fresh_database: Callable[[str], str]
) -> None:
    # A SQLite file in a directory that does not exist yet: every write fails.
    url = f"sqlite+aiosqlite:///{tmp_path / 'not-yet' / 'kilowatt.db'}"
    engine = create_engine(url)
    writer = MessageLogWriter(
        session_factory(engine), batch_size=2, max_queue=4, flush_interval=0.01,
        retry_initial=0.01, retry_max=0.05,
    )  # fmt: skip
    try:
        log_heartbeats(writer, 3)
        with pytest.raises(OperationalError):
            await writer.flush()
        assert (writer.pending, writer.failures, writer.dropped) == (3, 1, 0)

        log_heartbeats(writer, 3, start=3)  # past the bound: the oldest go
        assert (writer.pending, writer.dropped) == (4, 2)

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(writer.run())  # keeps failing and backing off
            await migrate.upgrade(url)  # the database appears
            await asyncio.wait_for(writer.drained(), timeout=10)
            assert not task.done()
            await writer.close()

        assert await logged_ids(engine) == ["2", "3", "4", "5"]
        assert (writer.written, writer.dropped) == (4, 2)
    finally:
        await writer.close()
        await engine.dispose()


async def test_close_counts_what_it_could_not_write(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'kilowatt.db'}")
    writer = MessageLogWriter(session_factory(engine))
    try:
        log_heartbeats(writer, 3)
        await writer.close()
        assert (writer.pending, writer.dropped, writer.written) == (0, 3, 0)
        log_heartbeats(writer, 1)  # after close: dropped, never queued
        assert (writer.pending, writer.dropped) == (0, 4)
    finally:
        await engine.dispose()
