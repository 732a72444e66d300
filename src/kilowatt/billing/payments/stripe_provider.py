"""Stripe behind the PaymentProvider contract, on the official ``stripe`` package.

A hold is a PaymentIntent confirmed off-session with ``capture_method=manual``; capture and
release act on that intent. Only the SDK's ``*_async`` methods are used, over ``httpx``, so the
event loop never blocks; every POST carries the caller's idempotency key, so a retried call is
answered with the first call's result instead of moving money twice. Amounts must be whole
minor units of their currency: anything finer is the caller's bug (ValueError), never rounded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, NoReturn, cast

import stripe
from stripe.params import PaymentIntentCreateParams, RefundCreateParams

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

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE = 300  # seconds, Stripe's own default
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

# Stripe's amounts are integers in its own minor units (docs.stripe.com/currencies): these
# currencies have none or three decimals, every other one two. They are not billing.money's ISO
# 4217 exponents: ISK, for one, has no decimals in ISO 4217 but two at Stripe.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def _exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_stripe_amount(amount: Decimal, currency: str) -> int:
    """``amount`` in Stripe's integer minor units; raises ValueError rather than round."""
    scaled = amount.scaleb(_exponent(currency))
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_stripe_amount(value: int, currency: str) -> Decimal:
    """A Stripe amount back in major units, with the currency's decimals (2550 EUR → 25.50)."""
    return Decimal(value).scaleb(-_exponent(currency))


def _id(field: Any) -> str | None:
    """The id of an expandable field (a bare id, or the expanded object)."""
    if field is None or isinstance(field, str):
        return field
    found = getattr(field, "id", None)
    if found is None and isinstance(field, Mapping):
        found = field.get("id")
    return found if isinstance(found, str) else None


def _error_code(err: stripe.StripeError) -> str | None:
    """Stripe's error code; failing that, what kind of error it was."""
    details = err.error
    code = err.code or (getattr(details, "code", None) if details is not None else None)
    if code:
        return str(code)
    if isinstance(err, stripe.AuthenticationError):
        return "authentication_error"
    if isinstance(err, stripe.PermissionError):
        return "permission_error"
    kind = getattr(details, "type", None) if details is not None else None
    return str(kind) if kind else None


def _raise_payment_error(err: stripe.StripeError) -> NoReturn:
    """Translate an SDK error: transient failures are retryable, refusals are not."""
    message = err.user_message or type(err).__name__
    if isinstance(err, stripe.APIConnectionError):
        raise PaymentError(message, code="connection_error", retryable=True) from err
    if isinstance(err, stripe.RateLimitError):
        raise PaymentError(message, code="rate_limit", retryable=True) from err
    if isinstance(err, stripe.APIError):
        # Everything the SDK cannot place: 5xx, 409 (a concurrent request with the same key),
        # or a body that is not Stripe's.
        status = err.http_status
        retryable = status is None or status >= 500 or status == 409
        raise PaymentError(
            message, code=_error_code(err) or "api_error", retryable=retryable
        ) from err
    raise PaymentError(message, code=_error_code(err), retryable=False) from err


def _is_unexpected_state(err: stripe.StripeError) -> bool:
    return isinstance(err, stripe.InvalidRequestError) and (
        _error_code(err) == "payment_intent_unexpected_state"
    )


