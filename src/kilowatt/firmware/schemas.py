"""API models of firmware files, campaigns and diagnostics requests."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from kilowatt.api.auth import MAX_ID


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

    @model_validator(mode="after")
    def _one_target(self) -> CampaignCreate:
        chosen = sum((self.stations is not None, self.site_id is not None, self.all))
        if chosen != 1:
            raise ValueError("name exactly one of stations, site_id or all")
        if self.retrieve_date is not None and self.retrieve_date.tzinfo is None:
            raise ValueError("retrieve_date needs a time zone (e.g. 2026-12-01T02:00:00Z)")
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


class CampaignOut(BaseModel):
    id: int
    tenant_id: int
    file_id: int
    file_name: str
    version: str | None
    retrieve_date: datetime
    retries: int | None
    retry_interval: int | None
    state: str = Field(description="open, completed (every station done) or closed")
    created_by: str | None
    created_at: datetime
    closed_at: datetime | None
    progress: dict[str, int] = Field(description="stations per state")
    stations: list[UpdateOut] | None = Field(
        default=None, description="each station (on the campaign's own page)"
    )


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
