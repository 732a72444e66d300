from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class Reservation(Base):
    """A connector (or any connector of a station: ``connector_id`` 0) held for a token until
    ``expires_at``. The row id is the ``reservationId`` sent in ReserveNow: unique per CSMS.

    States: ``requested`` (ReserveNow sent) → the charger's answer ``accepted`` / ``faulted`` /
    ``occupied`` / ``rejected`` / ``unavailable``, or ``failed`` (no answer: offline, timeout,
    CALLERROR); ``accepted`` → ``used`` (a StartTransaction ended it), ``expired``,
    ``cancelled`` (CancelReservation Accepted), ``cancel_rejected`` (the charger held no such
    reservation any more) or ``terminated`` (the connector became Faulted/Unavailable, §5.13).

    The fee (reservations.fees): ``cost_status`` ``none`` (nothing to pay), ``pending`` (active,
    its tariff prices reservations), ``session`` (used: any fee is on the session's bill) or
    ``final`` (expired unused: its own bill, below, and the payment of it).
    """

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_station_connector_state", "station_id", "connector_id", "state"),
        Index("ix_reservations_state_expires_at", "state", "expires_at"),
        Index("ix_reservations_payment_state_next", "payment_state", "payment_next_at"),
        # Ids are never reused (SQLite AUTOINCREMENT): a charger may still hold an old one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int]  # 0: any connector of the station
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="SET NULL"))
    id_tag: Mapped[str] = mapped_column(String(20))
    parent_id_tag: Mapped[str | None] = mapped_column(String(20))
    # The driver it is for (the token's owner); None for a card nobody owns.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="requested")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    reserve_command_id: Mapped[str | None] = mapped_column(String(36))
    cancel_command_id: Mapped[str | None] = mapped_column(String(36))
    # The transaction that used it (StartTransaction with its reservationId, or the same group).
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL")
    )
    # Why it failed or ended the way it did, in words.
    reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The fee: the tariff that applied when it was made (a later edit never changes its bill).
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id", ondelete="SET NULL"))
    tariff_snapshot: Mapped[dict[str, Any] | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    cost_status: Mapped[str] = mapped_column(String(12), default="none", server_default="none")
    cost_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    cost_breakdown: Mapped[dict[str, Any] | None]
    billed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Charging an expired reservation's fee (billing.reservation_payments): charge_due →
    # captured | unpaid; ``payment_ref`` is the provider's id of the charge.
    payment_state: Mapped[str | None] = mapped_column(String(24))
    payment_ref: Mapped[str | None] = mapped_column(String(255))
    payment_captured: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    payment_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    payment_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_error: Mapped[str | None] = mapped_column(Text)
