"""The ``none`` provider: sessions run without a card, and every money step succeeds locally."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kilowatt.billing.payments import Hold, InvalidWebhook, NoPaymentProvider, PaymentError


@pytest.fixture
def provider() -> NoPaymentProvider:
    return NoPaymentProvider()


async def hold(provider: NoPaymentProvider, amount: str = "30.00", currency: str = "eur") -> Hold:
    return await provider.hold(
        amount=Decimal(amount),
        currency=currency,
        customer_id=None,
        payment_method_id=None,
        idempotency_key="session-1-hold",
        description="Charging session 1",
        metadata={"session_id": "1"},
    )


def test_sessions_start_without_a_card(provider: NoPaymentProvider) -> None:
    assert provider.name == "none"
    assert provider.needs_payment_method is False


async def test_hold_is_authorized_with_its_own_reference(provider: NoPaymentProvider) -> None:
    first, second = await hold(provider), await hold(provider)

    assert re.fullmatch(r"none-[0-9a-f]{32}", first.id)
    assert first.id != second.id
    assert first.status == "authorized"
    assert (first.amount, first.currency) == (Decimal("30.00"), "EUR")
    assert first.decline_code is None


async def test_capture_release_and_refund_return_consistent_records(
    provider: NoPaymentProvider,
) -> None:
    held = await hold(provider)

    capture = await provider.capture(
        held.id, amount=Decimal("12.34"), currency="eur", idempotency_key="c"
    )
    refund = await provider.refund(
        held.id, amount=Decimal("2.00"), currency="EUR", idempotency_key="r", reason=None
    )
    await provider.release((await hold(provider)).id, idempotency_key="rel")

    assert (capture.hold_id, capture.amount, capture.currency) == (held.id, Decimal("12.34"), "EUR")
    assert refund.id.startswith("none-") and refund.id != held.id
    assert (refund.hold_id, refund.amount, refund.currency) == (held.id, Decimal("2.00"), "EUR")
    assert refund.status == "succeeded"


async def test_holds_of_another_provider_are_not_found(provider: NoPaymentProvider) -> None:
    with pytest.raises(PaymentError) as caught:
        await provider.capture("pi_123", amount=Decimal(1), currency="EUR", idempotency_key="c")
    assert caught.value.code == "not_found"
    with pytest.raises(PaymentError):
        await provider.release("pi_123", idempotency_key="r")


@pytest.mark.parametrize("amount", ["-0.01", "NaN", "Infinity"])
async def test_invalid_amounts_are_refused(provider: NoPaymentProvider, amount: str) -> None:
    with pytest.raises(PaymentError) as caught:
        await hold(provider, amount=amount)
    assert caught.value.code == "invalid_amount"


async def test_card_operations_are_not_supported(provider: NoPaymentProvider) -> None:
    calls = [
        provider.create_customer(email="d@example.com", reference="user:1", idempotency_key="k"),
        provider.setup_payment_method(customer_id="cus_1", idempotency_key="k"),
        provider.get_payment_method(customer_id="cus_1", payment_method_id="pm_1"),
    ]
    for call in calls:
        with pytest.raises(PaymentError) as caught:
            await call
        assert caught.value.code == "not_supported"
        assert caught.value.retryable is False


def test_webhooks_are_refused(provider: NoPaymentProvider) -> None:
    with pytest.raises(InvalidWebhook):
        provider.parse_webhook(b"{}", {"Stripe-Signature": "t=1,v1=00"})


async def test_aclose_is_harmless(provider: NoPaymentProvider) -> None:
    await provider.aclose()
    assert (await hold(provider)).status == "authorized"
