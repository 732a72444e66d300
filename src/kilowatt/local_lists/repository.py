"""Every query of the local lists domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.local_lists.models import LocalAuthList
from kilowatt.stations.models import ConfigurationKey, Station
from kilowatt.tokens.models import Token


async def for_station(db: AsyncSession, station_id: int) -> LocalAuthList | None:
    return await db.scalar(select(LocalAuthList).where(LocalAuthList.station_id == station_id))


async def for_stations(db: AsyncSession, station_ids: Sequence[int]) -> dict[int, LocalAuthList]:
    if not station_ids:
        return {}
    rows = await db.scalars(select(LocalAuthList).where(LocalAuthList.station_id.in_(station_ids)))
    return {row.station_id: row for row in rows}


async def tokens_of(db: AsyncSession, tenant_id: int, token_group: str | None) -> Sequence[Token]:
    query = select(Token).where(Token.tenant_id == tenant_id)
    if token_group is not None:
        query = query.where(Token.token_group == token_group)
    return (await db.scalars(query.order_by(Token.id_tag))).all()


async def configuration_values(
    db: AsyncSession, station_ids: Sequence[int], keys: Sequence[str]
) -> dict[tuple[int, str], str | None]:
    """Stored configuration values by (station id, lower-cased key)."""
    if not station_ids:
        return {}
    rows = await db.execute(
        select(ConfigurationKey.station_id, ConfigurationKey.key, ConfigurationKey.value).where(
            ConfigurationKey.station_id.in_(station_ids),
            func.lower(ConfigurationKey.key).in_([k.lower() for k in keys]),
        )
    )
    return {(sid, key.lower()): value for sid, key, value in rows}


async def stations_by_charge_point_id(
    db: AsyncSession, charge_point_ids: Sequence[str]
) -> Sequence[Station]:
    if not charge_point_ids:
        return []
    return (
        await db.scalars(select(Station).where(Station.charge_point_id.in_(charge_point_ids)))
    ).all()
