"""The migrations build exactly the models' schema, and undo it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, MetaData, Table, insert, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from kilowatt import migrate
from kilowatt.db import create_engine, session_factory
from kilowatt.models import Base, ConnectionPeriod

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
        # Rows as the 0007 schema has them: today's models carry columns added later.
        async with engine.begin() as conn:
            tenant = await _insert(conn, "tenants", name="Acme", slug="acme", created_at=t0)
            station = {"tenant_id": tenant, "registration_status": "Accepted", "created_at": t0}
            online = await _insert(
                conn, "stations", charge_point_id="ON", online=True, connected_at=t0, **station
            )
            offline = await _insert(
                conn,
                "stations",
                charge_point_id="OFF",
                online=False,
                connected_at=t0,
                disconnected_at=t0 + timedelta(hours=1),
                **station,
            )
            # never connected: no history
            await _insert(conn, "stations", charge_point_id="NEVER", online=False, **station)
            ids = {online: "online", offline: "offline"}
        await migrate.upgrade(url)
        async with session_factory(engine)() as db:
            rows = (await db.execute(select(ConnectionPeriod))).scalars().all()
            history = {ids[r.station_id]: (r.connected_at, r.disconnected_at) for r in rows}
    finally:
        await engine.dispose()
    assert len(rows) == 2
    assert history == {"online": (t0, None), "offline": (t0, t0 + timedelta(hours=1))}


async def _insert(conn: AsyncConnection, table_name: str, **values: Any) -> int:
    """Insert a row into a table as the database has it now (reflected, not today's model);
    values for columns it does not have are dropped, and NOT NULL flags default to False."""
    table = await conn.run_sync(lambda sync: Table(table_name, MetaData(), autoload_with=sync))
    row = {k: v for k, v in values.items() if k in table.c}
    for column in table.c:
        required = not column.nullable and column.server_default is None
        if column.name not in row and required and isinstance(column.type, Boolean):
            row[column.name] = False
    inserted = await conn.execute(insert(table).values(**row).returning(table.c.id))
    return int(inserted.scalar_one())


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
