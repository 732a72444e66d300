"""API models of smart charging. Profiles are OCPP's own ChargingProfile objects (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.api.auth import MAX_ID

Purpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
Unit = Literal["A", "W"]
ConnectorId = Field(ge=0, le=MAX_ID)


class ProfileSet(BaseModel):
    """Set a profile on a connector (0: the station as a whole)."""

    model_config = ConfigDict(extra="forbid")

    connector_id: int = ConnectorId
    profile: dict[str, Any] = Field(
        description="an OCPP 1.6 ChargingProfile (csChargingProfiles), camelCase as in the spec"
    )


class ProfileClear(BaseModel):
    """ClearChargingProfile: every given field must match; none clears every profile."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=0, le=MAX_ID, description="chargingProfileId")
    connector_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    purpose: Purpose | None = None
    stack_level: int | None = Field(default=None, ge=0, le=MAX_ID)


class LimitSet(BaseModel):
    """Hold a connector (0: the whole station) to a limit from now."""

    model_config = ConfigDict(extra="forbid")

    connector_id: int = ConnectorId
    limit: Decimal = Field(ge=0, le=10_000_000, decimal_places=1, description="A per phase or W")
    unit: Unit
    until: datetime | None = Field(default=None, description="when the limit ends (default: never)")
    number_phases: int | None = Field(default=None, ge=1, le=3)


class ChangeOut(BaseModel):
    """One Set/Clear sent to the station, with its answer."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    charge_point_id: str
    operation: str = Field(description="set, clear or remote_start")
    connector_id: int | None
    charging_profile_id: int | None
    purpose: str | None
    stack_level: int | None
    transaction_id: int | None
    profile: dict[str, Any] | None
    criteria: dict[str, Any] | None
    status: str = Field(
        description="Pending, then Accepted, Rejected, NotSupported, Unknown (clear), Timeout, "
        "Offline or a CALLERROR code"
    )
    command_id: str | None
    requested_by: str | None
    created_at: datetime
    answered_at: datetime | None


class InstalledOut(BaseModel):
    """A profile Kilowatt believes the station holds."""

    model_config = ConfigDict(from_attributes=True)

    charging_profile_id: int
    connector_id: int
    purpose: str
    stack_level: int
    transaction_id: int | None
    profile: dict[str, Any]
    installed_at: datetime
    change_id: int
    in_force: bool = Field(description="false for a TxProfile whose transaction is not running")


class ProfilesOut(BaseModel):
    installed: list[InstalledOut]
    history: list[ChangeOut]
    history_total: int


class PeriodOut(BaseModel):
    start_period: int
    limit: Decimal | None = Field(description="null: no limit from any profile")
    number_phases: int | None


class ExpectedOut(BaseModel):
    schedule_start: datetime
    duration: int
    unit: Unit
    transaction_id: int | None
    periods: list[PeriodOut]


class ReportedOut(BaseModel):
    command_id: str
    state: str
    status: str | None
    schedule_start: datetime | None
    charging_schedule: dict[str, Any] | None


class CompositeOut(BaseModel):
    """What the station reports (GetCompositeSchedule) next to what Kilowatt expects."""

    charge_point_id: str
    connector_id: int
    station: ReportedOut
    expected: ExpectedOut
