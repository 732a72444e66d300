"""API models of firmware files, campaigns and diagnostics requests."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from kilowatt.api.auth import MAX_ID
from kilowatt.firmware import pacing


class FirmwareFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    name: str
    version: str | None
    size_bytes: int
    sha256: str
    uploaded_by: str | None
    created_at: datetime
    signing_certificate: str | None = Field(
        default=None, description="PEM certificate the file is signed with (signed firmware)"
    )
    signature: str | None = Field(default=None, description="base64 signature over the file")


class CampaignCreate(BaseModel):
    """Roll a file out to stations: name them, or a site's, or ``all`` of the file's tenant."""

    model_config = ConfigDict(extra="forbid")

    file_id: int = Field(ge=1, le=MAX_ID, validation_alias=AliasChoices("file_id", "fileId"))
    stations: list[str] | None = Field(
        default=None, min_length=1, max_length=10_000, description="charge point ids"
    )
    site_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, validation_alias=AliasChoices("site_id", "siteId", "site")
    )
    all: bool = Field(default=False, description="every station of the file's tenant")
    retrieve_date: datetime | None = Field(
        default=None,
        validation_alias=AliasChoices("retrieve_date", "retrieveDate"),
        description="when stations may download (default: now)",
    )
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        validation_alias=AliasChoices("retry_interval", "retryInterval"),
    )
    batch_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("batch_size", "batchSize"),
        description="at most this many stations updating at once (default: all at once)",
    )
    window_start: time | None = Field(
        default=None,
        validation_alias=AliasChoices("window_start", "windowStart"),
        description="daily maintenance window: new stations start only from this wall-clock "
        "time (e.g. 01:00) ...",
    )
    window_end: time | None = Field(
        default=None,
        validation_alias=AliasChoices("window_end", "windowEnd"),
        description="... until this one (e.g. 05:00; before window_start: across midnight)",
    )
    window_timezone: str | None = Field(
        default=None,
        max_length=64,
        validation_alias=AliasChoices("window_timezone", "windowTimezone"),
        description="IANA time zone of the window, e.g. Europe/Berlin (default: UTC)",
    )
    # Signed firmware (SignedUpdateFirmware, security whitepaper L01).
    signed: bool = Field(
        default=False,
        description="send SignedUpdateFirmware with the file's own certificate and signature",
    )
    signing_certificate: str | None = Field(
        default=None,
        max_length=5500,
        validation_alias=AliasChoices("signing_certificate", "signingCertificate"),
        description="PEM certificate of the key that signed the file (implies signed)",
    )
    signature: str | None = Field(
        default=None, max_length=800, description="base64 signature over the whole file"
    )
    install_date: datetime | None = Field(
        default=None,
        validation_alias=AliasChoices("install_date", "installDate", "installDateTime"),
        description="signed updates: when stations install (default: when they can)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> CampaignCreate:
        chosen = sum((self.stations is not None, self.site_id is not None, self.all))
        if chosen != 1:
            raise ValueError("name exactly one of stations, site_id or all")
        if (self.signing_certificate is None) != (self.signature is None):
            raise ValueError("give both signing_certificate and signature, or neither")
        if self.install_date is not None:
            if self.install_date.tzinfo is None:
                raise ValueError("install_date needs a time zone (e.g. 2026-12-01T03:00:00Z)")
            if not (self.signed or self.signing_certificate is not None):
                raise ValueError("install_date is for signed updates only")
        if self.retrieve_date is not None and self.retrieve_date.tzinfo is None:
            raise ValueError("retrieve_date needs a time zone (e.g. 2026-12-01T02:00:00Z)")
        for moment in (self.window_start, self.window_end):
            if moment is not None and moment.tzinfo is not None:
                raise ValueError("window times are wall-clock times: name window_timezone")
        if self.window_timezone is not None and self.window_start is None:
            raise ValueError("window_timezone needs window_start and window_end")
        pacing.window(self.window_start, self.window_end, self.window_timezone)  # InvalidWindow
        return self


class UpdateOut(BaseModel):
    """One station of a campaign."""

    charge_point_id: str
    state: str = Field(
        description="scheduled, sending, sent, Downloading, Downloaded, Installing, Installed, "
        "DownloadFailed, InstallationFailed, offline, error or cancelled"
    )
    detail: str | None
    attempts: int
    command_id: str | None
    firmware_before: str | None
    firmware_after: str | None = Field(description="the firmware it booted with afterwards")
    updated_at: datetime
    request_id: int | None = Field(
        default=None, description="signed updates: the requestId of SignedUpdateFirmware"
    )


class CampaignOut(BaseModel):
    id: int
    tenant_id: int
    file_id: int
    file_name: str
    version: str | None
    retrieve_date: datetime
    retries: int | None
    retry_interval: int | None
    batch_size: int | None = Field(description="at most this many stations updating at once")
    window_start: time | None
    window_end: time | None
    window_timezone: str | None
    state: str = Field(description="open, completed (every station done) or closed")
    created_by: str | None
    created_at: datetime
    closed_at: datetime | None
    progress: dict[str, int] = Field(description="stations per state")
    queued: int = Field(description="stations not started yet, waiting for a free slot")
    waiting_for_window: int = Field(
        description="stations not started yet while the maintenance window is closed"
    )
    window_opens_at: datetime | None = Field(
        description="when the closed window next opens (null: no window, or open now)"
    )
    stations: list[UpdateOut] | None = Field(
        default=None, description="each station (on the campaign's own page)"
    )
    signed: bool = Field(default=False, description="sent as SignedUpdateFirmware")
    install_date: datetime | None = Field(default=None, description="signed: install time")


class DiagnosticsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_time: datetime | None = Field(
        default=None, validation_alias=AliasChoices("start_time", "startTime")
    )
    stop_time: datetime | None = Field(
        default=None, validation_alias=AliasChoices("stop_time", "stopTime")
    )
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        validation_alias=AliasChoices("retry_interval", "retryInterval"),
    )

    @model_validator(mode="after")
    def _aware(self) -> DiagnosticsCreate:
        for value in (self.start_time, self.stop_time):
            if value is not None and value.tzinfo is None:
                raise ValueError("times need a time zone (e.g. 2026-12-01T02:00:00Z)")
        if self.start_time and self.stop_time and self.stop_time < self.start_time:
            raise ValueError("stop_time is before start_time")
        return self


class DiagnosticsOut(BaseModel):
    id: int
    charge_point_id: str
    state: str = Field(
        description="sending, sent, Uploading, Uploaded, UploadFailed, no_file, offline or error"
    )
    detail: str | None
    command_id: str | None
    file_name: str | None = Field(description="the name the station said it will upload")
    start_time: datetime | None
    stop_time: datetime | None
    retries: int | None
    retry_interval: int | None
    expires_at: datetime = Field(description="the upload URL is refused after this")
    received_name: str | None
    received_size: int | None
    received_sha256: str | None
    received_at: datetime | None
    download: str | None = Field(description="API path of the received file")
    requested_by: str | None
    created_at: datetime
    updated_at: datetime


# ---- security whitepaper: a file's signature, GetLog ------------------------------------------
class FileSignature(BaseModel):
    """The manufacturer's signing certificate and signature of a firmware file."""

    model_config = ConfigDict(extra="forbid")

    signing_certificate: str = Field(
        min_length=1,
        max_length=5500,
        validation_alias=AliasChoices("signing_certificate", "signingCertificate"),
        description="PEM X.509 certificate of the signing key",
    )
    signature: str = Field(
        min_length=1, max_length=800, description="base64 signature over the whole file"
    )


class LogCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_type: Literal["DiagnosticsLog", "SecurityLog"] = Field(
        default="DiagnosticsLog", validation_alias=AliasChoices("log_type", "logType")
    )
    oldest_timestamp: datetime | None = Field(
        default=None, validation_alias=AliasChoices("oldest_timestamp", "oldestTimestamp")
    )
    latest_timestamp: datetime | None = Field(
        default=None, validation_alias=AliasChoices("latest_timestamp", "latestTimestamp")
    )
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        validation_alias=AliasChoices("retry_interval", "retryInterval"),
    )

    @model_validator(mode="after")
    def _aware(self) -> LogCreate:
        for value in (self.oldest_timestamp, self.latest_timestamp):
            if value is not None and value.tzinfo is None:
                raise ValueError("timestamps need a time zone (e.g. 2026-12-01T02:00:00Z)")
        if (
            self.oldest_timestamp
            and self.latest_timestamp
            and self.latest_timestamp < self.oldest_timestamp
        ):
            raise ValueError("latest_timestamp is before oldest_timestamp")
        return self


class LogOut(BaseModel):
    id: int
    request_id: int = Field(description="the GetLog's requestId (the same as id)")
    charge_point_id: str
    log_type: str
    state: str = Field(
        description="sending, Accepted, AcceptedCanceled, Rejected, Uploading, Uploaded, "
        "UploadFailure, BadMessage, NotSupportedOperation, PermissionDenied, offline or error"
    )
    detail: str | None
    command_id: str | None
    file_name: str | None = Field(description="the filename the station answered GetLog with")
    oldest_timestamp: datetime | None
    latest_timestamp: datetime | None
    retries: int | None
    retry_interval: int | None
    expires_at: datetime = Field(description="the upload URL is refused after this")
    received_name: str | None
    received_size: int | None
    received_sha256: str | None
    received_at: datetime | None
    download: str | None = Field(description="API path of the received file")
    requested_by: str | None
    created_at: datetime
    updated_at: datetime
