"""Every query of site load management."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.load_management.models import SiteAllocation, SiteLimitWindow, SiteLoadConfig
from kilowatt.smart_charging.models import InstalledChargingProfile
from kilowatt.stations.models import Connector, Station
from kilowatt.tenants.models import Site
from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction


@dataclass(frozen=True, slots=True)
class Running:
    """A transaction without a StopTransaction yet, on a station of the site."""

    transaction_id: int
    station_id: int
    connector_id: int
    started_at: datetime  # the station's timestamp
    received_at: datetime  # when its StartTransaction reached us
    token_group: str | None


async def config(db: AsyncSession, site_id: int) -> SiteLoadConfig | None:
    return await db.get(SiteLoadConfig, site_id)


async def enabled_site_ids(db: AsyncSession) -> list[int]:
    rows = await db.scalars(select(SiteLoadConfig.site_id).where(SiteLoadConfig.enabled))
    return list(rows.all())


async def managed_sites_of(
    db: AsyncSession, station_ids: Iterable[int], charge_point_ids: Iterable[str]
) -> set[int]:
    """The load-managed sites of these stations (by id or charge point id)."""
    ids, cps = list(station_ids), list(charge_point_ids)
    if not ids and not cps:
        return set()
    query = (
        select(Station.site_id)
        .join(SiteLoadConfig, SiteLoadConfig.site_id == Station.site_id)
        .where(SiteLoadConfig.enabled)
        .where(Station.id.in_(ids) | Station.charge_point_id.in_(cps))
        .distinct()
    )
    return {site_id for site_id in (await db.scalars(query)).all() if site_id is not None}


async def site(db: AsyncSession, site_id: int) -> Site | None:
    return await db.get(Site, site_id)


async def stations_of(db: AsyncSession, site_id: int) -> Sequence[Station]:
    rows = await db.scalars(select(Station).where(Station.site_id == site_id).order_by(Station.id))
    return rows.all()


async def connector_max_power(
    db: AsyncSession, station_ids: list[int]
) -> dict[tuple[int, int], int]:
    """(station id, connector id) -> the operator's max power (W), where set."""
    if not station_ids:
        return {}
    rows = await db.execute(
        select(Connector.station_id, Connector.connector_id, Connector.max_power_w).where(
            Connector.station_id.in_(station_ids), Connector.max_power_w.is_not(None)
        )
    )
    return {(s, c): w for s, c, w in rows.all() if w is not None}


async def running(db: AsyncSession, station_ids: list[int]) -> list[Running]:
    """The latest open transaction of each connector of these stations."""
    if not station_ids:
        return []
    rows = await db.execute(
        select(
            Transaction.id,
            Transaction.station_id,
            Transaction.connector_id,
            Transaction.start_timestamp,
            Transaction.start_received_at,
            Token.token_group,
        )
        .outerjoin(Token, Token.id == Transaction.token_id)
        .where(Transaction.station_id.in_(station_ids), Transaction.stop_received_at.is_(None))
        .order_by(Transaction.start_received_at, Transaction.id)
    )
    latest = {(r[1], r[2]): Running(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows.all()}
    return list(latest.values())


async def windows(db: AsyncSession, site_id: int, after: datetime) -> Sequence[SiteLimitWindow]:
    """The windows not over at ``after``, earliest first."""
    rows = await db.scalars(
        select(SiteLimitWindow)
        .where(SiteLimitWindow.site_id == site_id, SiteLimitWindow.ends_at > after)
        .order_by(SiteLimitWindow.starts_at, SiteLimitWindow.id)
    )
    return rows.all()


async def window(db: AsyncSession, site_id: int, window_id: int) -> SiteLimitWindow | None:
    return await db.scalar(
        select(SiteLimitWindow).where(
            SiteLimitWindow.id == window_id, SiteLimitWindow.site_id == site_id
        )
    )


async def latest_allocation(db: AsyncSession, site_id: int) -> SiteAllocation | None:
    return await db.scalar(
        select(SiteAllocation)
        .where(SiteAllocation.site_id == site_id)
        .order_by(SiteAllocation.at.desc(), SiteAllocation.id.desc())
        .limit(1)
    )


async def allocations_page(
    db: AsyncSession,
    site_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[SiteAllocation], int]:
    """The site's allocations, newest first, between ``since`` and ``until``."""
    where = [SiteAllocation.site_id == site_id]
    if since is not None:
        where.append(SiteAllocation.at >= since)
    if until is not None:
        where.append(SiteAllocation.at < until)
    rows = await db.scalars(
        select(SiteAllocation)
        .where(*where)
        .order_by(SiteAllocation.at.desc(), SiteAllocation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await db.scalar(select(func.count()).select_from(SiteAllocation).where(*where))
    return rows.all(), total or 0


async def holding_our_profiles(
    db: AsyncSession, site_id: int, profile_ids: Sequence[int]
) -> list[tuple[Station, int]]:
    """(station, profile id) for the site's stations Kilowatt believes hold one of these."""
    rows = await db.execute(
        select(Station, InstalledChargingProfile.charging_profile_id)
        .join(InstalledChargingProfile, InstalledChargingProfile.station_id == Station.id)
        .where(
            Station.site_id == site_id,
            InstalledChargingProfile.charging_profile_id.in_(profile_ids),
        )
    )
    return [(station, profile_id) for station, profile_id in rows.all()]


async def unmanaged_holding(
    db: AsyncSession, charge_point_ids: Iterable[str], profile_ids: Sequence[int]
) -> list[tuple[Station, int]]:
    """Like ``holding_our_profiles`` for these stations, where their site is not load-managed
    (any more): a station that was offline when management was turned off."""
    cps = list(charge_point_ids)
    if not cps:
        return []
    managed = select(SiteLoadConfig.site_id).where(SiteLoadConfig.enabled)
    rows = await db.execute(
        select(Station, InstalledChargingProfile.charging_profile_id)
        .join(InstalledChargingProfile, InstalledChargingProfile.station_id == Station.id)
        .where(
            Station.charge_point_id.in_(cps),
            InstalledChargingProfile.charging_profile_id.in_(profile_ids),
            Station.site_id.is_(None) | Station.site_id.not_in(managed),
        )
    )
    return [(station, profile_id) for station, profile_id in rows.all()]


@dataclass(frozen=True, slots=True)
class Ours:
    """One of the manager's profiles Kilowatt believes a station holds."""

    station_id: int
    charging_profile_id: int
    transaction_id: int | None
    limit: Decimal | None  # the first period's limit
    installed_at: datetime


async def our_installed(
    db: AsyncSession, station_ids: list[int], profile_ids: Sequence[int]
) -> dict[tuple[int, int], Ours]:
    """(station id, profile id) -> the manager's profiles installed on these stations."""
    if not station_ids:
        return {}
    rows = await db.scalars(
        select(InstalledChargingProfile).where(
            InstalledChargingProfile.station_id.in_(station_ids),
            InstalledChargingProfile.charging_profile_id.in_(profile_ids),
        )
    )
    found: dict[tuple[int, int], Ours] = {}
    for row in rows.all():
        periods = (row.profile.get("chargingSchedule") or {}).get("chargingSchedulePeriod") or []
        limit = Decimal(str(periods[0]["limit"])) if periods else None
        found[(row.station_id, row.charging_profile_id)] = Ours(
            row.station_id, row.charging_profile_id, row.transaction_id, limit, row.installed_at
        )
    return found
