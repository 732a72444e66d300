"""Transaction ids reserved for offline starts: never an id the database gives out itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.journal.file import Entry
from kilowatt.journal.ids import BLOCK_SIZE, TransactionIds


def _start(seq: int, transaction_id: int) -> Entry:
    return Entry(
        seq=seq,
        station_id=1,
        tenant_id=1,
        charge_point_id="CP",
        message_id=str(seq),
        action="StartTransaction",
        payload={},
        reply={"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}},
        request_hash="h",
        received_at="2026-11-27T23:00:00+00:00",
    )


async def test_a_block_survives_a_restart_minus_the_ids_the_journal_holds(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    ids = TransactionIds("node-a", tmp_path / "id-block.json")
    ids.load([])
    assert ids.take() is None  # no block yet: an offline start cannot be answered
    await ids.reserve(db_session)
    await db_session.commit()
    assert ids.available == BLOCK_SIZE
    first, second = ids.take(), ids.take()
    assert first is not None and second == first + 1
    # A restart: the journal holds the two starts answered with these ids.
    again = TransactionIds("node-a", tmp_path / "id-block.json")
    again.load([_start(1, first), _start(2, second)])
    assert again.take() == second + 1
    assert again.available == BLOCK_SIZE - 3


async def test_two_nodes_never_share_ids(db_session: AsyncSession, tmp_path: Path) -> None:
    a = TransactionIds("node-a", tmp_path / "a.json")
    b = TransactionIds("node-b", tmp_path / "b.json")
    await a.reserve(db_session)
    await db_session.commit()
    await b.reserve(db_session)
    await db_session.commit()
    (a_first, a_last), (b_first, b_last) = a.ranges[0], b.ranges[0]
    assert a_last < b_first or b_last < a_first
