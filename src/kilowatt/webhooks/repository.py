"""Every query on webhook subscriptions, deliveries and attempts.

``tenant_id`` None means every tenant (a platform admin). The worker's queries only see
deliveries of *active* subscriptions: a switched-off subscription keeps its pending deliveries
until it is switched on again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

D, S = WebhookDelivery, WebhookSubscription
# Bulk UPDATE / DELETE here never touch objects loaded in the session.
NO_SYNC = {"synchronize_session": False}


# ---- subscriptions ------------------------------------------------------------------------------
async def subscription_in(
    db: AsyncSession, subscription_id: int, tenant_id: int | None
) -> WebhookSubscription | None:
    query = select(S).where(S.id == subscription_id)
    if tenant_id is not None:
        query = query.where(S.tenant_id == tenant_id)
    return await db.scalar(query)


async def subscriptions_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[WebhookSubscription], int]:
    query = select(S)
    count = select(func.count()).select_from(S)
    if tenant_id is not None:
        query = query.where(S.tenant_id == tenant_id)
        count = count.where(S.tenant_id == tenant_id)
    rows = (await db.scalars(query.order_by(S.id).limit(limit).offset(offset))).all()
    return rows, await db.scalar(count) or 0


async def active_subscriptions(
    db: AsyncSession, tenant_ids: Collection[int]
) -> Sequence[tuple[int, int, list[str]]]:
    """(id, tenant id, event types) of the active subscriptions of these tenants."""
    rows = await db.execute(
        select(S.id, S.tenant_id, S.event_types).where(S.tenant_id.in_(tenant_ids), S.active)
    )
    return [(r.id, r.tenant_id, list(r.event_types)) for r in rows]


async def count_failure(db: AsyncSession, subscription_id: int) -> int:
    """One more delivery in a row failed for good: the new count."""
    await db.execute(
        update(S)
        .where(S.id == subscription_id)
        .values(consecutive_failures=S.consecutive_failures + 1),
        execution_options=NO_SYNC,
    )
    count = await db.scalar(select(S.consecutive_failures).where(S.id == subscription_id))
    return count or 0


async def reset_failures(db: AsyncSession, subscription_id: int) -> None:
    await db.execute(
        update(S)
        .where(S.id == subscription_id, S.consecutive_failures != 0)
        .values(consecutive_failures=0),
        execution_options=NO_SYNC,
    )


async def switch_off(db: AsyncSession, subscription_id: int, reason: str, now: datetime) -> bool:
    """Deactivate an active subscription; whether this call did it."""
    done = await db.execute(
        update(S)
        .where(S.id == subscription_id, S.active)
        .values(active=False, disabled_reason=reason, updated_at=now),
        execution_options=NO_SYNC,
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# ---- deliveries ---------------------------------------------------------------------------------
async def add_deliveries(db: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await db.execute(insert(D), list(rows))


async def deliveries_page(
    db: AsyncSession, subscription_id: int, state: str | None, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """The newest deliveries of a subscription first."""
    where = [D.subscription_id == subscription_id]
    if state is not None:
        where.append(D.state == state)
    rows = await db.scalars(
        select(D).where(*where).order_by(D.id.desc()).limit(limit).offset(offset)
    )
    total = await db.scalar(select(func.count()).select_from(D).where(*where))
    return rows.all(), total or 0


async def delivery_in(
    db: AsyncSession, delivery_id: int, tenant_id: int | None
) -> WebhookDelivery | None:
    query = select(D).where(D.id == delivery_id)
    if tenant_id is not None:
        query = query.join(S, S.id == D.subscription_id).where(S.tenant_id == tenant_id)
    return await db.scalar(query)


async def delivery_and_target(
    db: AsyncSession, delivery_id: int
) -> tuple[WebhookDelivery, str, str] | None:
    """A delivery with the URL and secret of its subscription."""
    row = (
        await db.execute(
            select(D, S.url, S.secret).join(S, S.id == D.subscription_id).where(D.id == delivery_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def attempts_of(
    db: AsyncSession, delivery_ids: Iterable[int]
) -> dict[int, list[WebhookAttempt]]:
    ids = list(delivery_ids)
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        rows = await db.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        for attempt in rows:
            found[attempt.delivery_id].append(attempt)
    return found


async def claim(
    db: AsyncSession, delivery_id: int, from_state: str, now: datetime, *, due_only: bool
) -> bool:
    """Mark the delivery ``sending`` if it still is in ``from_state`` (and due, for the worker):
    of several nodes (or requests) trying, exactly one gets it."""
    where = [D.id == delivery_id, D.state == from_state]
    if due_only:
        where.append(D.next_attempt_at <= now)
    claimed = await db.execute(
        update(D).where(*where).values(state="sending", updated_at=now), execution_options=NO_SYNC
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def finish_attempt(
    db: AsyncSession, delivery_id: int, values: dict[str, Any], attempt: WebhookAttempt
) -> bool:
    """Store an attempt's outcome on a delivery this node claimed; False if it is gone."""
    done = await db.execute(
        update(D).where(D.id == delivery_id, D.state == "sending").values(**values),
        execution_options=NO_SYNC,
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.add(attempt)
    return True


async def release_stale_claims(db: AsyncSession, before: datetime, now: datetime) -> int:
    """Claims older than ``before`` were left by a node that stopped mid-attempt: due again."""
    released = await db.execute(
        update(D)
        .where(D.state == "sending", D.updated_at < before)
        .values(state="pending", next_attempt_at=now, updated_at=now),
        execution_options=NO_SYNC,
    )
    return int(released.rowcount)  # type: ignore[attr-defined]


def _due(now: datetime) -> list[Any]:
    return [D.state == "pending", D.next_attempt_at <= now, S.active]


async def due_subscriptions(
    db: AsyncSession, now: datetime, *, busy: Collection[int], limit: int
) -> list[int]:
    """Subscriptions with a delivery due now, other than the ``busy`` ones."""
    query = select(D.subscription_id).join(S, S.id == D.subscription_id).where(*_due(now))
    if busy:
        query = query.where(D.subscription_id.not_in(busy))
    rows = await db.scalars(query.group_by(D.subscription_id).limit(limit))
    return list(rows)


async def next_due(db: AsyncSession, subscription_id: int, now: datetime) -> int | None:
    """The subscription's delivery to attempt next (the longest due, then the oldest)."""
    return await db.scalar(
        select(D.id)
        .join(S, S.id == D.subscription_id)
        .where(D.subscription_id == subscription_id, *_due(now))
        .order_by(D.next_attempt_at, D.id)
        .limit(1)
    )


async def next_attempt_at(db: AsyncSession, *, busy: Collection[int]) -> datetime | None:
    """When the next attempt of a subscription other than the ``busy`` ones falls due."""
    query = (
        select(func.min(D.next_attempt_at))
        .join(S, S.id == D.subscription_id)
        .where(D.state == "pending", S.active)
    )
    if busy:
        query = query.where(D.subscription_id.not_in(busy))
    return await db.scalar(query)


async def prune_finished(db: AsyncSession, before: datetime, *, limit: int) -> int:
    """Delete up to ``limit`` delivered or failed deliveries last changed before ``before``."""
    ids = select(D.id).where(D.state.in_(("delivered", "failed")), D.updated_at < before)
    removed = await db.execute(
        delete(D).where(D.id.in_(ids.limit(limit))), execution_options=NO_SYNC
    )
    return int(removed.rowcount)  # type: ignore[attr-defined]
