"""Payments for sessions: a hold when an app session starts, a capture of the final bill.

The money moves outside database transactions and outside the OCPP path. A final bill marks
the session's payment *due* in the same transaction that stores the bill (so nothing is lost
if the node stops), and a worker settles due payments with the provider: capture (or release)
with an idempotency key per payment, retries with back-off, then ``unpaid``. Every provider
call is keyed, so a retried request, a duplicated StopTransaction or a repeated webhook never
charges twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.billing.cards import Cards, PaymentRefused, account_of
from kilowatt.billing.models import Payment, PaymentEvent, PaymentRefund
from kilowatt.billing.payments.base import (
    InvalidWebhook,
    PaymentError,
    PaymentProvider,
)
from kilowatt.billing.reservation_payments import ReservationFees
from kilowatt.events import Event, EventBus
from kilowatt.sessions.models import ChargingSession

log = logging.getLogger(__name__)

DUE_STATES = ("capture_due", "charge_due", "release_due")
# A claim older than this was left by a node that stopped mid-call: due again (the provider's
# idempotency key makes the repeat safe).
STALE_CLAIM = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HoldResult:
    authorized: bool
    detail: str  # for the driver: why not, in words


class Payments:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: PaymentProvider,
        bus: EventBus,
        *,
        hold_amount: Decimal,
        retry_delays: tuple[float, ...],
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.bus = bus
        self.hold_amount = hold_amount
        self.retry_delays = retry_delays
        self._wake = asyncio.Event()
        self.cards = Cards(sessions, provider)
        # Expired reservations' fees: no session, so no Payment row; the same provider.
        self.reservation_fees = ReservationFees(sessions, provider, retry_delays)
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type in ("transaction.stopped", "session.closed", "reservation.ended"):
            self._wake.set()

    # ---- the hold at start ----------------------------------------------------------------------
    async def hold(self, session_id: int) -> HoldResult:
        """Pre-authorize the driver's card for a session about to start (before RemoteStart).

        Free sessions (no tariff) need no hold. Declined, no card, or the provider down: the
        session must not start, and the result says why.
        """
        async with self.sessions() as db:
            session = await db.get(ChargingSession, session_id)
            assert session is not None
            if session.currency is None:
                return HoldResult(True, "free")
            account = (
                await account_of(db, self.provider, session.user_id) if session.user_id else None
            )
            if self.provider.needs_payment_method and (
                account is None or account.payment_method_id is None
            ):
                return HoldResult(False, "add a card to your account before you start charging")
            customer_id = account.customer_id if account else None
            method_id = account.payment_method_id if account else None
            currency, tenant_id = session.currency, session.tenant_id
        try:
            hold = await self.provider.hold(
                amount=self.hold_amount,
                currency=currency,
                customer_id=customer_id,
                payment_method_id=method_id,
                idempotency_key=f"kw-hold-{session_id}",
                description=f"Charging session {session_id}",
                metadata={"session_id": str(session_id)},
            )
        except PaymentError as exc:
            log.warning("hold for session %s failed: %s", session_id, exc)
            return HoldResult(False, "the payment service is unavailable; please try again")
        async with self.sessions() as db:
            payment = Payment(
                tenant_id=tenant_id,
                session_id=session_id,
                provider=self.provider.name,
                hold_id=hold.id,
                currency=currency,
                hold_amount=hold.amount if hold.status == "authorized" else Decimal(0),
                state="held" if hold.status == "authorized" else "declined",
                last_error=None if hold.status == "authorized" else _decline_text(hold),
            )
            db.add(payment)
            await db.commit()
        await self._published(session_id)
        if hold.status != "authorized":
            return HoldResult(False, f"your card was declined ({_decline_text(hold)})")
        return HoldResult(True, "held")

    # ---- the worker -----------------------------------------------------------------------------
    async def run(self, every: float = 30.0) -> None:
        """Settle due payments, woken by closing sessions and otherwise every ``every`` s."""
        while True:
            self._wake.clear()  # before the pass: a wake-up during it means another pass
            try:
                await self.process_due()
            except Exception:
                log.exception("payment worker failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=await self._idle_for(every))

    async def _idle_for(self, every: float) -> float:
        """Seconds until the next retry falls due (at most ``every``)."""
        try:
            async with self.sessions() as db:
                next_at = await db.scalar(
                    select(func.min(Payment.next_attempt_at)).where(Payment.state.in_(DUE_STATES))
                )
            fee_at = await self.reservation_fees.next_attempt()
        except Exception:
            log.exception("payment worker could not read the next retry time")
            return every
        times = [t for t in (next_at, fee_at) if t is not None]
        if not times:
            return every
        return max(0.0, min(every, (min(times) - _now()).total_seconds()))

    async def process_due(self) -> int:
        """One pass over the payments that are due now; how many were worked on."""
        now = _now()
        async with self.sessions() as db:
            # Claims a stopped node left behind are due again.
            await db.execute(
                update(Payment)
                .where(Payment.state.like("%:claimed"), Payment.updated_at < now - STALE_CLAIM)
                .values(state=_unclaimed(Payment.state), updated_at=now)
            )
            await db.commit()
            due = (
                await db.scalars(
                    select(Payment.id)
                    .where(Payment.state.in_(DUE_STATES), Payment.next_attempt_at <= now)
                    .order_by(Payment.next_attempt_at)
                    .limit(100)
                )
            ).all()
        for payment_id in due:
            await self._work(payment_id)
        return len(due) + await self.reservation_fees.process_due()

    async def _claim(self, payment_id: int) -> tuple[Payment, str] | None:
        """Take a due payment for this worker (one node wins in a cluster); with its action
        (the due state it was claimed in)."""
        async with self.sessions() as db:
            payment = await db.get(Payment, payment_id)
            if payment is None or payment.state not in DUE_STATES:
                return None
            action = payment.state
            claimed = await db.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.state == action)
                .values(state=f"{action}:claimed", updated_at=_now())
                .execution_options(synchronize_session=False)
            )
            await db.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            db.expunge(payment)
            return payment, action

    async def _work(self, payment_id: int) -> None:
        claim = await self._claim(payment_id)
        if claim is None:
            return
        payment, action = claim
        try:
            if action == "release_due":
                if payment.hold_id is not None:
                    await self.provider.release(
                        payment.hold_id, idempotency_key=f"kw-release-{payment.id}"
                    )
                await self._finish(payment.id, state="released")
            elif action == "capture_due":
                await self._capture(payment)
            else:
                await self._charge(payment)
        except PaymentError as exc:
            await self._retry_later(payment, action, exc)
        await self._published(payment.session_id)

    async def _capture(self, payment: Payment) -> None:
        due = payment.amount_due or Decimal(0)
        amount = min(due, payment.hold_amount)
        if payment.hold_id is None or amount <= 0:
            await self._finish(payment.id, state="unpaid", balance_due=due)
            return
        captured = await self.provider.capture(
            payment.hold_id,
            amount=amount,
            currency=payment.currency,
            idempotency_key=f"kw-capture-{payment.id}",
        )
        # A bill above the hold: the hold is all we may take; the rest is owed.
        await self._finish(
            payment.id,
            state="captured",
            captured=captured.amount,
            balance_due=due - captured.amount,
        )

    async def _charge(self, payment: Payment) -> None:
        """A bill with no hold before it (a card at the charger, an operator's start): charge
        the owner's card off-session now, or leave it owed when there is none."""
        due = payment.amount_due or Decimal(0)
        async with self.sessions() as db:
            session = await db.get(ChargingSession, payment.session_id)
            account = (
                await account_of(db, self.provider, session.user_id)
                if session and session.user_id
                else None
            )
        if self.provider.needs_payment_method and (
            account is None or account.payment_method_id is None
        ):
            await self._finish(payment.id, state="unpaid", balance_due=due, error="no card")
            return
        hold = await self.provider.hold(
            amount=due,
            currency=payment.currency,
            customer_id=account.customer_id if account else None,
            payment_method_id=account.payment_method_id if account else None,
            idempotency_key=f"kw-charge-{payment.id}",
            description=f"Charging session {payment.session_id}",
            metadata={"session_id": str(payment.session_id)},
        )
        if hold.status != "authorized":
            await self._finish(
                payment.id, state="unpaid", balance_due=due, error=_decline_text(hold)
            )
            return
        async with self.sessions() as db:
            await db.execute(
                update(Payment)
                .where(Payment.id == payment.id)
                .values(hold_id=hold.id, hold_amount=hold.amount)
            )
            await db.commit()
        payment.hold_id, payment.hold_amount = hold.id, hold.amount
        await self._capture(payment)

    async def _finish(
        self,
        payment_id: int,
        *,
        state: str,
        captured: Decimal | None = None,
        balance_due: Decimal | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, object] = {"state": state, "updated_at": _now(), "next_attempt_at": None}
        if captured is not None:
            values["captured_amount"] = captured
        if balance_due is not None:
            values["balance_due"] = balance_due
        if error is not None:
            values["last_error"] = error
        async with self.sessions() as db:
            await db.execute(update(Payment).where(Payment.id == payment_id).values(**values))
            await db.commit()

    async def _retry_later(self, payment: Payment, action: str, exc: PaymentError) -> None:
        attempts = payment.attempts + 1
        now = _now()
        log.warning("payment %s: %s failed (attempt %d): %s", payment.id, action, attempts, exc)
        values: dict[str, object] = {
            "attempts": attempts,
            "last_error": str(exc),
            "updated_at": now,
        }
        if exc.retryable and attempts <= len(self.retry_delays):
            values["state"] = action
            values["next_attempt_at"] = now + timedelta(seconds=self.retry_delays[attempts - 1])
        else:
            values["state"] = "unpaid" if action != "release_due" else "release_failed"
            values["next_attempt_at"] = None
            if action != "release_due":
                values["balance_due"] = payment.amount_due or Decimal(0)
        async with self.sessions() as db:
            await db.execute(update(Payment).where(Payment.id == payment.id).values(**values))
            await db.commit()

    async def _published(self, session_id: int) -> None:
        """Tell the session's driver and operators (and the tests) that its payment changed."""
        async with self.sessions() as db:
            session = await db.get(ChargingSession, session_id)
            payment = await db.scalar(select(Payment).where(Payment.session_id == session_id))
        self.bus.publish(
            Event(
                "payment.updated",
                {
                    "sessionId": session_id,
                    "state": None if payment is None else payment.state.removesuffix(":claimed"),
                },
                tenant_id=None if session is None else session.tenant_id,
                user_id=None if session is None else session.user_id,
            )
        )

    # ---- refunds and provider events --------------------------------------------------------------
    async def refund(
        self,
        session_id: int,
        *,
        amount: Decimal,
        reason: str | None,
        idempotency_key: str,
        requested_by: str,
    ) -> PaymentRefund:
        """Give back (part of) what was captured; the same idempotency key refunds once."""
        async with self.sessions() as db:
            payment = await db.scalar(select(Payment).where(Payment.session_id == session_id))
            if payment is None or payment.state != "captured" or payment.hold_id is None:
                raise PaymentRefused(
                    409, "Nothing to refund", "the session has no captured payment"
                )
            # Keys are the client's, so they are scoped to the payment: two tenants' "refund-1"
            # are two refunds, and a key never tells anyone about another payment.
            scoped_key = f"{payment.id}:{idempotency_key}"
            previous = await db.scalar(
                select(PaymentRefund).where(PaymentRefund.idempotency_key == scoped_key)
            )
            if previous is not None:
                if previous.amount != amount:
                    raise PaymentRefused(
                        409, "Idempotency key reused", "that key was used for another refund"
                    )
                return previous
            refundable = payment.captured_amount - payment.refunded_amount
            if amount <= 0 or amount > refundable:
                raise PaymentRefused(
                    422, "Invalid refund amount", f"between 0 and {refundable} {payment.currency}"
                )
            hold_id, currency, payment_id = payment.hold_id, payment.currency, payment.id
        try:
            done = await self.provider.refund(
                hold_id,
                amount=amount,
                currency=currency,
                idempotency_key=f"kw-refund-{scoped_key}",
                reason=reason,
            )
        except PaymentError as exc:
            raise PaymentRefused(502, "Refund failed", str(exc)) from None
        async with self.sessions() as db:
            record = PaymentRefund(
                payment_id=payment_id,
                provider_refund_id=done.id,
                amount=done.amount,
                reason=reason,
                status=done.status,
                requested_by=requested_by,
                idempotency_key=scoped_key,
            )
            db.add(record)
            await db.execute(
                update(Payment)
                .where(Payment.id == payment_id)
                .values(refunded_amount=Payment.refunded_amount + done.amount, updated_at=_now())
            )
            try:
                await db.commit()
            except IntegrityError:  # the same key, concurrently: the other request recorded it
                await db.rollback()
                stored = await db.scalar(
                    select(PaymentRefund).where(PaymentRefund.idempotency_key == scoped_key)
                )
                assert stored is not None
                return stored
        await self._published(session_id)
        return record

    async def webhook(self, payload: bytes, headers: Mapping[str, str]) -> str:
        """Apply a provider event once: "applied", "duplicate" or "ignored". Raises
        InvalidWebhook for a bad signature (the route answers 400)."""
        event = self.provider.parse_webhook(payload, headers)
        async with self.sessions() as db:
            db.add(
                PaymentEvent(
                    id=event.id,
                    provider=self.provider.name,
                    type=event.type,
                    hold_id=event.hold_id,
                    payload=dict(event.data),
                )
            )
            try:
                await db.flush()
            except IntegrityError:
                return "duplicate"
            payment = (
                await db.scalar(select(Payment).where(Payment.hold_id == event.hold_id))
                if event.hold_id
                else None
            )
            outcome = "ignored"
            if payment is not None:
                outcome = _apply_event(payment, event.type)
            await db.commit()
        if payment is not None and outcome == "applied":
            await self._published(payment.session_id)
        return outcome


def _apply_event(payment: Payment, event_type: str) -> str:
    """What a provider event changes on a payment Kilowatt did not already record."""
    if event_type == "payment_intent.canceled" and payment.state in ("held", "review"):
        # The provider let the hold lapse (Stripe: after 7 days): the bill will be owed.
        payment.state = "expired"
        payment.hold_amount = Decimal(0)
        return "applied"
    if event_type == "payment_intent.succeeded" and payment.state.startswith("capture_due"):
        payment.state = "captured"  # captured, but our worker did not record it before it stopped
        payment.captured_amount = min(payment.amount_due or Decimal(0), payment.hold_amount)
        return "applied"
    return "ignored"


def _decline_text(hold: object) -> str:
    code = getattr(hold, "decline_code", None)
    message = getattr(hold, "message", None)
    return ", ".join(x for x in (code, message) if x) or "declined"


def _unclaimed(column: Any) -> Any:
    return func.replace(column, ":claimed", "")


__all__ = ["HoldResult", "InvalidWebhook", "PaymentRefused", "Payments"]
