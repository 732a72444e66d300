from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime


class OcppMessage(Base):
    """Every OCPP frame in and out, written in batches off the hot path."""

    __tablename__ = "ocpp_messages"
    __table_args__ = (
        Index("ix_ocpp_messages_cp_time", "charge_point_id", "created_at"),
        Index("ix_ocpp_messages_time", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    message_type: Mapped[int]  # 2 CALL, 3 CALLRESULT, 4 CALLERROR
    action: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[str | None] = mapped_column(String(50))
    frame: Mapped[str] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    latency_ms: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
