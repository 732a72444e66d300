"""A driver's card at the payment provider: customer, SetupIntent, default payment method.

Card data never touches Kilowatt: the app confirms the SetupIntent with the provider's SDK, and
Kilowatt keeps the ids and what a receipt may show (brand, last 4, expiry).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.billing.models import PaymentAccount
from kilowatt.billing.payments.base import PaymentError, PaymentProvider, SetupIntent
from kilowatt.users.models import User

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


class PaymentRefused(Exception):
    """A payment operation the API refuses (a 4xx / 5xx problem)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


async def account_of(
    db: AsyncSession, provider: PaymentProvider, user_id: int
) -> PaymentAccount | None:
    return await db.scalar(
        select(PaymentAccount).where(
            PaymentAccount.user_id == user_id, PaymentAccount.provider == provider.name
        )
    )


class Cards:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider
    ) -> None:
        self.sessions = sessions
        self.provider = provider

    async def account(self, db: AsyncSession, user_id: int) -> PaymentAccount | None:
        return await account_of(db, self.provider, user_id)

    async def _call(self, operation: Awaitable[T]) -> T:
        """A provider call made for an API request: its failure is the request's 502."""
        try:
            return await operation
        except PaymentError as exc:
            raise PaymentRefused(502, "Payment provider error", str(exc)) from None

    async def setup_card(self, user_id: int) -> tuple[SetupIntent, str]:
        """A SetupIntent the app confirms with the provider's SDK; (intent, customer id)."""
        if not self.provider.needs_payment_method:
            raise PaymentRefused(
                409, "No card needed", "this network takes no card payments (provider: none)"
            )
        async with self.sessions() as db:
            account = await self.account(db, user_id)
            user = await db.get(User, user_id)
            assert user is not None
            if account is None:
                customer = await self._call(
                    self.provider.create_customer(
                        email=user.email,
                        reference=f"user:{user_id}",
                        idempotency_key=f"kw-customer-{user_id}",
                    )
                )
                account = PaymentAccount(
                    user_id=user_id, provider=self.provider.name, customer_id=customer
                )
                db.add(account)
                await db.commit()
            customer_id = account.customer_id
        intent = await self._call(
            self.provider.setup_payment_method(
                customer_id=customer_id, idempotency_key=f"kw-setup-{user_id}-{_now():%Y%m%d%H%M%S}"
            )
        )
        return intent, customer_id

    async def save_card(self, user_id: int, payment_method_id: str) -> PaymentAccount:
        """Make a card the app attached (through the SetupIntent) the driver's default."""
        async with self.sessions() as db:
            account = await self.account(db, user_id)
            if account is None:
                raise PaymentRefused(409, "No payment account", "set up a card first")
            try:
                method = await self.provider.get_payment_method(
                    customer_id=account.customer_id, payment_method_id=payment_method_id
                )
            except PaymentError as exc:
                if exc.code == "not_found":
                    raise PaymentRefused(
                        404, "Card not found", "no such card on your payment account"
                    ) from None
                raise PaymentRefused(502, "Payment provider error", str(exc)) from None
            account.payment_method_id = method.id
            account.card_brand = method.brand
            account.card_last4 = method.last4
            account.card_exp_month = method.exp_month
            account.card_exp_year = method.exp_year
            account.updated_at = _now()
            await db.commit()
            return account

    async def remove_card(self, user_id: int) -> None:
        async with self.sessions() as db:
            account = await self.account(db, user_id)
            if account is None or account.payment_method_id is None:
                raise PaymentRefused(404, "No card", "there is no card on your account")
            account.payment_method_id = None
            account.card_brand = account.card_last4 = None
            account.card_exp_month = account.card_exp_year = None
            account.updated_at = _now()
            await db.commit()
