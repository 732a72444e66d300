from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class Command(Base):
    """One CSMS→station call with its durable record and outcome (DESIGN.md decision 5)."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_station_created", "station_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    action: Mapped[str] = mapped_column(String(40))
    request: Mapped[dict[str, Any]]
    # pending → sent → completed | rejected | timeout | offline | error
    state: Mapped[str] = mapped_column(String(12), default="pending")
    # The station's status word (Accepted, Rejected, Unlocked, …) or a CALLERROR code.
    outcome: Mapped[str | None] = mapped_column(String(40))
    response: Mapped[dict[str, Any] | None]
    error_description: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(36))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latency_ms: Mapped[int | None]
