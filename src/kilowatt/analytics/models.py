from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class OutageExclusion(Base):
    """A time an operator declares outside its control (a utility outage, vandalism, …): outage
    inside it is *excluded* from the uptime figures (23 CFR 680.116(b), the CEC's rule).

    ``connector_id`` None covers every connector of the station.
    """

    __tablename__ = "outage_exclusions"
    __table_args__ = (Index("ix_outage_exclusions_station_starts", "station_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None]
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # utility | vehicle_fault | vandalism | natural_disaster | maintenance | closed_hours
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
