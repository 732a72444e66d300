"""API models of site load management."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Amperes = Annotated[Decimal, Field(ge=0, le=10_000, decimal_places=1)]
Kilowatts = Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=3)]
Group = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class PhaseAmps(BaseModel):
    """Amperes on each phase."""

    l1: Decimal
    l2: Decimal
    l3: Decimal


class LimitIn(BaseModel):
    """A grid limit: ``value`` (A on each phase, or kW over three phases) or per phase
    ``l1``/``l2``/``l3`` (A, or kW on that phase)."""

    model_config = ConfigDict(extra="forbid")

    unit: Literal["A", "kW"]
    value: Kilowatts | None = None
    l1: Kilowatts | None = None
    l2: Kilowatts | None = None
    l3: Kilowatts | None = None

    @model_validator(mode="after")
    def one_way(self) -> Self:
        phases = (self.l1, self.l2, self.l3)
        if (self.value is None) == all(p is None for p in phases):
            raise ValueError("give either value or l1, l2 and l3")
        if self.value is None and any(p is None for p in phases):
            raise ValueError("give all of l1, l2 and l3")
        if self.unit == "A":
            for v in (self.value, *phases):
                if v is not None and v != v.quantize(Decimal("0.1")):
                    raise ValueError("amperes have at most one decimal place")
        return self


class SiteLoadSet(BaseModel):
    """A site's load management (replaces the previous settings)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    limit: LimitIn
    voltage: Decimal = Field(default=Decimal(230), ge=100, le=1000, decimal_places=1)
    min_current_a: Amperes = Field(
        default=Decimal(6), le=80, description="the least a session charges with (or it pauses)"
    )
    max_current_a: Amperes = Field(
        default=Decimal(32), ge=1, description="per session, where its connector sets no maximum"
    )
    priorities: dict[Group, Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=dict,
        description="token group -> priority (other tokens: 1); higher is served first "
        "and gets a proportionally larger share",
    )

    @model_validator(mode="after")
    def ordered(self) -> Self:
        if self.min_current_a > self.max_current_a:
            raise ValueError("min_current_a must not exceed max_current_a")
        return self


class WindowSet(BaseModel):
    """A lower limit for a while (a grid operator's signal, peak hours)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: datetime
    ends_at: datetime
    limit: LimitIn
    source: str = Field(default="operator", min_length=1, max_length=40)

    @model_validator(mode="after")
    def ordered(self) -> Self:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("times need a timezone offset (e.g. Z)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class WindowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: int
    starts_at: datetime
    ends_at: datetime
    limit_a: PhaseAmps
    limit_kw: Decimal | None
    source: str
    created_by: str | None
    created_at: datetime


class ShareOut(BaseModel):
    """One session's part of an allocation."""

    transaction_id: int
    charging_station_id: str
    connector_id: int
    token_group: str | None
    priority: int
    phases: list[int]
    min_a: Decimal
    max_a: Decimal
    current_a: Decimal = Field(description="its share per phase; for a fixed draw, what it draws")
    paused: bool = Field(description="0 A: its minimum did not fit")
    fixed: bool = Field(description="not steered: counted at its last known draw")
    why: str | None = Field(description="why it is fixed: offline, Rejected, Timeout, …")


class AllocationOut(BaseModel):
    id: int
    site_id: int
    at: datetime
    reason: str
    limit_a: PhaseAmps
    load_a: PhaseAmps
    sessions: list[ShareOut]


class InForce(BaseModel):
    limit_a: PhaseAmps
    window_ids: list[int]
    next_change_at: datetime | None


class SiteLoadOut(BaseModel):
    site_id: int
    enabled: bool
    limit_a: PhaseAmps
    limit_kw: Decimal | None
    voltage: Decimal
    min_current_a: Decimal
    max_current_a: Decimal
    priorities: dict[str, int]
    updated_at: datetime
    in_force: InForce
    allocation: AllocationOut | None
