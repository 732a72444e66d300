"""Transaction ids reserved in advance, so that a node can start transactions without the database.

A StartTransaction.conf must carry our ``transactionId``. While the database is reachable the
row's own id is used as usual; for an outage each node holds a block of ids reserved in
``transaction_id_blocks`` (and mirrored in ``id-block.json`` next to its journal, so a node
restarted during an outage still has it). Ids handed out are recorded in the journal entries
themselves, so after a restart the node knows which ids of its block are taken.

PostgreSQL: blocks are cut from ``POSTGRES_BASE`` up (the table locked while one is cut, so two
nodes never share ids), a range the transactions' own sequence does not reach; ordinary ids are
untouched. SQLite (single node): the block is placed ``SQLITE_GAP`` above the highest id
in use, because SQLite gives a new row ``max(id) + 1``; the block is moved up when ordinary ids
come within half the gap, and replaced after each replay that used ids of it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.journal.file import Entry
from kilowatt.transactions.models import Transaction, TransactionIdBlock

log = logging.getLogger(__name__)

BLOCK_SIZE = 1000
SQLITE_GAP = 1_000_000
# PostgreSQL: offline ids from here up; the transactions' sequence stays far below it.
POSTGRES_BASE = 1_000_000_000


def _ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for value in sorted(ids):
        if result and value == result[-1][1] + 1:
            result[-1] = (result[-1][0], value)
        else:
            result.append((value, value))
    return result


@dataclass
class TransactionIds:
    node_id: str
    path: Path
    ranges: list[tuple[int, int]] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    def load(self, entries: Iterable[Entry]) -> None:
        """The block saved next to the journal, minus the ids its entries already hold."""
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
                self.ranges = [(int(a), int(b)) for a, b in saved["ranges"]]
            except (ValueError, KeyError, TypeError):
                log.error("%s is unreadable; a new block will be reserved", self.path)
                self.ranges = []
        self.used = {
            int(entry.reply["transactionId"])
            for entry in entries
            if entry.action == "StartTransaction" and "transactionId" in entry.reply
        }

    @property
    def available(self) -> int:
        total = sum(last - first + 1 for first, last in self.ranges)
        return total - sum(1 for value in self.used if self._inside(value))

    def _inside(self, value: int) -> bool:
        return any(first <= value <= last for first, last in self.ranges)

    def take(self) -> int | None:
        """The next free id of the block (recorded as used), or None if the block is spent."""
        for first, last in self.ranges:
            for value in range(first, last + 1):
                if value not in self.used:
                    self.used.add(value)
                    return value
        return None

    def forget_used(self) -> None:
        """The journal was applied: the ids it held are rows now, and leave the block for good."""
        if not self.used:
            return
        remaining = [v for first, last in self.ranges for v in range(first, last + 1)]
        self.ranges = _ranges(v for v in remaining if v not in self.used)
        self.used = set()
        self._save()

    async def reserve(self, db: AsyncSession, *, size: int = BLOCK_SIZE) -> None:
        """Reserve a fresh block (the caller commits), replacing what is left of the old one."""
        highest_block = await db.scalar(select(func.max(TransactionIdBlock.last_id))) or 0
        if db.get_bind().dialect.name == "postgresql":
            # Nodes reserve one after another; the sequence never reaches this range.
            await db.execute(text("LOCK TABLE transaction_id_blocks IN EXCLUSIVE MODE"))
            highest_block = await db.scalar(select(func.max(TransactionIdBlock.last_id))) or 0
            first = max(POSTGRES_BASE, highest_block) + 1
        else:
            highest_tx = await db.scalar(select(func.max(Transaction.id))) or 0
            first = max(highest_tx + SQLITE_GAP, highest_block) + 1
        ranges = [(first, first + size - 1)]
        now = datetime.now(UTC)
        for first, last in ranges:
            db.add(
                TransactionIdBlock(
                    node_id=self.node_id, first_id=first, last_id=last, reserved_at=now
                )
            )
        await db.flush()
        self.ranges = ranges
        self.used = {value for value in self.used if self._inside(value)}
        self._save()
        log.info("reserved %d transaction ids for offline starts (%s)", size, ranges[0])

    async def needs_block(self, db: AsyncSession) -> bool:
        """Whether to reserve now: the block is low, or (SQLite) ordinary ids come near it."""
        if self.available < BLOCK_SIZE // 2:
            return True
        if db.get_bind().dialect.name == "postgresql":
            return False
        highest_tx = await db.scalar(select(func.max(Transaction.id))) or 0
        lowest_free = min(first for first, _ in self.ranges)
        return lowest_free - highest_tx < SQLITE_GAP // 2

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        with open(temp, "w") as out:
            json.dump({"node": self.node_id, "ranges": self.ranges}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
