"""After a restart (a crash or ``kill -9`` included): sessions caught between request and answer.

A driver's start is recorded *pending* before RemoteStartTransaction is sent, and the charger's
answer is recorded after; a node killed in between leaves a pending session with no answer
(``start_status`` NULL) that the normal expiry (accepted starts only) would never touch, and
that blocks its connector. At start-up such sessions get ``start_status = "Unknown"``: the
charger's StartTransaction still links them (sessions.service.on_transaction_started) when it
comes; if it does not come within the connection timeout they expire.

A driver's stop records ``end_requested_at`` before RemoteStopTransaction and closes the
session for billing after the answer; a node killed in between leaves an *active* session
whose end was requested. At start-up it is closed as ``end()`` would have closed it: billed
provisionally from the last reading, made final by the charger's StopTransaction (one bill,
reconciled — never a second one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.billing import service as billing
from kilowatt.billing.service import BillingPolicy
from kilowatt.sessions import service
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import Transaction

log = logging.getLogger(__name__)

UNKNOWN = "Unknown"
RESTARTED_STARTING = (
    "the central system restarted before the charger answered the start; "
    "waiting for its StartTransaction"
)
RESTARTED_STOPPING = (
    "the central system restarted before the charger answered the stop; "
    "billed from the last reading until its StopTransaction arrives"
)


@dataclass(frozen=True, slots=True)
class Reconciled:
    starting: int
    stopping: int


def _note(session: ChargingSession, text: str) -> None:
    session.warnings = text if not session.warnings else f"{session.warnings}; {text}"


async def after_restart(
    sessions: async_sessionmaker[AsyncSession],
    *,
    started_at: datetime,
    policy: BillingPolicy,
) -> Reconciled:
    """Resolve the sessions a previous run of the node left half-way (see the module doc)."""
    async with sessions() as db:
        starting = (
            await db.scalars(
                service.locked(select(ChargingSession)).where(
                    ChargingSession.state == "pending",
                    ChargingSession.start_status.is_(None),
                    ChargingSession.requested_at < started_at,
                )
            )
        ).all()
        for session in starting:
            session.start_status = UNKNOWN
            _note(session, RESTARTED_STARTING)
        stopping = (
            await db.scalars(
                service.locked(select(ChargingSession)).where(
                    ChargingSession.state == "active",
                    ChargingSession.end_requested_at.is_not(None),
                    ChargingSession.end_requested_at < started_at,
                )
            )
        ).all()
        for session in stopping:
            tx = (
                await db.get(Transaction, session.transaction_id)
                if session.transaction_id is not None
                else None
            )
            service.close_for_billing(session, tx, stop_status=UNKNOWN, now=started_at)
            _note(session, RESTARTED_STOPPING)
            await billing.close(
                db, session, tx, final=session.reconciled, now=started_at, policy=policy
            )
        await db.commit()
    if starting or stopping:
        log.warning(
            "restart: %d starting and %d stopping sessions reconciled", len(starting), len(stopping)
        )
    return Reconciled(len(starting), len(stopping))


async def expire_unanswered(
    db: AsyncSession, *, older_than: datetime, now: datetime, policy: BillingPolicy
) -> int:
    """Starts left unanswered by a restart whose StartTransaction never came: expired."""
    stale = (
        await db.scalars(
            service.locked(select(ChargingSession)).where(
                ChargingSession.state == "pending",
                ChargingSession.start_status == UNKNOWN,
                ChargingSession.requested_at < older_than,
            )
        )
    ).all()
    for session in stale:
        session.state = "expired"
        session.failure_reason = "no StartTransaction came after the central system restarted"
        await billing.settle(db, session, now=now, provider=policy.provider)
    return len(stale)
