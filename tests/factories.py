"""Small factories for test data: keyword overrides, ``flush()`` only, never ``commit()``.

tenant = await make_tenant(db_session)
station = await make_station(db_session, tenant, charge_point_id="CP-1", connectors=1)
token = await make_token(db_session, tenant, id_tag="ABC123", status="Blocked")
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.models import Connector, Station, Tenant, Token

_sequence = itertools.count(1)


async def make_tenant(session: AsyncSession, **kw: Any) -> Tenant:
    """A tenant with a unique name unless ``name=`` is given."""
    kw.setdefault("name", f"Tenant {next(_sequence)}")
    tenant = Tenant(**kw)
    session.add(tenant)
    await session.flush()
    return tenant


async def make_station(
    session: AsyncSession, tenant: Tenant | None = None, *, connectors: int = 2, **kw: Any
) -> Station:
    """An accepted station (of a new tenant unless given) with connectors ``1..connectors``."""
    if tenant is None:
        tenant = await make_tenant(session)
    kw.setdefault("charge_point_id", f"CP{next(_sequence):04d}")
    kw.setdefault("tenant_id", tenant.id)
    station = Station(**kw)
    session.add(station)
    await session.flush()
    session.add_all(
        Connector(station_id=station.id, connector_id=n) for n in range(1, connectors + 1)
    )
    await session.flush()
    return station


async def make_token(
    session: AsyncSession, tenant: Tenant, id_tag: str = "TAG1", **kw: Any
) -> Token:
    """An accepted token of ``tenant``."""
    token = Token(tenant_id=tenant.id, id_tag=id_tag, **kw)
    session.add(token)
    await session.flush()
    return token
