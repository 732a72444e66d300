"""The ``none`` provider: sessions start without a card and nothing is ever charged.

Holds, captures and refunds succeed locally so billing runs the same code path whether or not a
real provider is configured; the records it produces are bookkeeping, not money.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from kilowatt.billing.payments.base import (
    Capture,
    Hold,
    InvalidWebhook,
    PaymentError,
    PaymentMethod,
    PaymentProvider,
    Refund,
    SetupIntent,
    WebhookEvent,
)

PREFIX = "none-"


def _check(hold_id: str, amount: Decimal | None = None) -> None:
    if not hold_id.startswith(PREFIX):
        raise PaymentError(f"{hold_id!r} is not a hold of the none provider", code="not_found")
    if amount is not None:
        _check_amount(amount)


def _check_amount(amount: Decimal) -> None:
    if not amount.is_finite() or amount < 0:
        raise PaymentError(f"invalid amount {amount}", code="invalid_amount")


class NoPaymentProvider:
    name: str = "none"
    needs_payment_method: bool = False

    async def create_customer(self, *, email: str, reference: str, idempotency_key: str) -> str:
        raise PaymentError("no payment provider is configured", code="not_supported")

    async def setup_payment_method(self, *, customer_id: str, idempotency_key: str) -> SetupIntent:
        raise PaymentError("no payment provider is configured", code="not_supported")

    async def get_payment_method(
        self, *, customer_id: str, payment_method_id: str
    ) -> PaymentMethod:
        raise PaymentError("no payment provider is configured", code="not_supported")

    async def hold(
        self,
        *,
        amount: Decimal,
        currency: str,
        customer_id: str | None,
        payment_method_id: str | None,
        idempotency_key: str,
        description: str,
        metadata: Mapping[str, str],
    ) -> Hold:
        _check_amount(amount)
        return Hold(
            id=f"{PREFIX}{uuid.uuid4().hex}",
            status="authorized",
            amount=amount,
            currency=currency.upper(),
        )

    async def capture(
        self, hold_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> Capture:
        _check(hold_id, amount)
        return Capture(hold_id=hold_id, amount=amount, currency=currency.upper())

    async def release(self, hold_id: str, *, idempotency_key: str) -> None:
        _check(hold_id)

    async def refund(
        self,
        hold_id: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        reason: str | None,
    ) -> Refund:
        _check(hold_id, amount)
        return Refund(
            id=f"{PREFIX}re-{uuid.uuid4().hex}",
            hold_id=hold_id,
            amount=amount,
            currency=currency.upper(),
            status="succeeded",
        )

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        raise InvalidWebhook("the none provider sends no webhooks")

    async def aclose(self) -> None:
        return None


def _conforms(provider: NoPaymentProvider) -> PaymentProvider:
    return provider  # mypy holds NoPaymentProvider to the protocol here
