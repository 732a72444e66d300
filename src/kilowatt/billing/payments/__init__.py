"""Payment providers behind one interface (``base.PaymentProvider``): ``none`` and ``stripe``.

``StripeProvider`` lives in ``kilowatt.billing.payments.stripe_provider`` and is imported from
there, so that nodes without Stripe do not pay for importing the SDK.
"""

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
from kilowatt.billing.payments.none import NoPaymentProvider

__all__ = [
    "Capture",
    "Hold",
    "InvalidWebhook",
    "NoPaymentProvider",
    "PaymentError",
    "PaymentMethod",
    "PaymentProvider",
    "Refund",
    "SetupIntent",
    "WebhookEvent",
]
