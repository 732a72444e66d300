"""The shared database fixtures: each test gets a migrated, empty database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt import migrate
from kilowatt.db import create_engine
from kilowatt.models import Connector, Station, Tenant, Token

from factories import make_station, make_tenant, make_token


async def test_database_is_migrated_to_head(database_url: str) -> None:
    assert await migrate.check_current(database_url)


async def test_factories_build_a_station_with_two_connectors(db_session: AsyncSession) -> None:
    tenant = await make_tenant(db_session)
    station = await make_station(db_session, tenant, registration_status="Pending")
    token = await make_token(db_session, tenant, status="Blocked")

    connectors = (await db_session.scalars(select(Connector.connector_id))).all()
    assert sorted(connectors) == [1, 2]
    assert station.registration_status == "Pending"
    assert station.created_at.tzinfo is not None
    assert (token.id_tag, token.status) == ("TAG1", "Blocked")


async def test_factories_make_a_tenant_when_none_given(db_session: AsyncSession) -> None:
    station = await make_station(db_session, connectors=0)
    assert await db_session.get(Tenant, station.tenant_id) is not None
    assert await db_session.scalar(select(func.count()).select_from(Connector)) == 0


async def test_committed_rows_do_not_leak_into_the_next_test_part_1(
    db_session: AsyncSession,
) -> None:
    await make_station(db_session)
    await db_session.commit()


async def test_committed_rows_do_not_leak_into_the_next_test_part_2(
    db_session: AsyncSession,
) -> None:
    for model in (Tenant, Station, Connector, Token):
        assert await db_session.scalar(select(func.count()).select_from(model)) == 0
    # Identities restart too, so ids are predictable within a test.
    tenant = await make_tenant(db_session)
    assert tenant.id == 1


async def test_sqlite_pragmas_apply(tmp_path: Path) -> None:
    """Whatever backend this run tests, the embedded default's pragmas are checked on a real file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
    finally:
        await engine.dispose()
