"""API models of security events and station certificates (snake_case, like every route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SecurityEventOut(BaseModel):
    id: int
    tenant_id: int
    charge_point_id: str
    type: str
    tech_info: str | None
    timestamp: datetime = Field(description="when it happened, by the station's clock")
    received_at: datetime
    critical: bool = Field(description="one of the whitepaper's critical types (§8)")


class IssuedCertificateOut(BaseModel):
    """A charge point certificate the station CA signed from the station's CSR."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    serial: str = Field(description="hex")
    subject: str
    not_before: datetime
    not_after: datetime
    fingerprint: str = Field(description="SHA-256 of the DER, hex")
    state: str = Field(description="issued, sent, accepted, rejected or undelivered")
    outcome: str | None = Field(description="the station's CertificateSigned answer, or why none")
    command_id: str | None
    created_at: datetime
    answered_at: datetime | None
    certificate: str = Field(description="PEM")


class InstalledCertificateOut(BaseModel):
    """A certificate the station holds, named by its hash data."""

    model_config = ConfigDict(from_attributes=True)

    certificate_type: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    source: str = Field(description="report (GetInstalledCertificateIds) or install (computed)")
    updated_at: datetime


class StationCertificatesOut(BaseModel):
    charge_point_id: str
    installed: list[InstalledCertificateOut]
    issued: list[IssuedCertificateOut]
