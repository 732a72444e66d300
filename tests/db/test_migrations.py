"""The migrations build exactly the models' schema, and undo it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection, make_url

from kilowatt import migrate
from kilowatt.db import create_engine, session_factory
from kilowatt.models import Base, ConnectionPeriod

from factories import make_station

BACKENDS = ["sqlite", "postgresql"]


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_downgrade_upgrade(
    backend: str, fresh_database: Callable[[str], str]
) -> None:
    url = fresh_database(backend)
    model_tables = set(Base.metadata.tables)

    await migrate.upgrade(url)
    assert await migrate.current_revision(url) == migrate.head_revision()
    assert await _table_names(url) == model_tables | {"alembic_version"}

    await migrate.downgrade(url, "base")
    assert await migrate.current_revision(url) is None
    assert await _table_names(url) <= {"alembic_version"}

    await migrate.upgrade(url)
    assert await migrate.check_current(url)
    assert await _table_names(url) == model_tables | {"alembic_version"}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrated_schema_matches_the_models(
    backend: str, fresh_database: Callable[[str], str]
) -> None:
    url = fresh_database(backend)
    await migrate.upgrade(url)

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert diff == [], (
        "models changed without a migration: `uv run alembic revision --autogenerate`"
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_connection_history_begins_with_what_the_station_rows_recorded(
    backend: str, fresh_database: Callable[[str], str]
) -> None:
    url = fresh_database(backend)
    await migrate.upgrade(url, "0007_outage_exclusions")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            online = await make_station(db, online=True, connected_at=t0)
            offline = await make_station(
                db, online=False, connected_at=t0, disconnected_at=t0 + timedelta(hours=1)
            )
            await make_station(db, online=False)  # never connected: no history
            await db.commit()
            ids = {online.id: "online", offline.id: "offline"}
        await migrate.upgrade(url)
        async with session_factory(engine)() as db:
            rows = (await db.execute(select(ConnectionPeriod))).scalars().all()
            history = {ids[r.station_id]: (r.connected_at, r.disconnected_at) for r in rows}
    finally:
        await engine.dispose()
    assert len(rows) == 2
    assert history == {"online": (t0, None), "offline": (t0, t0 + timedelta(hours=1))}


async def test_upgrade_is_idempotent_and_creates_the_sqlite_directory(
    fresh_database: Callable[[str], str],
) -> None:
    url = fresh_database("sqlite")
    nested = url.replace("/fresh-", "/data/dir/fresh-")
    await migrate.upgrade(nested)
    await migrate.upgrade(nested)  # what every `kilowatt serve` start does
    assert await migrate.check_current(nested)


async def test_sqlite_migrations_are_transactional(fresh_database: Callable[[str], str]) -> None:
    """A migration that fails half-way leaves nothing behind (BEGIN IMMEDIATE, not autocommit)."""
    url = fresh_database("sqlite")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            # 0001 creates meter_values last: let that step fail.
            await conn.exec_driver_sql("CREATE TABLE meter_values (x INTEGER)")
    finally:
        await engine.dispose()

    with pytest.raises(Exception, match="already exists"):
        await migrate.upgrade(url)

    assert await _table_names(url) == {"meter_values"}


def test_sync_urls_get_the_async_driver() -> None:
    assert migrate.async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    pg = make_url(migrate.async_url("postgresql://u:secret@h:5432/db"))
    assert (pg.drivername, pg.password) == ("postgresql+asyncpg", "secret")
