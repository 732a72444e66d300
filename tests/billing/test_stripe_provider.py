"""StripeProvider against a fake Stripe over real HTTP (tests/support/fake_stripe.py)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stripe

from kilowatt.billing.payments import Hold, InvalidWebhook, PaymentError
from kilowatt.billing.payments.stripe_provider import (
    StripeProvider,
    from_stripe_amount,
    to_stripe_amount,
)

from support.fake_stripe import FakeStripe, running_fake_stripe


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with running_fake_stripe() as fake:
        yield fake


@contextlib.asynccontextmanager
async def provider_for(fake: FakeStripe, **options: Any) -> AsyncIterator[StripeProvider]:
    options = {"webhook_secret": fake.webhook_secret, "api_base": fake.url} | options
    provider = StripeProvider(options.pop("api_key", fake.api_key), **options)
    try:
        yield provider
    finally:
        await provider.aclose()


@pytest.fixture
async def provider(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    async with provider_for(fake) as provider:
        yield provider


@dataclass
class Driver:
    customer_id: str
    payment_method_id: str


async def driver_with_card(
    provider: StripeProvider, fake: FakeStripe, card: str = "pm_card_visa"
) -> Driver:
    customer_id = await provider.create_customer(
        email="driver@example.com", reference="user:7", idempotency_key=f"customer-{card}"
    )
    await provider.setup_payment_method(customer_id=customer_id, idempotency_key=f"setup-{card}")
    return Driver(customer_id, fake.attach_card(customer_id, card))


async def hold(
    provider: StripeProvider,
    driver: Driver,
    amount: str = "30.00",
    currency: str = "EUR",
    key: str = "session-5-hold",
) -> Hold:
    return await provider.hold(
        amount=Decimal(amount),
        currency=currency,
        customer_id=driver.customer_id,
        payment_method_id=driver.payment_method_id,
        idempotency_key=key,
        description="Charging session 5",
        metadata={"session_id": "5"},
    )


# --- customers and cards ------------------------------------------------------------------


async def test_driver_registers_a_card_through_a_setup_intent(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    customer_id = await provider.create_customer(
        email="driver@example.com", reference="user:7", idempotency_key="customer-7"
    )
    intent = await provider.setup_payment_method(customer_id=customer_id, idempotency_key="s-7")
    method_id = fake.attach_card(customer_id, "pm_card_mastercard")
    method = await provider.get_payment_method(customer_id=customer_id, payment_method_id=method_id)

    assert customer_id.startswith("cus_")
    assert fake.customers[customer_id]["email"] == "driver@example.com"
    assert fake.customers[customer_id]["metadata"] == {"kilowatt_reference": "user:7"}
    assert intent.id.startswith("seti_")
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert fake.setup_intents[intent.id]["usage"] == "off_session"
    assert fake.setup_intents[intent.id]["status"] == "succeeded"
    assert (method.id, method.brand, method.last4) == (method_id, "mastercard", "4444")
    assert method.exp_month == 12 and method.exp_year is not None
    assert [r.idempotency_key for r in fake.requests if r.method == "POST"] == [
        "customer-7",
        "s-7",
    ]


async def test_payment_method_of_another_customer_is_not_found(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake)
    other = await provider.create_customer(
        email="other@example.com", reference="user:8", idempotency_key="customer-8"
    )

    with pytest.raises(PaymentError) as caught:
        await provider.get_payment_method(
            customer_id=other, payment_method_id=driver.payment_method_id
        )
    assert caught.value.code == "not_found"


async def test_unknown_payment_method_is_not_found(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake)

    with pytest.raises(PaymentError) as caught:
        await provider.get_payment_method(
            customer_id=driver.customer_id, payment_method_id="pm_doesnotexist"
        )
    assert caught.value.code == "not_found"
    assert caught.value.retryable is False


# --- holds --------------------------------------------------------------------------------


async def test_hold_authorizes_in_minor_units_with_manual_capture(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake)

    held = await hold(provider, driver, amount="25.50", currency="EUR")

    intent = fake.payment_intents[held.id]
    assert held == Hold(
        id=intent["id"], status="authorized", amount=Decimal("25.50"), currency="EUR"
    )
    assert (intent["amount"], intent["currency"]) == (2550, "eur")
    assert (intent["status"], intent["amount_capturable"]) == ("requires_capture", 2550)
    assert intent["capture_method"] == "manual"
    assert intent["customer"] == driver.customer_id
    assert intent["payment_method"] == driver.payment_method_id
    assert intent["metadata"] == {"session_id": "5"}
    (sent,) = fake.requests_to("POST", "/v1/payment_intents")
    assert sent.form["confirm"] == sent.form["off_session"] == "true"
    assert sent.idempotency_key == "session-5-hold"


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_declined_card_is_a_declined_hold_not_an_error(
    provider: StripeProvider, fake: FakeStripe, card: str, decline_code: str
) -> None:
    driver = await driver_with_card(provider, fake, card)

    held = await hold(provider, driver)

    assert held.status == "declined"
    assert held.decline_code == decline_code
    assert held.message
    assert (held.amount, held.currency) == (Decimal("30.00"), "EUR")
    # Stripe keeps the failed attempt; the hold points at it.
    assert fake.payment_intents[held.id]["status"] == "requires_payment_method"


async def test_card_needing_authentication_is_declined_off_session(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake, "pm_card_authenticationRequired")

    held = await hold(provider, driver)

    assert (held.status, held.decline_code) == ("declined", "authentication_required")


async def test_intent_waiting_for_authentication_is_declined_and_cancelled(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    fake.authentication_off_session = "requires_action"
    driver = await driver_with_card(provider, fake, "pm_card_authenticationRequired")

    held = await hold(provider, driver)

    assert (held.status, held.decline_code) == ("declined", "authentication_required")
    assert fake.payment_intents[held.id]["status"] == "canceled"
    (cancel,) = fake.requests_to("POST", f"/v1/payment_intents/{held.id}/cancel")
    assert cancel.idempotency_key


async def test_hold_without_payment_method_is_refused_before_calling_stripe(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    with pytest.raises(PaymentError) as caught:
        await hold(provider, Driver(customer_id="cus_1", payment_method_id=""))

    assert caught.value.code == "payment_method_required"
    assert fake.requests == []


# --- capture, release, refund -------------------------------------------------------------


async def test_capture_less_than_held_releases_the_rest(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    held = await hold(provider, await driver_with_card(provider, fake), amount="30.00")

    captured = await provider.capture(
        held.id, amount=Decimal("12.34"), currency="EUR", idempotency_key="session-5-capture"
    )

    assert (captured.hold_id, captured.amount, captured.currency) == (
        held.id,
        Decimal("12.34"),
        "EUR",
    )
    intent = fake.payment_intents[held.id]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 1234)
    assert intent["amount_capturable"] == 0
    (sent,) = fake.requests_to("POST", f"/v1/payment_intents/{held.id}/capture")
    assert sent.form == {"amount_to_capture": "1234"}
    assert sent.idempotency_key == "session-5-capture"


async def test_capture_in_a_zero_decimal_currency(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    held = await hold(provider, await driver_with_card(provider, fake), "3000", "JPY")

    captured = await provider.capture(
        held.id, amount=Decimal("1234"), currency="JPY", idempotency_key="capture"
    )

    intent = fake.payment_intents[held.id]
    assert (intent["amount"], intent["currency"], intent["amount_received"]) == (3000, "jpy", 1234)
    assert (held.amount, captured.amount, captured.currency) == (
        Decimal(3000),
        Decimal(1234),
        "JPY",
    )


async def test_capture_more_than_held_fails(provider: StripeProvider, fake: FakeStripe) -> None:
    held = await hold(provider, await driver_with_card(provider, fake), amount="10.00")

    with pytest.raises(PaymentError) as caught:
        await provider.capture(
            held.id, amount=Decimal("10.01"), currency="EUR", idempotency_key="capture"
        )

    assert (caught.value.code, caught.value.retryable) == ("amount_too_large", False)
    assert fake.payment_intents[held.id]["status"] == "requires_capture"


async def test_capture_repeated_under_a_new_key_confirms_the_first(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    """A capture whose answer was lost, retried with another key, is not a failure — unless
    the amounts differ."""
    held = await hold(provider, await driver_with_card(provider, fake))
    await provider.capture(held.id, amount=Decimal("7.00"), currency="EUR", idempotency_key="a")

    again = await provider.capture(
        held.id, amount=Decimal("7.00"), currency="EUR", idempotency_key="b"
    )
    with pytest.raises(PaymentError) as caught:
        await provider.capture(held.id, amount=Decimal("8.00"), currency="EUR", idempotency_key="c")

    assert again.amount == Decimal("7.00")
    assert caught.value.code == "payment_intent_unexpected_state"


async def test_release_cancels_the_hold(provider: StripeProvider, fake: FakeStripe) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))

    await provider.release(held.id, idempotency_key="session-5-release")

    intent = fake.payment_intents[held.id]
    assert (intent["status"], intent["amount_capturable"]) == ("canceled", 0)


async def test_release_twice_is_not_an_error(provider: StripeProvider, fake: FakeStripe) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))

    await provider.release(held.id, idempotency_key="release-1")
    await provider.release(held.id, idempotency_key="release-2")

    assert len(fake.requests_to("POST", f"/v1/payment_intents/{held.id}/cancel")) == 2
    assert fake.payment_intents[held.id]["status"] == "canceled"


async def test_release_after_capture_fails(provider: StripeProvider, fake: FakeStripe) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))
    await provider.capture(held.id, amount=Decimal("5.00"), currency="EUR", idempotency_key="c")

    with pytest.raises(PaymentError) as caught:
        await provider.release(held.id, idempotency_key="release")

    assert (caught.value.code, caught.value.retryable) == ("payment_intent_unexpected_state", False)
    assert fake.payment_intents[held.id]["status"] == "succeeded"


async def test_partial_refund_then_over_refund_fails(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))
    await provider.capture(held.id, amount=Decimal("15.00"), currency="EUR", idempotency_key="c")

    refund = await provider.refund(
        held.id,
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key="refund-1",
        reason="requested_by_customer",
    )
    with pytest.raises(PaymentError) as caught:
        await provider.refund(
            held.id,
            amount=Decimal("10.01"),
            currency="EUR",
            idempotency_key="refund-2",
            reason=None,
        )

    assert refund.id.startswith("re_")
    assert (refund.hold_id, refund.amount, refund.currency, refund.status) == (
        held.id,
        Decimal("5.00"),
        "EUR",
        "succeeded",
    )
    assert fake.refunds[refund.id]["amount"] == 500
    assert fake.refunds[refund.id]["reason"] == "requested_by_customer"
    assert caught.value.retryable is False
    assert len(fake.refunds) == 1


async def test_refund_reason_unknown_to_stripe_goes_to_metadata(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))
    await provider.capture(held.id, amount=Decimal("15.00"), currency="EUR", idempotency_key="c")

    refund = await provider.refund(
        held.id, amount=Decimal("1"), currency="EUR", idempotency_key="r", reason="meter_fault"
    )

    assert fake.refunds[refund.id]["reason"] is None
    assert fake.refunds[refund.id]["metadata"] == {"kilowatt_reason": "meter_fault"}


# --- idempotency and failures -------------------------------------------------------------


async def test_same_hold_key_creates_one_payment_intent(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake)

    first = await hold(provider, driver, key="session-5-hold")
    second = await hold(provider, driver, key="session-5-hold")

    assert first == second
    assert list(fake.payment_intents) == [first.id]
    assert len(fake.requests_to("POST", "/v1/payment_intents")) == 2


async def test_same_hold_key_replays_a_decline(provider: StripeProvider, fake: FakeStripe) -> None:
    driver = await driver_with_card(provider, fake, "pm_card_chargeDeclined")

    first = await hold(provider, driver, key="k")
    second = await hold(provider, driver, key="k")

    assert first == second and first.status == "declined"
    assert len(fake.payment_intents) == 1


async def test_same_key_with_other_parameters_is_refused(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    driver = await driver_with_card(provider, fake)
    await hold(provider, driver, amount="30.00", key="k")

    with pytest.raises(PaymentError) as caught:
        await hold(provider, driver, amount="31.00", key="k")

    assert (caught.value.code, caught.value.retryable) == ("idempotency_error", False)
    assert len(fake.payment_intents) == 1


async def test_server_error_is_retryable_and_the_retry_holds_once(fake: FakeStripe) -> None:
    async with provider_for(fake, max_network_retries=0) as provider:
        driver = await driver_with_card(provider, fake)
        fake.fail_next("/v1/payment_intents", status=500)

        with pytest.raises(PaymentError) as caught:
            await hold(provider, driver, key="k")
        assert (caught.value.code, caught.value.retryable) == ("api_error", True)
        assert fake.payment_intents == {}

        held = await hold(provider, driver, key="k")
    assert held.status == "authorized"
    assert list(fake.payment_intents) == [held.id]


async def test_rate_limit_is_retryable(fake: FakeStripe) -> None:
    async with provider_for(fake, max_network_retries=0) as provider:
        fake.fail_next("/v1/customers", 429, "invalid_request_error", code="rate_limit")

        with pytest.raises(PaymentError) as caught:
            await provider.create_customer(
                email="d@example.com", reference="u", idempotency_key="k"
            )
    assert (caught.value.code, caught.value.retryable) == ("rate_limit", True)


async def test_sdk_retries_a_server_error_with_the_same_key(
    fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []

    async def no_wait(self: object, seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(stripe.HTTPXClient, "sleep_async", no_wait)
    async with provider_for(fake, max_network_retries=2) as provider:
        driver = await driver_with_card(provider, fake)
        fake.fail_next("/v1/payment_intents", status=503)

        held = await hold(provider, driver, key="session-5-hold")

    assert held.status == "authorized"
    assert len(delays) == 1
    sent = fake.requests_to("POST", "/v1/payment_intents")
    assert [r.idempotency_key for r in sent] == ["session-5-hold", "session-5-hold"]
    assert list(fake.payment_intents) == [held.id]


async def test_sdk_gives_up_after_its_retries(
    fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_wait(self: object, seconds: float) -> None:
        return None

    monkeypatch.setattr(stripe.HTTPXClient, "sleep_async", no_wait)
    async with provider_for(fake, max_network_retries=1) as provider:
        driver = await driver_with_card(provider, fake)
        fake.fail_next("/v1/payment_intents", status=500, times=2)

        with pytest.raises(PaymentError) as caught:
            await hold(provider, driver)

    assert caught.value.retryable is True
    assert len(fake.requests_to("POST", "/v1/payment_intents")) == 2
    assert fake.payment_intents == {}


async def test_unreachable_stripe_is_retryable() -> None:
    async with running_fake_stripe() as gone:
        url = gone.url
    provider = StripeProvider("sk_test_x", webhook_secret=None, api_base=url, max_network_retries=0)
    try:
        with pytest.raises(PaymentError) as caught:
            await provider.create_customer(
                email="d@example.com", reference="u", idempotency_key="k"
            )
    finally:
        await provider.aclose()
    assert (caught.value.code, caught.value.retryable) == ("connection_error", True)


async def test_wrong_api_key_is_not_retryable(fake: FakeStripe) -> None:
    async with provider_for(fake, api_key="sk_test_wrong") as provider:
        with pytest.raises(PaymentError) as caught:
            await provider.create_customer(
                email="d@example.com", reference="u", idempotency_key="k"
            )
    assert (caught.value.code, caught.value.retryable) == ("authentication_error", False)
    assert fake.customers == {}


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.34", "EUR", 1234),
        ("0.5", "usd", 50),
        ("500", "JPY", 500),
        ("1.250", "KWD", 1250),
        ("0.010", "BHD", 10),
    ],
)
def test_amounts_travel_in_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_stripe_amount(Decimal(amount), currency) == minor
    assert from_stripe_amount(minor, currency) == Decimal(amount)


@pytest.mark.parametrize(("amount", "currency"), [("0.001", "EUR"), ("1.5", "JPY"), ("NaN", "EUR")])
def test_amounts_finer_than_the_minor_unit_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):
        to_stripe_amount(Decimal(amount), currency)


# --- webhooks -----------------------------------------------------------------------------


async def test_signed_payment_intent_event_names_its_hold(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    held = await hold(provider, await driver_with_card(provider, fake))
    payload, headers = fake.signed_event(
        "payment_intent.amount_capturable_updated", fake.payment_intents[held.id]
    )

    event = provider.parse_webhook(payload, headers)

    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.amount_capturable_updated"
    assert event.hold_id == held.id
    assert event.data["amount_capturable"] == 3000


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}),
        ("refund.updated", {"id": "re_1", "object": "refund", "payment_intent": "pi_1"}),
        ("charge.captured", {"id": "ch_1", "object": "charge", "payment_intent": {"id": "pi_1"}}),
    ],
)
def test_charge_and_refund_events_name_their_payment_intent(
    provider: StripeProvider, fake: FakeStripe, event_type: str, obj: dict[str, Any]
) -> None:
    payload, headers = fake.signed_event(event_type, obj)

    assert provider.parse_webhook(payload, headers).hold_id == "pi_1"


def test_event_without_a_payment_intent_has_no_hold(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    payload, headers = fake.signed_event("customer.created", {"id": "cus_1", "object": "customer"})

    event = provider.parse_webhook(payload, {k.lower(): v for k, v in headers.items()})

    assert (event.type, event.hold_id) == ("customer.created", None)


def _tampered(fake: FakeStripe) -> tuple[bytes, dict[str, str]]:
    payload, headers = fake.signed_event("payment_intent.succeeded", {"id": "pi_1"})
    return payload.replace(b"pi_1", b"pi_2"), headers


def _unparsable(fake: FakeStripe) -> tuple[bytes, dict[str, str]]:
    payload = b"not json"
    timestamp = int(time.time())
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), fake.webhook_secret, timestamp
    )
    return payload, {"Stripe-Signature": header}


BAD_WEBHOOKS = {
    "tampered": _tampered,
    "wrong secret": lambda fake: fake.signed_event("x.y", {"id": "pi_1"}, secret="whsec_other"),
    "too old": lambda fake: fake.signed_event(
        "x.y", {"id": "pi_1"}, timestamp=int(time.time()) - 301
    ),
    "unsigned": lambda fake: (fake.signed_event("x.y", {"id": "pi_1"})[0], {}),
    "not json": _unparsable,
}


@pytest.mark.parametrize("case", BAD_WEBHOOKS)
def test_bad_webhooks_are_invalid(provider: StripeProvider, fake: FakeStripe, case: str) -> None:
    payload, headers = BAD_WEBHOOKS[case](fake)

    with pytest.raises(InvalidWebhook):
        provider.parse_webhook(payload, headers)


def test_signed_body_that_is_not_an_event_is_invalid(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    payload = json.dumps({"id": "evt_1", "type": "x.y"}).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), fake.webhook_secret
    )

    with pytest.raises(InvalidWebhook):
        provider.parse_webhook(payload, {"Stripe-Signature": header})


async def test_webhooks_need_a_secret(fake: FakeStripe) -> None:
    payload, headers = fake.signed_event("payment_intent.succeeded", {"id": "pi_1"})
    async with provider_for(fake, webhook_secret=None) as provider:
        with pytest.raises(InvalidWebhook):
            provider.parse_webhook(payload, headers)


# --- the fake itself: it must be as strict as Stripe, or the tests above prove little ---


def fake_client(fake: FakeStripe, key: str | None = None) -> httpx.AsyncClient:
    auth = {"Authorization": f"Bearer {key or fake.api_key}"}
    return httpx.AsyncClient(base_url=fake.url, headers=auth)


async def test_fake_requires_the_secret_key(fake: FakeStripe) -> None:
    async with (
        httpx.AsyncClient(base_url=fake.url) as anonymous,
        fake_client(fake, "sk_test_nope") as wrong,
    ):
        missing = await anonymous.post("/v1/customers", data={"email": "d@example.com"})
        invalid = await wrong.post("/v1/customers", data={"email": "d@example.com"})

    assert (missing.status_code, invalid.status_code) == (401, 401)
    assert invalid.json()["error"]["type"] == "invalid_request_error"
    assert fake.customers == {}


async def test_fake_replays_the_saved_answer_for_a_key(fake: FakeStripe) -> None:
    async with fake_client(fake) as client:
        form = {"email": "d@example.com", "metadata[user]": "7"}
        first = await client.post("/v1/customers", data=form, headers={"Idempotency-Key": "k"})
        fake.customers[first.json()["id"]]["email"] = "changed@example.com"
        again = await client.post("/v1/customers", data=form, headers={"Idempotency-Key": "k"})
        other = await client.post(
            "/v1/customers", data={"email": "x@example.com"}, headers={"Idempotency-Key": "k"}
        )

    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["metadata"] == {"user": "7"}
    assert (other.status_code, other.json()["error"]["type"]) == (400, "idempotency_error")
    assert len(fake.customers) == 1


async def test_fake_expands_and_rejects_unknown_parameters(fake: FakeStripe) -> None:
    async with fake_client(fake) as client:
        customer = (await client.post("/v1/customers", data={"email": "d@example.com"})).json()
        intent = await client.post(
            "/v1/setup_intents", data={"customer": customer["id"], "expand[]": "customer"}
        )
        unknown = await client.post("/v1/customers", data={"emial": "d@example.com"})
        removed = await client.post(
            "/v1/setup_intents",
            data={"customer": customer["id"], "payment_method_types[0]": "card"},
        )

    assert intent.json()["customer"]["email"] == "d@example.com"
    assert unknown.status_code == 400
    assert (unknown.json()["error"]["code"], unknown.json()["error"]["param"]) == (
        "parameter_unknown",
        "emial",
    )
    assert removed.json()["error"]["code"] == "payment_method_types_no_longer_supported"


async def test_fake_answers_stripe_errors(fake: FakeStripe) -> None:
    async with fake_client(fake) as client:
        declined = await client.post(
            "/v1/payment_intents",
            data={"amount": "100", "currency": "eur", "confirm": "true"}
            | {"payment_method": "pm_card_chargeDeclined", "capture_method": "manual"},
        )
        missing = await client.get("/v1/payment_intents/pi_nope")
        intent = declined.json()["error"]["payment_intent"]
        await client.post(f"/v1/payment_intents/{intent['id']}/cancel")
        twice = await client.post(f"/v1/payment_intents/{intent['id']}/cancel")

    assert declined.status_code == 402
    assert declined.json()["error"]["type"] == "card_error"
    assert declined.json()["error"]["code"] == "card_declined"
    assert declined.json()["error"]["decline_code"] == "generic_decline"
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "resource_missing")
    assert twice.status_code == 400
    assert twice.json()["error"]["code"] == "payment_intent_unexpected_state"


async def test_fake_does_not_save_answers_to_invalid_requests(fake: FakeStripe) -> None:
    """As with Stripe, a request that fails validation can be corrected under the same key."""
    async with fake_client(fake) as client:
        wrong = await client.post(
            "/v1/customers", data={"emial": "d@example.com"}, headers={"Idempotency-Key": "k"}
        )
        right = await client.post(
            "/v1/customers", data={"email": "d@example.com"}, headers={"Idempotency-Key": "k"}
        )

    assert (wrong.status_code, right.status_code) == (400, 200)
    assert "idempotent-replayed" not in right.headers
    assert [c["email"] for c in fake.customers.values()] == ["d@example.com"]


def test_stripe_units_are_stripes_not_iso_4217() -> None:
    # ISK has no decimals in ISO 4217, but Stripe takes it with two.
    assert to_stripe_amount(Decimal("1500"), "ISK") == 150000
