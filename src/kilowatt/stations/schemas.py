from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class StationCreate(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=255)
    registration_status: str = Field(default="Accepted", pattern="^(Accepted|Pending|Rejected)$")
    # Security profile 1 (HTTP Basic); the OCPP 1.6 security whitepaper asks for 16 to 40 bytes.
    password: str | None = Field(default=None, min_length=16, max_length=40)
    allow_missing_subprotocol: bool = False
    connectors: int = Field(default=0, ge=0, le=64)


class StationUpdate(BaseModel):
    registration_status: str | None = Field(default=None, pattern="^(Accepted|Pending|Rejected)$")
    password: str | None = Field(default=None, min_length=16, max_length=40)
    remove_password: bool = False
    allow_missing_subprotocol: bool | None = None


class ConnectorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_error_code: str | None
    status_at: datetime | None


class StationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    charge_point_id: str
    tenant_id: int
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
    connectors: list[ConnectorOut] = []
    configuration: dict[str, str | None] = {}
