from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class FirmwareFile(Base):
    """An uploaded firmware image, stored in the data directory (``firmware/<stored_as>``)."""

    __tablename__ = "firmware_files"
    # Ids are never reused: a signed link names its file by id.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    # The file name chargers see at the end of the download URL (sanitised, no path).
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # The file's name on disk: generated, never taken from a request.
    stored_as: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleted files keep their row (campaigns name them); the bytes are gone.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FirmwareCampaign(Base):
    """UpdateFirmware of one file to one or many stations, with each station's progress."""

    __tablename__ = "firmware_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("firmware_files.id"), index=True)
    retrieve_date: Mapped[datetime] = mapped_column(UTCDateTime)
    retries: Mapped[int | None]
    retry_interval: Mapped[int | None]
    # open (stations still to reach or in progress) -> completed | closed (by an operator)
    state: Mapped[str] = mapped_column(String(12), default="open")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FirmwareUpdate(Base):
    """One station of a campaign: where its update stands.

    scheduled -> sending -> sent -> Downloading -> Downloaded -> Installing -> Installed, or
    DownloadFailed / InstallationFailed / offline (sent when it reconnects) / error / cancelled.
    """

    __tablename__ = "firmware_updates"
    __table_args__ = (
        UniqueConstraint("campaign_id", "station_id"),
        Index("ix_firmware_updates_station_state", "station_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("firmware_campaigns.id", ondelete="CASCADE")
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    command_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    firmware_before: Mapped[str | None] = mapped_column(String(50))
    # The firmwareVersion of the BootNotification after the installation.
    firmware_after: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DiagnosticsRequest(Base):
    """One GetDiagnostics and the file the station uploaded to us for it."""

    __tablename__ = "diagnostics_requests"
    # Ids are never reused: an upload token names its request by id.
    __table_args__ = (
        Index("ix_diagnostics_requests_station_created", "station_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retries: Mapped[int | None]
    retry_interval: Mapped[int | None]
    # sending -> sent -> Uploading -> Uploaded | UploadFailed; no_file (nothing to upload),
    # offline, error (the command's outcome)
    state: Mapped[str] = mapped_column(String(20), default="sending")
    command_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(Text)
    # GetDiagnostics.conf's fileName: what the station said it will upload.
    file_name: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The upload we received (at most one: the token is used up).
    received_name: Mapped[str | None] = mapped_column(String(255))
    received_size: Mapped[int | None] = mapped_column(BigInteger)
    received_sha256: Mapped[str | None] = mapped_column(String(64))
    stored_as: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
