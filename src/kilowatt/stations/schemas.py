"""API models of stations, their connectors and their OCPP message log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.api.auth import MAX_ID, TENANT_FIELD_DESCRIPTION, TenantRefIn

REGISTRATION_STATUS = "^(Accepted|Pending|Rejected)$"
MAX_POWER_W = 2_000_000  # 2 MW: above any connector built


class StationCreate(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=255)
    registration_status: str = Field(default="Accepted", pattern=REGISTRATION_STATUS)
    # Security profile 1 (HTTP Basic); the OCPP 1.6 security whitepaper asks for 16 to 40 bytes.
    password: str | None = Field(default=None, min_length=16, max_length=40)
    allow_missing_subprotocol: bool = False
    connectors: int = Field(default=0, ge=0, le=64)
    site_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="a site of the station's tenant"
    )
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)


class StationUpdate(BaseModel):
    """Only the fields given change; ``site_id: null`` takes the station off its site."""

    registration_status: str | None = Field(default=None, pattern=REGISTRATION_STATUS)
    password: str | None = Field(default=None, min_length=16, max_length=40)
    remove_password: bool = False
    allow_missing_subprotocol: bool | None = None
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)


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