class StripeProvider:
    name: str = "stripe"
    needs_payment_method: bool = True

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str | None,
        api_base: str = "https://api.stripe.com",
        max_network_retries: int = 2,
        timeout: float = 20.0,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        # The SDK leaves close_async unannotated.
        close = cast(Callable[[], Awaitable[None]], self._http.close_async)
        await close()

    # --- customers and cards --------------------------------------------------------------

    async def create_customer(self, *, email: str, reference: str, idempotency_key: str) -> str:
        try:
            customer = await self._client.v1.customers.create_async(
                {"email": email, "metadata": {"kilowatt_reference": reference}},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as err:
            _raise_payment_error(err)
        return customer.id

    async def setup_payment_method(self, *, customer_id: str, idempotency_key: str) -> SetupIntent:
        try:
            intent = await self._client.v1.setup_intents.create_async(
                # Cards only: they are what supports a manual-capture hold later.
                {
                    "customer": customer_id,
                    "usage": "off_session",
                    "allowed_payment_method_types": ["card"],
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as err:
            _raise_payment_error(err)
        if not intent.client_secret:
            raise PaymentError("Stripe returned a SetupIntent without a client secret")
        return SetupIntent(id=intent.id, client_secret=intent.client_secret)

    async def get_payment_method(
        self, *, customer_id: str, payment_method_id: str
    ) -> PaymentMethod:
        try:
            method = await self._client.v1.payment_methods.retrieve_async(payment_method_id)
        except stripe.InvalidRequestError as err:
            if err.http_status == 404 or _error_code(err) == "resource_missing":
                raise PaymentError(
                    f"no payment method {payment_method_id}", code="not_found"
                ) from err
            _raise_payment_error(err)
        except stripe.StripeError as err:
            _raise_payment_error(err)
        if _id(method.customer) != customer_id:
            raise PaymentError(f"no payment method {payment_method_id}", code="not_found")
        card = method.card
        return PaymentMethod(
            id=method.id,
            brand=card.brand if card else None,
            last4=card.last4 if card else None,
            exp_month=card.exp_month if card else None,
            exp_year=card.exp_year if card else None,
        )

    # --- holds ----------------------------------------------------------------------------

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
        if not payment_method_id:
            raise PaymentError(
                "a Stripe hold needs a payment method", code="payment_method_required"
            )
        code = currency.upper()
        params: PaymentIntentCreateParams = {
            "amount": to_stripe_amount(amount, code),
            "currency": code.lower(),
            "payment_method": payment_method_id,
            "allowed_payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
            "off_session": True,
            "description": description,
            "metadata": dict(metadata),
        }
        if customer_id:
            params["customer"] = customer_id
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as err:
            return self._declined(err, amount=amount, currency=code)
        except stripe.StripeError as err:
            _raise_payment_error(err)
        if intent.status == "requires_capture":
            return Hold(
                id=intent.id,
                status="authorized",
                amount=from_stripe_amount(intent.amount_capturable, code),
                currency=intent.currency.upper(),
            )
        # No hold. In practice the bank wants the driver to authenticate (requires_action),
        # which an off-session hold cannot do; the intent is cancelled rather than left open.
        await self._abandon(intent.id, idempotency_key=f"{idempotency_key}:abandon")
        return Hold(
            id=intent.id,
            status="declined",
            amount=amount,
            currency=code,
            decline_code="authentication_required",
            message=f"the card needs authentication (payment intent status {intent.status})",
        )

    @staticmethod
    def _declined(err: stripe.CardError, *, amount: Decimal, currency: str) -> Hold:
        details = err.error
        intent = getattr(details, "payment_intent", None) if details is not None else None
        decline_code = getattr(details, "decline_code", None) if details is not None else None
        return Hold(
            # Stripe keeps the failed PaymentIntent; without one the request id is the trace.
            id=_id(intent) or err.request_id or "",
            status="declined",
            amount=amount,
            currency=currency,
            decline_code=decline_code or err.code or "card_declined",
            message=err.user_message,
        )

    async def _abandon(self, intent_id: str, *, idempotency_key: str) -> None:
        """Cancel an intent that will never be captured; it holds no funds, so failure is
        logged, not raised."""
        try:
            await self._client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as err:
            log.warning("could not cancel unauthenticated payment intent %s: %s", intent_id, err)

    async def capture(
        self, hold_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> Capture:
        code = currency.upper()
        minor = to_stripe_amount(amount, code)
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                hold_id, {"amount_to_capture": minor}, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as err:
            if not _is_unexpected_state(err):
                _raise_payment_error(err)
            # A capture that succeeded but whose answer was lost, retried under a new key.
            intent = await self._retrieve(hold_id)
            if intent.status != "succeeded" or intent.amount_received != minor:
                _raise_payment_error(err)
        return Capture(
            hold_id=intent.id,
            amount=from_stripe_amount(intent.amount_received, code),
            currency=intent.currency.upper(),
        )

    async def release(self, hold_id: str, *, idempotency_key: str) -> None:
        try:
            await self._client.v1.payment_intents.cancel_async(
                hold_id, None, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as err:
            if not _is_unexpected_state(err):
                _raise_payment_error(err)
            if (await self._retrieve(hold_id)).status != "canceled":
                _raise_payment_error(err)

    async def _retrieve(self, intent_id: str) -> stripe.PaymentIntent:
        try:
            return await self._client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as err:
            _raise_payment_error(err)

    async def refund(
        self,
        hold_id: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        reason: str | None,
    ) -> Refund:
        code = currency.upper()
        params: RefundCreateParams = {
            "payment_intent": hold_id,
            "amount": to_stripe_amount(amount, code),
        }
        if reason in REFUND_REASONS:
            params["reason"] = reason
        elif reason:
            # Stripe accepts only its three reasons; Kilowatt's own one is kept as metadata.
            params["metadata"] = {"kilowatt_reason": reason}
        try:
            refund = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as err:
            _raise_payment_error(err)
        return Refund(
            id=refund.id,
            hold_id=_id(refund.payment_intent) or hold_id,
            amount=from_stripe_amount(refund.amount, code),
            currency=refund.currency.upper(),
            status=refund.status or "pending",
        )

    # --- webhooks -------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        if not self._webhook_secret:
            raise InvalidWebhook("no Stripe webhook secret is configured")
        signature = next(
            (value for key, value in headers.items() if key.lower() == "stripe-signature"), None
        )
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, WEBHOOK_TOLERANCE
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError) as err:
            raise InvalidWebhook(str(err)) from err
        try:
            obj = event["data"]["object"]
            event_id, event_type = event["id"], event["type"]
        except (KeyError, TypeError) as err:
            raise InvalidWebhook(f"not a Stripe event: missing {err}") from err
        if not (
            isinstance(obj, dict) and isinstance(event_id, str) and isinstance(event_type, str)
        ):
            raise InvalidWebhook("not a Stripe event")
        return WebhookEvent(id=event_id, type=event_type, hold_id=_hold_id(obj), data=obj)


def _hold_id(obj: Mapping[str, Any]) -> str | None:
    """The PaymentIntent an event's object belongs to (charges and refunds point at it)."""
    if obj.get("object") == "payment_intent":
        found = obj.get("id")
        return found if isinstance(found, str) else None
    return _id(obj.get("payment_intent"))


def _conforms(provider: StripeProvider) -> PaymentProvider:
    return provider  # mypy holds StripeProvider to the protocol here
