"""API models of stations, their connectors and their OCPP message log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.api.auth import MAX_ID, TENANT_FIELD_DESCRIPTION, TenantRefIn

REGISTRATION_STATUS = "^(Accepted|Pending|Rejected)$"
SECURITY_PROFILE_DESCRIPTION = (
    "OCPP security profile: 0 none, 1 HTTP Basic, 2 TLS with Basic, 3 TLS client certificate"
    " (docs/security-profiles.md); default 1 with a password, else 0"
)
MAX_POWER_W = 2_000_000  # 2 MW: above any connector built


class StationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_point_id: str = Field(min_length=1, max_length=255)
    registration_status: str = Field(default="Accepted", pattern=REGISTRATION_STATUS)
    # Security profile 1 (HTTP Basic); the OCPP 1.6 security whitepaper asks for 16 to 40 bytes.
    password: str | None = Field(default=None, min_length=16, max_length=40)
    allow_missing_subprotocol: bool = False
    security_profile: int | None = Field(
        default=None, ge=0, le=3, description=SECURITY_PROFILE_DESCRIPTION
    )
    connectors: int = Field(default=0, ge=0, le=64)
    site_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="a site of the station's tenant"
    )
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)


class StationUpdate(BaseModel):
    """Only the fields given change; ``site_id: null`` takes the station off its site."""

    model_config = ConfigDict(extra="forbid")

    registration_status: str | None = Field(default=None, pattern=REGISTRATION_STATUS)
    password: str | None = Field(default=None, min_length=16, max_length=40)
    remove_password: bool = False
    allow_missing_subprotocol: bool | None = None
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    security_profile: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description="raise freely; lowering it is refused (409) unless an admin sets force",
    )
    force: bool = Field(default=False, description="an admin lowering the security profile")


class ConnectorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(
        description="the gun id: the connector's reference in the driver API and its QR code"
    )
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_error_code: str | None
    status_at: datetime | None
    max_power_w: int | None = Field(description="the most it can deliver (W), if set")


class ConnectorUpdate(BaseModel):
    """Only the fields given change; ``max_power_w: null`` removes the limit."""

    model_config = ConfigDict(extra="forbid")

    max_power_w: int | None = Field(
        default=None,
        ge=1,
        le=MAX_POWER_W,
        description="the most the connector can deliver (W); billing flags energy above it",
    )


class StationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    charge_point_id: str
    tenant_id: int
    site_id: int | None
    registration_status: str
    basic_auth: bool
    security_profile: int
    key_rotation_pending: bool = Field(
        description="a new AuthorizationKey was sent and not confirmed: both keys work"
    )
    allow_missing_subprotocol: bool
    online: bool
    connected: bool
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    firmware_status: str | None
    diagnostics_status: str | None
    # Filled in by GET /stations/{id} only; lists leave them empty.
    connectors: list[ConnectorOut] = []
    configuration: dict[str, str | None] = {}


class KeyRotation(BaseModel):
    """A new AuthorizationKey for a station; without ``key`` one is generated (20 random bytes,
    hex). The key is never returned, logged or stored in clear."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, min_length=16, max_length=40)


class ProfileRaise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    security_profile: int = Field(ge=1, le=3, description="higher than the station's")
    reset: bool = Field(default=True, description="Hard reset after Accepted (TC_083)")


class SecurityChangeOut(BaseModel):
    """Where a station stands after a key rotation or a profile raise."""

    charge_point_id: str
    security_profile: int
    key: str = Field(
        description='"current": the new key is the only one; "pending": both keys work until'
        ' the station confirms; "unchanged": the old key stays'
    )
    command_id: str
    state: str = Field(description="the ChangeConfiguration's state (sent: poll the command)")
    outcome: str | None
    reset_command_id: str | None = None


class MessageOut(BaseModel):
    """One OCPP frame of a station's message log."""

    model_config = ConfigDict(from_attributes=True)

    direction: str = Field(description='"in" from the station, "out" to it')
    message_type: int = Field(description="2 CALL, 3 CALLRESULT, 4 CALLERROR")
    action: str | None
    message_id: str | None
    frame: str
    error_code: str | None
    latency_ms: float | None
    at: datetime = Field(validation_alias="created_at")
