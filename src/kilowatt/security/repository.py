"""Every query of the security domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.security.ca import HashData
from kilowatt.security.models import InstalledCertificate, SecurityEvent, StationCertificate
from kilowatt.stations.models import Station


async def events_page(
    db: AsyncSession,
    tenant_id: int | None,
    *,
    station_id: int | None = None,
    charge_point_id: str | None = None,
    type: str | None = None,
    critical: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[SecurityEvent, str]], int]:
    """A tenant's security events (all tenants' for None), newest first, with their station's
    charge point id; and how many match."""
    query = select(SecurityEvent, Station.charge_point_id).join(
        Station, Station.id == SecurityEvent.station_id
    )
    if tenant_id is not None:
        query = query.where(SecurityEvent.tenant_id == tenant_id)
    if station_id is not None:
        query = query.where(SecurityEvent.station_id == station_id)
    if charge_point_id is not None:
        query = query.where(Station.charge_point_id == charge_point_id)
    if type is not None:
        query = query.where(SecurityEvent.type == type)
    if critical is not None:
        query = query.where(SecurityEvent.critical == critical)
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    rows = await db.execute(
        query.order_by(SecurityEvent.received_at.desc(), SecurityEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1]) for row in rows], total or 0


async def issued_certificates(db: AsyncSession, station_id: int) -> Sequence[StationCertificate]:
    return (
        await db.scalars(
            select(StationCertificate)
            .where(StationCertificate.station_id == station_id)
            .order_by(StationCertificate.id.desc())
        )
    ).all()


async def installed(db: AsyncSession, station_id: int) -> Sequence[InstalledCertificate]:
    return (
        await db.scalars(
            select(InstalledCertificate)
            .where(InstalledCertificate.station_id == station_id)
            .order_by(InstalledCertificate.certificate_type, InstalledCertificate.id)
        )
    ).all()


async def forget_type(db: AsyncSession, station_id: int, certificate_type: str) -> None:
    await db.execute(
        delete(InstalledCertificate).where(
            InstalledCertificate.station_id == station_id,
            InstalledCertificate.certificate_type == certificate_type,
        )
    )


def _matching(station_id: int, data: HashData) -> Select[InstalledCertificate]:
    # Hashes are hex: compare them case-insensitively (a station may report upper case).
    return select(InstalledCertificate).where(
        InstalledCertificate.station_id == station_id,
        InstalledCertificate.hash_algorithm == data.hash_algorithm,
        func.lower(InstalledCertificate.issuer_name_hash) == data.issuer_name_hash.lower(),
        func.lower(InstalledCertificate.issuer_key_hash) == data.issuer_key_hash.lower(),
        func.lower(InstalledCertificate.serial_number) == data.serial_number.lower(),
    )


async def find_installed(
    db: AsyncSession, station_id: int, data: HashData
) -> InstalledCertificate | None:
    row: InstalledCertificate | None = await db.scalar(_matching(station_id, data))
    return row
