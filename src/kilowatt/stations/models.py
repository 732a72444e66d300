from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class Station(Base):
    """A charging station, identified by the last path segment of its WebSocket URL."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String(255), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    # Accepted / Pending / Rejected: the answer its next BootNotification gets.
    registration_status: Mapped[str] = mapped_column(String(20), default="Accepted")
    # Chargers that send no Sec-WebSocket-Protocol header are refused unless this is set.
    allow_missing_subprotocol: Mapped[bool] = mapped_column(default=False)
    # Security profile 1: HTTP Basic with this hashed password; None = no Basic auth.
    auth_password_hash: Mapped[str | None] = mapped_column(String(255))
    # OCPP 1.6 security whitepaper profile, 0 (none) to 3 (mutual TLS); never lowered by OCPP,
    # and an upgrade below it is refused (docs/security-profiles.md).
    security_profile: Mapped[int] = mapped_column(default=0, server_default="0")
    # A new AuthorizationKey sent to the station and not yet confirmed: both keys authenticate.
    auth_key_pending_hash: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(20))
    serial_number: Mapped[str | None] = mapped_column(String(25))
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(25))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    iccid: Mapped[str | None] = mapped_column(String(20))
    imsi: Mapped[str | None] = mapped_column(String(20))
    meter_type: Mapped[str | None] = mapped_column(String(25))
    meter_serial_number: Mapped[str | None] = mapped_column(String(25))
    last_boot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    online: Mapped[bool] = mapped_column(default=False)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    firmware_status: Mapped[str | None] = mapped_column(String(30))
    firmware_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    diagnostics_status: Mapped[str | None] = mapped_column(String(30))
    diagnostics_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectionPeriod(Base):
    """One WebSocket connection of a station: the station's exact online history (uptime).

    ``disconnected_at`` None: still open, or the node serving it crashed (the next start closes
    it at its start time).
    """

    __tablename__ = "station_connections"
    __table_args__ = (
        Index("ix_station_connections_station_connected", "station_id", "connected_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Connector(Base):
    """A plug of a station; ``connector_id`` 0 is the station as a whole."""

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("station_id", "connector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="Unavailable")
    error_code: Mapped[str] = mapped_column(String(30), default="NoError")
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The most this connector can deliver (W); billing flags energy above it as implausible.
    max_power_w: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusNotificationRecord(Base):
    """Every StatusNotification as received: the connector's status history."""

    __tablename__ = "status_notifications"
    __table_args__ = (Index("ix_status_notifications_station_time", "station_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    connector_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str] = mapped_column(String(30))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigurationKey(Base):
    """A station's configuration key as last read (GetConfiguration) or set (ChangeConfiguration)."""

    __tablename__ = "station_configuration"
    __table_args__ = (UniqueConstraint("station_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(50))
    value: Mapped[str | None] = mapped_column(Text)
    readonly: Mapped[bool] = mapped_column(default=False)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DataTransferRecord(Base):
    """A DataTransfer in either direction, with the answer it got."""

    __tablename__ = "data_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))  # "in" from the station, "out" to it
    vendor_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(20))
    response_data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
