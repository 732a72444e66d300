"""Charging profiles: every Set/Clear sent (the history) and what each connector holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class ChargingProfileChange(Base):
    """One SetChargingProfile / ClearChargingProfile (or a RemoteStartTransaction carrying a
    profile) sent to a station: who asked, when, the command, and the station's answer.

    Rows are never changed except for the answer: this is the versioned history.
    """

    __tablename__ = "charging_profile_changes"
    __table_args__ = (Index("ix_charging_profile_changes_station_at", "station_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    command_id: Mapped[str | None] = mapped_column(ForeignKey("commands.id"), index=True)
    # "set" | "clear" | "remote_start"
    operation: Mapped[str] = mapped_column(String(12))
    connector_id: Mapped[int | None]
    charging_profile_id: Mapped[int | None]
    purpose: Mapped[str | None] = mapped_column(String(24))
    stack_level: Mapped[int | None]
    transaction_id: Mapped[int | None]
    # csChargingProfiles as sent (camelCase), for "set" and "remote_start"
    profile: Mapped[dict[str, Any] | None]
    # ClearChargingProfile.req as sent, for "clear"
    criteria: Mapped[dict[str, Any] | None]
    # Pending, then the station's word (Accepted, Rejected, NotSupported, Unknown), Timeout,
    # Offline, or a CALLERROR code.
    status: Mapped[str] = mapped_column(String(40), default="Pending")
    requested_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstalledChargingProfile(Base):
    """A profile Kilowatt believes a station holds: set and Accepted, not cleared since.

    A TxProfile counts only while its transaction runs (see ``repository.in_force``).
    """

    __tablename__ = "installed_charging_profiles"
    __table_args__ = (
        UniqueConstraint("station_id", "charging_profile_id", name="uq_installed_profiles_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int]
    charging_profile_id: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(24))
    stack_level: Mapped[int]
    transaction_id: Mapped[int | None]
    profile: Mapped[dict[str, Any]]
    change_id: Mapped[int] = mapped_column(
        ForeignKey("charging_profile_changes.id", ondelete="CASCADE"), index=True
    )
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
