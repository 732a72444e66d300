"""A site's load-management settings, its time-varying limits, and the allocations made."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow

AMPS = Numeric(8, 1)


class SiteLoadConfig(Base):
    """How a site's grid connection is shared. Limits are per phase in A; ``limit_kw`` keeps a
    limit the operator gave in kW (the per-phase A are derived from it at ``voltage``)."""

    __tablename__ = "site_load_configs"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=False)
    limit_l1_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l2_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l3_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_kw: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    voltage: Mapped[Decimal] = mapped_column(Numeric(6, 1), default=Decimal(230))
    min_current_a: Mapped[Decimal] = mapped_column(AMPS, default=Decimal(6))
    max_current_a: Mapped[Decimal] = mapped_column(AMPS, default=Decimal(32))
    # token group -> priority (>= 1); tokens of other groups have priority 1
    priorities: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteLimitWindow(Base):
    """A lower limit for a while: a grid operator's signal, a tariff's peak hours, an operator's
    plan. The site's limit at a moment is the lowest of its own and every window then."""

    __tablename__ = "site_limit_windows"
    __table_args__ = (Index("ix_site_limit_windows_site_ends", "site_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    limit_l1_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l2_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l3_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_kw: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    source: Mapped[str] = mapped_column(String(40), default="operator")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteAllocation(Base):
    """One division of the site's limit: the limit in force, the resulting load per phase, and
    each session's share (``sessions``: a list of dicts, see ``manager.allocation_row``)."""

    __tablename__ = "site_allocations"
    __table_args__ = (Index("ix_site_allocations_site_at", "site_id", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(60))
    limit_l1_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l2_a: Mapped[Decimal] = mapped_column(AMPS)
    limit_l3_a: Mapped[Decimal] = mapped_column(AMPS)
    load_l1_a: Mapped[Decimal] = mapped_column(AMPS)
    load_l2_a: Mapped[Decimal] = mapped_column(AMPS)
    load_l3_a: Mapped[Decimal] = mapped_column(AMPS)
    sessions: Mapped[list[Any]]
