"""The rules of webhooks: where they may go, which events they take, what is sent.

Services never commit; a refused operation is a ``WebhookError`` carrying the HTTP status of the
answer. Sending is the dispatcher's (``kilowatt.webhooks.dispatcher``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.db import utcnow
from kilowatt.events import Event
from kilowatt.webhooks import repository
from kilowatt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from kilowatt.webhooks.signing import new_secret

# Hosts a plain-http URL may name: a receiver on the operator's own machine, in development.
# Anything else must be https, so that payloads and signatures are not readable on the way.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# "session.started", "session.*" (every type under "session."), or "*" (everything).
EVENT_PATTERN = r"^(?:\*|[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*(?:\.\*)?)$"
TEST_EVENT = "webhook.test"
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


class WebhookError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


# ---- what a subscription may say -----------------------------------------------------------------
def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None if it can.

    https only; plain http only to ``localhost``, ``127.0.0.1`` or ``[::1]`` (a receiver in
    development). No credentials in the URL (the signature is what authenticates Kilowatt) and
    no fragment.
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"is not a valid URL ({exc})"
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "must be an absolute https:// URL"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return "has an invalid port"
    if parsed.userinfo:
        return "must not contain credentials"
    if parsed.fragment:
        return "must not contain a #fragment"
    if parsed.scheme == "http" and parsed.host not in LOCAL_HOSTS:
        return "must use https (plain http only to localhost, 127.0.0.1 or [::1])"
    return None


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether a subscription to ``patterns`` takes events of ``event_type``."""
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


# ---- what is sent ----------------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: never through a float
    return str(value)


def body_of(event: Event) -> str:
    """The request body for ``event``: Standard Webhooks' ``type`` / ``timestamp`` / ``data``,
    with the bus's JSON form of the event as ``data``. Serialised once, so that every attempt
    sends (and signs) the same bytes."""
    at = event.at or utcnow()
    payload = {
        "type": event.type,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": event.as_json(),
    }
    return json.dumps(payload, separators=(",", ":"), default=_json_default)


def new_message_id() -> str:
    """A ``webhook-id``: unique, and without a ``.`` (it is part of the signed content)."""
    return "msg_" + secrets.token_hex(16)


def delivery_row(subscription_id: int, event: Event, body: str, now: datetime) -> dict[str, Any]:
    """A new pending delivery, due now, as a row to insert."""
    return {
        "subscription_id": subscription_id,
        "message_id": new_message_id(),
        "event_id": event.id[:64],
        "event_type": event.type[:100],
        "body": body,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


# ---- subscriptions -------------------------------------------------------------------------------
def _not_found(subscription_id: int) -> WebhookError:
    return WebhookError(404, "Webhook not found", f"no webhook {subscription_id}")


async def visible_subscription(
    db: AsyncSession, subscription_id: int, tenant_id: int | None
) -> WebhookSubscription:
    """The subscription if the caller's tenant (None: every tenant) holds it; 404 otherwise."""
    subscription = await repository.subscription_in(db, subscription_id, tenant_id)
    if subscription is None:
        raise _not_found(subscription_id)
    return subscription


async def subscriptions_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[WebhookSubscription], int]:
    return await repository.subscriptions_page(db, tenant_id, limit=limit, offset=offset)


def _checked_url(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise WebhookError(422, "Invalid webhook URL", f"the URL {problem}")
    return url


async def create_subscription(
    db: AsyncSession,
    tenant_id: int,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None = None,
    active: bool = True,
) -> WebhookSubscription:
    """A new subscription with a new signing secret (the caller shows it once)."""
    now = utcnow()
    subscription = WebhookSubscription(
        tenant_id=tenant_id,
        url=_checked_url(url),
        event_types=list(dict.fromkeys(event_types)),
        description=description,
        active=active,
        secret=new_secret(),
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    db.add(subscription)
    await db.flush()
    return subscription


async def update_subscription(
    db: AsyncSession,
    subscription: WebhookSubscription,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    clear_description: bool = False,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given. Switching a subscription on again forgets its failures (and why
    it was switched off); its pending deliveries then go out."""
    if url is not None:
        subscription.url = _checked_url(url)
    if event_types is not None:
        subscription.event_types = list(dict.fromkeys(event_types))
    if clear_description:
        subscription.description = None
    elif description is not None:
        subscription.description = description
    if active is not None:
        if active and not subscription.active:
            subscription.consecutive_failures = 0
            subscription.disabled_reason = None
        subscription.active = active
    subscription.updated_at = utcnow()
    await db.flush()
    return subscription


async def rotate_secret(db: AsyncSession, subscription: WebhookSubscription) -> str:
    """A new signing secret; the old one stops working at once (also for retries)."""
    subscription.secret = new_secret()
    subscription.updated_at = utcnow()
    await db.flush()
    return subscription.secret


async def delete_subscription(db: AsyncSession, subscription: WebhookSubscription) -> None:
    """Delete it with its delivery log (the database cascades)."""
    await db.delete(subscription)
    await db.flush()


# ---- the delivery log ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def deliveries_page(
    db: AsyncSession,
    subscription: WebhookSubscription,
    state: str | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[DeliveryView], int]:
    """A page of the subscription's deliveries, newest first, each with its attempts."""
    rows, total = await repository.deliveries_page(
        db, subscription.id, state, limit=limit, offset=offset
    )
    attempts = await repository.attempts_of(db, (row.id for row in rows))
    return [DeliveryView(row, attempts[row.id]) for row in rows], total


async def delivery_view(db: AsyncSession, delivery_id: int) -> DeliveryView:
    delivery = await repository.delivery_in(db, delivery_id, None)
    if delivery is None:
        raise WebhookError(404, "Delivery not found", f"no delivery {delivery_id}")
    attempts = await repository.attempts_of(db, [delivery.id])
    return DeliveryView(delivery, attempts[delivery.id])


async def visible_delivery(
    db: AsyncSession, delivery_id: int, tenant_id: int | None
) -> WebhookDelivery:
    delivery = await repository.delivery_in(db, delivery_id, tenant_id)
    if delivery is None:
        raise WebhookError(404, "Delivery not found", f"no delivery {delivery_id}")
    return delivery


def check_redeliverable(delivery: WebhookDelivery) -> None:
    """Only a delivery that failed for good may be sent again by hand."""
    if delivery.state != "failed":
        raise WebhookError(
            409, "Delivery not failed", f"the delivery is {delivery.state}; only failed ones"
        )


async def add_test_delivery(db: AsyncSession, subscription: WebhookSubscription) -> int:
    """A ``webhook.test`` delivery for the subscription only, claimed for sending at once."""
    now = utcnow()
    event = Event(
        TEST_EVENT,
        {"message": "a test event from Kilowatt", "webhook_id": subscription.id},
        tenant_id=subscription.tenant_id,
        id=f"test-{secrets.token_hex(8)}",
        at=now,
    )
    delivery = WebhookDelivery(
        **delivery_row(subscription.id, event, body_of(event), now)
        | {"state": "sending", "next_attempt_at": None}
    )
    db.add(delivery)
    await db.flush()
    return delivery.id


__all__ = [
    "DELIVERY_STATES",
    "EVENT_PATTERN",
    "LOCAL_HOSTS",
    "TEST_EVENT",
    "DeliveryView",
    "WebhookError",
    "body_of",
    "matches",
    "url_problem",
]
