"""Billing records: tariffs and where they apply, payments and their provider events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow

# Money columns: 18 digits, 6 after the point (unit prices carry up to 6 decimals).
MONEY = Numeric(18, 6)


class Tariff(Base):
    """An OCPI 2.2.1-shaped tariff of a tenant; ``spec`` is its JSON form (billing.tariffs)."""

    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    spec: Mapped[dict[str, Any]]
    # Bumped on every change; a session keeps the snapshot it started with.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TariffAssignment(Base):
    """Where a tariff applies: the whole tenant, a site, a station or one connector, optionally
    only for one token group. The most specific assignment wins (see billing.service)."""

    __tablename__ = "tariff_assignments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "scope_key", name="uq_tariff_assignments_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None]  # the connector number on ``station_id``
    token_group: Mapped[str | None] = mapped_column(String(40))
    # "tenant" | "site:3" | "station:5" | "connector:5/1", then "|group" — one tariff per place.
    scope_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentAccount(Base):
    """A driver's customer record at the payment provider and their default card (ids only)."""

    __tablename__ = "payment_accounts"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provider: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(255))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    card_brand: Mapped[str | None] = mapped_column(String(40))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    """The money side of one session: a hold at start, a capture at the final bill.

    state: held → capture_due → captured | capture_failed → (retries) → unpaid;
    held → release_due → released; declined (no start); expired (the provider let the hold
    lapse); no_payment (nothing to charge: the ``none`` provider with a bill, or no card).
    """

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("charging_sessions.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    hold_id: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    hold_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    amount_due: Mapped[Decimal | None] = mapped_column(MONEY)  # the final bill, when known
    captured_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    # Billed but not collected: above the hold, or a capture that kept failing.
    balance_due: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentRefund(Base):
    """A refund an operator made of (part of) a captured payment."""

    __tablename__ = "payment_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str | None] = mapped_column(String(60))
    # "<payment id>:<the client's Idempotency-Key>": a retried refund request refunds once.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentEvent(Base):
    """A provider webhook event, kept by its id so that a repeated delivery is applied once."""

    __tablename__ = "payment_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(100))
    hold_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
