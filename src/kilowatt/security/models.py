"""Security events stations report, certificates we issued them, and what they have installed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class SecurityEvent(Base):
    """One SecurityEventNotification, as the station sent it, and when we got it."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_tenant_received", "tenant_id", "received_at"),
        Index("ix_security_events_station_received", "station_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(50))
    tech_info: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)  # the station's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One of the whitepaper's critical types (§8): worth an operator's attention at once.
    critical: Mapped[bool] = mapped_column(default=False)


class StationCertificate(Base):
    """A charge point certificate our station CA signed from a station's CSR, and whether the
    station took it (its CertificateSigned answer).

    issued -> sent -> accepted | rejected, or undelivered (offline, timeout, CALLERROR).
    """

    __tablename__ = "station_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    serial: Mapped[str] = mapped_column(String(40))  # hex
    subject: Mapped[str] = mapped_column(String(255))  # RFC 4514
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    certificate: Mapped[str] = mapped_column(Text)  # PEM
    state: Mapped[str] = mapped_column(String(12), default="issued")
    command_id: Mapped[str | None] = mapped_column(String(36))
    # The station's answer word, or why it never answered (Offline, Timeout, an error code).
    outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstalledCertificate(Base):
    """A certificate a station holds, by the hash data it reports (GetInstalledCertificateIds)
    or that we computed when it accepted an InstallCertificate."""

    __tablename__ = "installed_certificates"
    __table_args__ = (
        UniqueConstraint(
            "station_id",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            name="uq_installed_certificates_hash_data",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    # CentralSystemRootCertificate | ManufacturerRootCertificate
    certificate_type: Mapped[str] = mapped_column(String(40))
    hash_algorithm: Mapped[str] = mapped_column(String(10))  # SHA256 | SHA384 | SHA512
    issuer_name_hash: Mapped[str] = mapped_column(String(128))
    issuer_key_hash: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str] = mapped_column(String(40))
    # "report" (the station's GetInstalledCertificateIds answer) or "install" (computed by us)
    source: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
