from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class ChargingSession(Base):
    """What a driver sees: from the request to start until the receipt (DESIGN.md decision 4).

    pending → active (the charger's StartTransaction arrived) → completed (ended, billed);
    failed (refused, offline, no answer), expired (accepted but never started), cancelled
    (ended before it started). A session wraps at most one transaction.
    """

    __tablename__ = "charging_sessions"
    __table_args__ = (
        Index("ix_charging_sessions_user_requested", "user_id", "requested_at"),
        Index("ix_charging_sessions_tenant_requested", "tenant_id", "requested_at"),
        Index("ix_charging_sessions_connector_state", "station_id", "connector_id", "state"),
        # At most one session starting or running per connector, even under concurrent starts.
        Index(
            "uq_charging_sessions_open_connector",
            "station_id",
            "connector_id",
            unique=True,
            sqlite_where=text("state IN ('pending', 'active')"),
            postgresql_where=text("state IN ('pending', 'active')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"))
    id_tag: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    connector_id: Mapped[int]
    # "app" (driver API), "rfid" (a card at the charger), "api" (an operator or back office)
    origin: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    # The charger's answer to RemoteStart / RemoteStop: Accepted, Rejected, Timeout, Offline, …
    start_status: Mapped[str | None] = mapped_column(String(40))
    start_command_id: Mapped[str | None] = mapped_column(String(36))
    stop_status: Mapped[str | None] = mapped_column(String(40))
    stop_command_id: Mapped[str | None] = mapped_column(String(36))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meter_start_wh: Mapped[int | None]
    meter_stop_wh: Mapped[int | None]
    energy_wh: Mapped[int | None]
    # True once the energy comes from the charger's own StopTransaction (not our estimate).
    reconciled: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[str | None] = mapped_column(Text)
    # Billing (billing.service): the tariff as it was when the session was requested, and the
    # cost. cost_status: none (no tariff applies: free), estimated (still open), provisional
    # (closed from our last reading, awaiting the charger's own stop), final, review (implausible
    # data: not billed until an operator decides), waived (an operator decided not to bill).
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id", ondelete="SET NULL"))
    tariff_snapshot: Mapped[dict[str, Any] | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    cost_status: Mapped[str] = mapped_column(String(12), default="none", server_default="none")
    cost_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    cost_breakdown: Mapped[dict[str, Any] | None]
    billed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    billing_review_reason: Mapped[str | None] = mapped_column(Text)
