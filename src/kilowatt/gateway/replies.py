"""Stored replies: a retried transaction message gets the reply it already got, and changes nothing.

The reply to StartTransaction, StopTransaction and MeterValues is written with the station and
the message id in the same database transaction as the message's effect (DESIGN.md decision 3).
A station that did not see our reply (the connection dropped, the node was killed) sends the
message again, usually with the same message id, possibly to another node: that retry finds the
stored reply and gets it back unchanged. A reused id with a *different* payload (a station whose
message counter restarted) is a new message and is handled as one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import CursorResult, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.ocpp.v16 import encode
from kilowatt.transactions.models import OcppReply

# The CALLs whose replies are stored: the ones whose loss or repetition changes a bill.
STORED_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
RETENTION_DAYS = 7


def request_hash(raw: dict[str, Any]) -> str:
    """A stable digest of a request payload (key order does not matter)."""
    return hashlib.sha256(msgspec.json.encode(raw, order="sorted")).hexdigest()


def as_json(response: msgspec.Struct | dict[str, Any]) -> dict[str, Any]:
    """A handler's response as the JSON object that goes on the wire."""
    if isinstance(response, dict):
        return response
    return encode(response)


async def find(db: AsyncSession, station_id: int, message_id: str) -> OcppReply | None:
    return await db.scalar(
        select(OcppReply).where(
            OcppReply.station_id == station_id, OcppReply.message_id == message_id
        )
    )


async def store(
    db: AsyncSession,
    *,
    station_id: int,
    message_id: str,
    action: str,
    digest: str,
    reply: dict[str, Any],
    now: datetime,
    replace: bool = False,
) -> None:
    """Add the reply to the current transaction (at once: a duplicate raises IntegrityError)."""
    if replace:
        await db.execute(
            delete(OcppReply).where(
                OcppReply.station_id == station_id, OcppReply.message_id == message_id
            )
        )
    # A Core insert, not an ORM object: this is on every transaction message's path.
    await db.execute(
        insert(OcppReply).values(
            station_id=station_id,
            message_id=message_id,
            action=action,
            request_hash=digest,
            reply=reply,
            created_at=now,
        )
    )


async def prune(db: AsyncSession, older_than: datetime, *, limit: int = 10_000) -> int:
    """Delete at most ``limit`` replies stored before ``older_than``; how many."""
    oldest = (
        select(OcppReply.id)
        .where(OcppReply.created_at < older_than)
        .order_by(OcppReply.created_at)
        .limit(limit)
    )
    result = cast(
        CursorResult[Any],
        await db.execute(
            delete(OcppReply)
            .where(OcppReply.id.in_(oldest.scalar_subquery()))
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount
