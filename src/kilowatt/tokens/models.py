from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class Token(Base):
    """An RFID card or app token (OCPP idTag) a driver authorizes with."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("tenant_id", "id_tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    id_tag: Mapped[str] = mapped_column(String(20), index=True)
    # Accepted / Blocked / Expired / Invalid, as an operator set it; expiry is checked separately.
    status: Mapped[str] = mapped_column(String(20), default="Accepted")
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parent_id_tag: Mapped[str | None] = mapped_column(String(20))
    # How many transactions this token may have running at once (ConcurrentTx beyond it).
    max_concurrent_transactions: Mapped[int] = mapped_column(default=1)
    # Who blocked it: "owner" (the driver may unblock) or "operator"; None unless Blocked.
    blocked_by: Mapped[str | None] = mapped_column(String(20))
    # The driver who owns this token (their app token or registered card); None = unassigned.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A group for tariffs, e.g. "members": a tariff assigned to a group applies to its tokens.
    token_group: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthorizeAnswer(Base):
    """An Authorize request of a station and the idTagInfo status we answered: the refused cards
    that never become a transaction still count in the authorization error rate (analytics)."""

    __tablename__ = "authorize_answers"
    __table_args__ = (Index("ix_authorize_answers_station_at", "station_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    id_tag: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # Accepted / Blocked / Expired / Invalid / ...
    at: Mapped[datetime] = mapped_column(UTCDateTime)
