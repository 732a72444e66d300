"""API models of webhook subscriptions and their delivery log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kilowatt.api.auth import TENANT_FIELD_DESCRIPTION, TenantRefIn
from kilowatt.webhooks.models import WebhookAttempt, WebhookDelivery
from kilowatt.webhooks.service import EVENT_PATTERN, url_problem

DeliveryState = Literal["pending", "sending", "delivered", "failed"]
EventPattern = Annotated[str, Field(min_length=1, max_length=100, pattern=EVENT_PATTERN)]

URL_DESCRIPTION = (
    "where events are POSTed: https, or plain http to localhost / 127.0.0.1 / [::1] only "
    "(a receiver in development); no credentials, no fragment"
)
EVENT_TYPES_DESCRIPTION = (
    'event types to deliver: exact ("session.started"), every type under a prefix '
    '("session.*") or everything ("*")'
)


def _checked_url(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"the URL {problem}")
    return url


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description=URL_DESCRIPTION)
    event_types: list[EventPattern] = Field(
        default=["*"], min_length=1, max_length=50, description=EVENT_TYPES_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=500)
    active: bool = True
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _checked_url(url)


class WebhookUpdate(BaseModel):
    """Only the fields given change; ``description: null`` clears it. ``active: true`` switches
    a subscription on again (also one switched off after failures) and forgets its failures."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None, min_length=1, max_length=2000, description=URL_DESCRIPTION
    )
    event_types: list[EventPattern] | None = Field(
        default=None, min_length=1, max_length=50, description=EVENT_TYPES_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _checked_url(url)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None = Field(description="why Kilowatt switched it off, if it did")
    consecutive_failures: int = Field(description="deliveries in a row that failed for good")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    """A subscription with its signing secret: answered on create and on rotation only."""

    secret: str = Field(
        description="the Standard Webhooks signing secret (whsec_…); shown only now, keep it"
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int = Field(description="1 for the first attempt")
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status; null: no answer")
    duration_ms: int
    error: str | None = Field(description="why it did not count as delivered; null if it did")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    event_id: str
    event_type: str
    state: DeliveryState
    status_code: int | None = Field(description="of the last attempt")
    duration_ms: int | None = Field(description="of the last attempt")
    error: str | None = Field(description="of the last attempt")
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="the JSON body sent")
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryOut:
        return cls(
            id=delivery.id,
            webhook_id=delivery.subscription_id,
            message_id=delivery.message_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            state=delivery.state,  # type: ignore[arg-type]
            status_code=delivery.last_status_code,
            duration_ms=delivery.last_duration_ms,
            error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            payload=json.loads(delivery.body),
            attempts=[AttemptOut.model_validate(a) for a in attempts],
        )
