"""Queries over the OCPP message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kilowatt.messagelog.models import OcppMessage


async def recent(
    session: AsyncSession, charge_point_id: str, limit: int = 100
) -> Sequence[OcppMessage]:
    """The station's last ``limit`` frames, newest first."""
    stmt = (
        select(OcppMessage)
        .where(OcppMessage.charge_point_id == charge_point_id)
        .order_by(OcppMessage.created_at.desc(), OcppMessage.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def prune(session: AsyncSession, older_than: datetime, *, limit: int | None = None) -> int:
    """Delete frames logged before ``older_than`` (retention); how many were deleted.

    With ``limit``, at most that many (the oldest): call it in a loop, committing in between,
    so a large clean-up never holds SQLite's write lock for long.
    """
    condition = OcppMessage.created_at < older_than
    if limit is not None:
        oldest = (
            select(OcppMessage.id).where(condition).order_by(OcppMessage.created_at).limit(limit)
        )
        condition = OcppMessage.id.in_(oldest.scalar_subquery())
    stmt = delete(OcppMessage).where(condition).execution_options(synchronize_session=False)
    result = cast(CursorResult[Any], await session.execute(stmt))
    return result.rowcount


def _transaction_patterns(transaction_id: int) -> list[str]:
    """LIKE patterns of ``"transactionId":<id>`` in a stored frame, as compact JSON or with a
    space after the colon, and followed by the end of the number (so 5 does not find 50)."""
    return [
        f'%"transactionId":{space}{transaction_id}{end}%'
        for space in ("", " ")
        for end in (",", "}", " ", "\n", "\r", "\t")
    ]


async def search(
    session: AsyncSession,
    charge_point_id: str,
    *,
    limit: int = 100,
    action: str | None = None,
    direction: str | None = None,
    message_type: int | None = None,
    errors_only: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    transaction_id: int | None = None,
) -> Sequence[OcppMessage]:
    """The station's frames matching every filter given, newest first, at most ``limit``.

    ``action`` also finds the answers to the calls of that action (an outgoing CALLRESULT does
    not name its action: it is matched by the message id of the call). ``errors_only``: frames
    with an error code (CALLERRORs either way, frames that could not be accepted).
    ``transaction_id``: frames whose payload holds ``"transactionId": <id>`` (the stored text,
    so that this works the same on SQLite and PostgreSQL).
    """
    conditions: list[ColumnElement[bool]] = [OcppMessage.charge_point_id == charge_point_id]
    if since is not None:
        conditions.append(OcppMessage.created_at >= since)
    if until is not None:
        conditions.append(OcppMessage.created_at < until)
    if action is not None:
        call = aliased(OcppMessage)
        calls = select(call.message_id).where(
            call.charge_point_id == charge_point_id,
            call.action == action,
            call.message_type == 2,
            *([call.created_at >= since] if since is not None else []),
            *([call.created_at < until] if until is not None else []),
        )
        conditions.append(
            or_(
                OcppMessage.action == action,
                OcppMessage.action.is_(None) & OcppMessage.message_id.in_(calls.scalar_subquery()),
            )
        )
    if direction is not None:
        conditions.append(OcppMessage.direction == direction)
    if message_type is not None:
        conditions.append(OcppMessage.message_type == message_type)
    if errors_only:
        conditions.append(OcppMessage.error_code.is_not(None))
    if transaction_id is not None:
        conditions.append(
            or_(*(OcppMessage.frame.like(p) for p in _transaction_patterns(transaction_id)))
        )
    stmt = (
        select(OcppMessage)
        .where(*conditions)
        .order_by(OcppMessage.created_at.desc(), OcppMessage.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def call_times(
    session: AsyncSession, charge_point_id: str, action: str, since: datetime
) -> Sequence[datetime]:
    """When the station sent a CALL of ``action`` since ``since``, oldest first."""
    stmt = (
        select(OcppMessage.created_at)
        .where(
            OcppMessage.charge_point_id == charge_point_id,
            OcppMessage.direction == "in",
            OcppMessage.message_type == 2,
            OcppMessage.action == action,
            OcppMessage.created_at >= since,
        )
        .order_by(OcppMessage.created_at)
    )
    return (await session.scalars(stmt)).all()
