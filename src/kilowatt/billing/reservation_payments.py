"""Charging the fee of a reservation that expired unused, with no session and no hold.

The fee is billed in the same transaction that expires the reservation (``charge_due``), and
this worker — run by the payment worker's pass — charges the driver's card off-session through
the same provider abstraction as a session without a hold: authorise the fee, capture it, both
with an idempotency key per reservation, so a retry never charges twice. No card (or a card
nobody owns), a decline, or retries used up: ``unpaid``, with the balance due on the
reservation. Nothing is recorded as paid that the provider did not capture.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.billing.cards import account_of
from kilowatt.billing.payments.base import PaymentError, PaymentProvider
from kilowatt.reservations import repository as reservations

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


class ReservationFees:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: PaymentProvider,
        retry_delays: tuple[float, ...],
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.retry_delays = retry_delays

    async def process_due(self) -> int:
        """One pass over the fees due now; how many were worked on."""
        now = _now()
        async with self.sessions() as db:
            due = await reservations.fee_payments_due(db, now, now - STALE_CLAIM)
            await db.commit()
        worked = 0
        for reservation_id in due:
            async with self.sessions() as db:
                claimed = await reservations.claim_fee_payment(db, reservation_id, _now())
                await db.commit()
            if claimed:
                await self._charge(reservation_id)
                worked += 1
        return worked

    async def next_attempt(self) -> datetime | None:
        async with self.sessions() as db:
            return await reservations.next_fee_attempt(db)

    async def _charge(self, reservation_id: int) -> None:
        async with self.sessions() as db:
            r = await reservations.get(db, reservation_id)
            assert r is not None and r.cost_total is not None and r.currency is not None
            due, currency, attempts = r.cost_total, r.currency, r.payment_attempts
            account = await account_of(db, self.provider, r.user_id) if r.user_id else None
        method = account.payment_method_id if account else None
        if self.provider.needs_payment_method and method is None:
            await self._finish(reservation_id, "unpaid", error="no card")
            return
        try:
            hold = await self.provider.hold(
                amount=due,
                currency=currency,
                customer_id=account.customer_id if account else None,
                payment_method_id=method,
                idempotency_key=f"kw-reservation-charge-{reservation_id}",
                description=f"Unused reservation {reservation_id}",
                metadata={"reservation_id": str(reservation_id)},
            )
            if hold.status != "authorized":
                why = ", ".join(x for x in (hold.decline_code, hold.message) if x) or "declined"
                await self._finish(reservation_id, "unpaid", ref=hold.id, error=why)
                return
            captured = await self.provider.capture(
                hold.id,
                amount=due,
                currency=currency,
                idempotency_key=f"kw-reservation-capture-{reservation_id}",
            )
        except PaymentError as exc:
            await self._retry_later(reservation_id, attempts + 1, exc)
            return
        await self._finish(reservation_id, "captured", ref=hold.id, captured=captured.amount)

    async def _retry_later(self, reservation_id: int, attempts: int, exc: PaymentError) -> None:
        log.warning(
            "reservation %s fee: charge failed (attempt %d): %s", reservation_id, attempts, exc
        )
        if exc.retryable and attempts <= len(self.retry_delays):
            delay = timedelta(seconds=self.retry_delays[attempts - 1])
            await self._finish(
                reservation_id,
                "charge_due",
                error=str(exc),
                attempts=attempts,
                next_at=_now() + delay,
            )
        else:
            await self._finish(reservation_id, "unpaid", error=str(exc), attempts=attempts)

    async def _finish(
        self,
        reservation_id: int,
        state: str,
        *,
        ref: str | None = None,
        captured: Decimal | None = None,
        error: str | None = None,
        attempts: int | None = None,
        next_at: datetime | None = None,
    ) -> None:
        # Through the ORM row, so that the change is pushed as a reservation event on commit.
        async with self.sessions() as db:
            r = await reservations.get_locked(db, reservation_id)
            assert r is not None
            r.payment_state, r.payment_next_at = state, next_at
            if ref is not None:
                r.payment_ref = ref
            if captured is not None:
                r.payment_captured = captured
            if error is not None:
                r.payment_error = error
            if attempts is not None:
                r.payment_attempts = attempts
            await db.commit()
