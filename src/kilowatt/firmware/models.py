from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, Time, UniqueConstraint
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
    # Signed firmware (security whitepaper L01): the manufacturer's signing certificate (PEM)
    # and signature (base64) over the whole file, checked when set (firmware/signed.py).
    signing_certificate: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)


class FirmwareCampaign(Base):
    """UpdateFirmware of one file to one or many stations, with each station's progress."""

    __tablename__ = "firmware_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("firmware_files.id"), index=True)
    retrieve_date: Mapped[datetime] = mapped_column(UTCDateTime)
    retries: Mapped[int | None]
    retry_interval: Mapped[int | None]
    # Pacing (firmware/pacing.py): at most ``batch_size`` stations updating at once (None: no
    # limit), and new stations started only while the daily window is open (wall-clock times
    # in ``window_timezone``; None: any time).
    batch_size: Mapped[int | None]
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    window_timezone: Mapped[str | None] = mapped_column(String(64))
    # open (stations still to reach or in progress) -> completed | closed (by an operator)
    state: Mapped[str] = mapped_column(String(12), default="open")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A signed campaign sends SignedUpdateFirmware (requestId: the station's update id) with
    # this certificate and signature, checked against the file before it was created.
    signing_certificate: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)
    install_date: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FirmwareUpdate(Base):
    """One station of a campaign: where its update stands.

    scheduled -> sending -> sent -> Downloading -> Downloaded -> Installing -> Installed, or
    DownloadFailed / InstallationFailed / offline (sent when it reconnects) / error / cancelled;
    a signed update also DownloadScheduled, DownloadPaused, SignatureVerified, InstallScheduled,
    InstallRebooting, and the final InstallVerificationFailed / InvalidSignature.
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
    state: Mapped[str] = mapped_column(String(30), default="scheduled")
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


class LogRequest(Base):
    """One GetLog (security whitepaper N01): its requestId is this row's id, and the file the
    station uploaded to us for it."""

    __tablename__ = "station_logs"
    # Ids are never reused: an upload token and the station's requestId name the row.
    __table_args__ = (
        Index("ix_station_logs_station_created", "station_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    log_type: Mapped[str] = mapped_column(String(20))  # DiagnosticsLog | SecurityLog
    oldest_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retries: Mapped[int | None]
    retry_interval: Mapped[int | None]
    # sending -> Accepted | AcceptedCanceled (GetLog.conf) -> Uploading -> Uploaded, or
    # Rejected, BadMessage, NotSupportedOperation, PermissionDenied, UploadFailure, offline, error
    state: Mapped[str] = mapped_column(String(30), default="sending")
    command_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(Text)
    # GetLog.conf's filename: what the station said it will upload.
    file_name: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_name: Mapped[str | None] = mapped_column(String(255))
    received_size: Mapped[int | None] = mapped_column(BigInteger)
    received_sha256: Mapped[str | None] = mapped_column(String(64))
    stored_as: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
