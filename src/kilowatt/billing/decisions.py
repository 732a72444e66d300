"""An operator's decision on a session held for billing review: bill it, or waive it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kilowatt.billing import service as billing
from kilowatt.billing.pricing import ImplausibleData, Reading, breakdown_to_json, price
from kilowatt.events import Event
from kilowatt.sessions import service as sessions_service
from kilowatt.sessions.controller import ChargingSessions
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import Transaction


class NotUnderReview(Exception):
    pass


class CannotBill(Exception):
    """The readings cannot be priced as they are (e.g. the meter went backwards)."""


def _note(session: ChargingSession, text: str) -> None:
    session.warnings = text if not session.warnings else f"{session.warnings}; {text}"


async def decide(
    controller: ChargingSessions,
    session_id: int,
    *,
    decision: str,
    energy_wh: int | None,
    note: str | None,
    who: str,
) -> None:
    """``bill``: price the readings as they are, or ``energy_wh`` delivered evenly over the
    session when given; ``waive``: nothing is charged. Either way the bill is final."""
    now = datetime.now(UTC)
    async with controller.sessions() as db:
        session = await sessions_service.get_locked(db, session_id)
        assert session is not None
        if session.cost_status != "review":
            raise NotUnderReview(f"the session's bill is {session.cost_status}")
        spec = billing.snapshot_spec(session)
        tx = await db.get(Transaction, session.transaction_id) if session.transaction_id else None
        assert spec is not None and tx is not None
        assert session.started_at is not None and session.ended_at is not None
        reason = session.billing_review_reason
        if decision == "waive":
            session.cost_status = "waived"
            session.cost_total = Decimal(0)
            session.cost_breakdown = None
            _note(session, f"billing waived by {who} ({reason})" + (f": {note}" if note else ""))
        else:
            if energy_wh is not None:
                start = Reading(session.started_at, tx.meter_start)
                end = Reading(max(session.ended_at, session.started_at), tx.meter_start + energy_wh)
                points = [start, end]
                _note(session, f"billed {energy_wh} Wh as decided by {who} ({reason})")
            else:
                points = await billing.readings(db, tx)
                _note(session, f"billed as read, decided by {who} ({reason})")
            if note:
                _note(session, note)
            record = billing.charge_record(session.started_at, session.ended_at, points)
            try:
                breakdown = price(spec, record, await billing.reserved_time(db, tx))
            except ImplausibleData as exc:
                raise CannotBill("; ".join(exc.reasons) + " — give the energy to bill") from None
            session.cost_breakdown = breakdown_to_json(breakdown)
            session.cost_total = breakdown.total
            session.cost_status = "final"
            if energy_wh is not None:
                session.energy_wh = energy_wh
        session.billed_at = now
        await billing.settle(db, session, now=now, provider=controller.policy.provider)
        await db.commit()
    controller.bus.publish(Event("session.closed", {"sessionId": session_id}))
