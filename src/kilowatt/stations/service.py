"""The rules of the stations domain: registration, boot, status, configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.stations import repository, security
from kilowatt.stations.models import (
    ConfigurationKey,
    Connector,
    DataTransferRecord,
    Station,
    StatusNotificationRecord,
)
from kilowatt.tenants import service as tenants

_hasher = PasswordHasher()


class StationRefused(Exception):
    """The WebSocket upgrade of a station is refused (unknown id, bad credentials)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def register(
    db: AsyncSession,
    charge_point_id: str,
    *,
    tenant_id: int | None = None,
    registration_status: str = "Accepted",
    password: str | None = None,
    allow_missing_subprotocol: bool = False,
    connectors: int = 0,
    security_profile: int | None = None,
) -> Station:
    """Create a station (and its first connectors); the caller commits.

    ``security_profile`` defaults to 1 (HTTP Basic) with a password, else 0."""
    if tenant_id is None:
        tenant_id = (await tenants.default_tenant(db)).id
    station = Station(
        charge_point_id=charge_point_id,
        tenant_id=tenant_id,
        registration_status=registration_status,
        auth_password_hash=hash_password(password) if password else None,
        allow_missing_subprotocol=allow_missing_subprotocol,
        security_profile=(1 if password else 0) if security_profile is None else security_profile,
    )
    db.add(station)
    await db.flush()
    for connector_id in range(connectors + 1 if connectors else 0):
        db.add(Connector(station_id=station.id, connector_id=connector_id))
    await db.flush()
    return station


async def admit(
    db: AsyncSession,
    settings: Settings,
    charge_point_id: str,
    authorization: tuple[str, str] | None,
    transport: security.TransportSecurity = security.PLAIN,
) -> Station:
    """Decide whether a WebSocket upgrade for ``charge_point_id`` may proceed: the station's
    security profile decides what it must offer (``kilowatt.stations.security``)."""
    station = await repository.by_charge_point_id(db, charge_point_id)
    if station is None:
        policy = settings.unknown_station_policy
        if policy is UnknownStationPolicy.REJECT:
            raise StationRefused(404, "unknown charge point")
        status = "Accepted" if policy is UnknownStationPolicy.AUTO_REGISTER else "Pending"
        station = await register(db, charge_point_id, registration_status=status)
    try:
        # In a thread: an Argon2 verification takes tens of milliseconds of CPU (more under
        # load) and would hold up every connected station's messages meanwhile.
        with_pending_key = await asyncio.to_thread(
            security.check,
            station,
            settings,
            charge_point_id,
            authorization,
            transport,
            verify_password,
        )
    except security.Refused as refused:
        raise StationRefused(refused.status, refused.reason) from None
    if with_pending_key:  # the station took the rotated key even if its answer was lost
        security.promote_pending(station)
    return station


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


async def boot(
    db: AsyncSession, settings: Settings, station_id: int, info: BootInfo, now: datetime
) -> tuple[str, int]:
    """Record a boot; return the registration status to answer and the interval."""
    station = await repository.by_id(db, station_id)
    assert station is not None
    station.vendor = info.vendor
    station.model = info.model
    station.serial_number = info.serial_number
    station.charge_box_serial_number = info.charge_box_serial_number
    station.firmware_version = info.firmware_version
    station.iccid = info.iccid
    station.imsi = info.imsi
    station.meter_type = info.meter_type
    station.meter_serial_number = info.meter_serial_number
    station.last_boot_at = now
    status = station.registration_status
    if status == "Accepted":
        return status, settings.heartbeat_interval
    return status, settings.pending_retry_interval


async def heartbeat(db: AsyncSession, station_id: int, now: datetime) -> None:
    await repository.touch_heartbeat(db, station_id, now)


@dataclass(frozen=True, slots=True)
class StatusReport:
    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    timestamp: datetime | None = None


async def status_notification(
    db: AsyncSession, station_id: int, report: StatusReport, now: datetime
) -> tuple[Connector, str | None]:
    """Keep the connector's current status and append to its history; the connector and the
    status it had before (None: first report)."""
    db.add(
        StatusNotificationRecord(
            station_id=station_id,
            connector_id=report.connector_id,
            status=report.status,
            error_code=report.error_code,
            info=report.info,
            vendor_id=report.vendor_id,
            vendor_error_code=report.vendor_error_code,
            timestamp=report.timestamp,
            received_at=now,
        )
    )
    connector = await repository.connector(db, station_id, report.connector_id)
    previous = None if connector is None else connector.status
    if connector is None:
        connector = Connector(station_id=station_id, connector_id=report.connector_id)
        db.add(connector)
    at = report.timestamp or now
    # Offline queues can deliver notifications out of order: an older one is history only.
    if connector.status_at is None or at >= connector.status_at:
        connector.status = report.status
        connector.error_code = report.error_code
        connector.info = report.info
        connector.vendor_id = report.vendor_id
        connector.vendor_error_code = report.vendor_error_code
        connector.status_at = at
    connector.updated_at = now
    await db.flush()
    return connector, previous


async def firmware_status(db: AsyncSession, station_id: int, status: str, now: datetime) -> None:
    station = await repository.by_id(db, station_id)
    assert station is not None
    station.firmware_status = status
    station.firmware_status_at = now


async def diagnostics_status(db: AsyncSession, station_id: int, status: str, now: datetime) -> None:
    station = await repository.by_id(db, station_id)
    assert station is not None
    station.diagnostics_status = status
    station.diagnostics_status_at = now


# A vendor hook answers an incoming DataTransfer: (status, response data).
VendorHook = Callable[
    [AsyncSession, int, str | None, str | None], Awaitable[tuple[str, str | None]]
]


async def data_transfer_in(
    db: AsyncSession,
    hooks: dict[str, VendorHook],
    station_id: int,
    vendor_id: str,
    message_id: str | None,
    data: str | None,
    now: datetime,
) -> tuple[str, str | None]:
    """Answer a station's DataTransfer through the vendor's hook; UnknownVendorId without one."""
    hook = hooks.get(vendor_id)
    status, response = (
        ("UnknownVendorId", None) if hook is None else await hook(db, station_id, message_id, data)
    )
    db.add(
        DataTransferRecord(
            station_id=station_id,
            direction="in",
            vendor_id=vendor_id,
            message_id=message_id,
            data=data,
            status=status,
            response_data=response,
            created_at=now,
        )
    )
    return status, response


async def store_configuration(
    db: AsyncSession,
    station_id: int,
    entries: list[tuple[str, str | None, bool]],
    now: datetime,
) -> None:
    """Store keys as last read from the station: (key, value, readonly)."""
    for key, value, readonly in entries:
        if key == security.AUTHORIZATION_KEY:  # write-only on the station; never kept here
            value = None
        row = await repository.configuration_key(db, station_id, key)
        if row is None:
            db.add(
                ConfigurationKey(
                    station_id=station_id, key=key, value=value, readonly=readonly, read_at=now
                )
            )
        else:
            row.value, row.readonly, row.read_at = value, readonly, now


async def configuration_changed(
    db: AsyncSession, station_id: int, key: str, value: str, now: datetime
) -> None:
    if await security.configuration_accepted(
        db, station_id, key, value, hash_password, verify_password
    ):
        value = security.REDACTED
    row = await repository.configuration_key(db, station_id, key)
    if row is None:
        db.add(ConfigurationKey(station_id=station_id, key=key, value=value, read_at=now))
    else:
        row.value, row.read_at = value, now
