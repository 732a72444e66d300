"""Reading and pruning the message log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.messagelog import repository
from kilowatt.messagelog.models import OcppMessage

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def add_frames(session: AsyncSession, charge_point_id: str, minutes: range) -> None:
    await session.execute(
        insert(OcppMessage),
        [
            {
                "charge_point_id": charge_point_id,
                "direction": "in",
                "message_type": 2,
                "action": "Heartbeat",
                "message_id": f"{charge_point_id}-{m}",
                "frame": "[]",
                "created_at": T0 + timedelta(minutes=m),
            }
            for m in minutes
        ],
    )


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(OcppMessage)) or 0


async def test_recent_is_newest_first_for_one_station(db_session: AsyncSession) -> None:
    await add_frames(db_session, "CP1", range(5))
    await add_frames(db_session, "CP2", range(5, 8))

    frames = await repository.recent(db_session, "CP1", limit=3)

    assert [f.message_id for f in frames] == ["CP1-4", "CP1-3", "CP1-2"]
    assert frames[0].created_at == T0 + timedelta(minutes=4)


async def test_prune_deletes_only_older_frames(db_session: AsyncSession) -> None:
    await add_frames(db_session, "CP1", range(10))

    deleted = await repository.prune(db_session, T0 + timedelta(minutes=4))

    assert deleted == 4
    assert await count(db_session) == 6
    assert [f.message_id for f in await repository.recent(db_session, "CP1")][-1] == "CP1-4"


async def test_prune_with_a_limit_takes_the_oldest_first(db_session: AsyncSession) -> None:
    await add_frames(db_session, "CP1", range(10))
    cutoff = T0 + timedelta(minutes=7)

    assert await repository.prune(db_session, cutoff, limit=3) == 3
    assert await repository.prune(db_session, cutoff, limit=3) == 3
    assert await repository.prune(db_session, cutoff, limit=3) == 1
    assert await repository.prune(db_session, cutoff, limit=3) == 0
    remaining = [f.message_id for f in await repository.recent(db_session, "CP1")]
    assert remaining == ["CP1-9", "CP1-8", "CP1-7"]
