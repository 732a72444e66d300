"""Queries over the OCPP message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

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
