"""The contract between Kilowatt's billing and a payment provider.

Card data never reaches Kilowatt: the driver's app collects the card with the provider's own SDK
through a SetupIntent whose client secret Kilowatt hands out, and Kilowatt keeps only customer
and payment-method ids. Money is ``Decimal`` in major units with an upper-case ISO 4217 currency;
each provider converts to its own wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol


class PaymentError(Exception):
    """The provider failed or refused an operation.

    ``retryable`` is true when the same call (with the same idempotency key) may succeed later:
    network errors, 5xx answers, rate limits.
    """

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"PaymentError({self.message!r}, code={self.code!r}, retryable={self.retryable!r})"


class InvalidWebhook(Exception):
    """A webhook with a bad signature, a timestamp too old, or a body that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class SetupIntent:
    """What the driver's app needs to collect a card with the provider's SDK."""

    id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True, slots=True)
class Hold:
    """An authorisation of ``amount`` on the driver's card, captured or released later."""

    id: str  # provider reference (Stripe: the PaymentIntent id)
    status: Literal["authorized", "declined"]
    amount: Decimal
    currency: str  # upper-case ISO 4217
    decline_code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Capture:
    hold_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    hold_id: str
    amount: Decimal
    currency: str
    status: str


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider event; ``data`` is the object the event is about."""

    id: str
    type: str
    hold_id: str | None
    data: Mapping[str, Any]


class PaymentProvider(Protocol):
    name: str  # "none" | "stripe"
    needs_payment_method: bool  # False for "none": sessions start without a card

    async def create_customer(self, *, email: str, reference: str, idempotency_key: str) -> str:
        """Create the driver's customer record at the provider; returns its id."""
        ...

    async def setup_payment_method(self, *, customer_id: str, idempotency_key: str) -> SetupIntent:
        """Start collecting a card for later off-session holds."""
        ...

    async def get_payment_method(
        self, *, customer_id: str, payment_method_id: str
    ) -> PaymentMethod:
        """The card; PaymentError(code="not_found") if missing or another customer's."""
        ...

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
        """Authorise ``amount``. A card decline is a declined Hold, not an exception."""
        ...

    async def capture(
        self, hold_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> Capture:
        """Capture ``amount`` (at most the held amount); the provider releases the rest."""
        ...

    async def release(self, hold_id: str, *, idempotency_key: str) -> None:
        """Cancel the hold entirely; releasing an already released hold is not an error."""
        ...

    async def refund(
        self,
        hold_id: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        reason: str | None,
    ) -> Refund:
        """Give back ``amount`` of a captured hold."""
        ...

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify and parse a provider webhook; raises InvalidWebhook."""
        ...

    async def aclose(self) -> None: ...
