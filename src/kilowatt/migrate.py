"""Run the Alembic migrations from Python: ``kilowatt migrate`` and every ``kilowatt serve`` start.

The scripts live in ``migrations/`` at the repository root (the parent of ``src/``): Kilowatt
always runs from its checkout (``uv run``), so they are found relative to this file.

Migrations run in one transaction, serialised between processes that start together: SQLite
takes its write lock up front (``BEGIN IMMEDIATE``), PostgreSQL an advisory lock. On SQLite,
foreign keys are off while migrating: a batch migration recreates a table, and with them on,
dropping the old copy would cascade-delete the rows that point at it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kilowatt.config import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO_ROOT / "migrations"

# pg_advisory_xact_lock key: any constant that other code does not use ("KWMIGRAT").
_PG_LOCK_KEY = 0x4B574D4947524154
# How often a migration retries opening a SQLite file another connection is opening too.
_LOCKED_RETRIES = 20


def async_url(url: str) -> str:
    """The same URL with the async driver Kilowatt uses (aiosqlite / asyncpg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def resolve_url(explicit: str | None = None) -> str:
    """``explicit`` (``-x url=...``), else ``KILOWATT_DATABASE_URL``, else the settings default."""
    if explicit:
        return async_url(explicit)
    if env_url := os.environ.get("KILOWATT_DATABASE_URL"):
        return async_url(env_url)
    return async_url(load_settings().effective_database_url)


def alembic_config() -> Config:
    """An Alembic config for programmatic use: no ini file, so it leaves logging alone."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise RuntimeError(f"Alembic migrations not found at {MIGRATIONS_DIR}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _ensure_sqlite_parent(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def migration_engine(url: str) -> AsyncEngine:
    """An engine for migrating: no pool; on SQLite real transactions and foreign keys off."""
    url = async_url(url)
    _ensure_sqlite_parent(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, poolclass=NullPool)

    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (see _begin), so the DDL is transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@asynccontextmanager
async def migration_connection(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that holds the migration lock; commits on exit."""
    engine = migration_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            await _first_connect(engine)
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                )
            yield connection
    finally:
        await engine.dispose()


async def _first_connect(engine: AsyncEngine) -> None:
    """Connect once, retrying while SQLite answers "database is locked": switching a brand-new
    file to WAL needs it alone for a moment, and SQLite refuses at once, without its busy wait,
    while another connection is opening the same new file (e.g. a node's writer retrying). Once
    the file is in WAL mode (it stays so), the migration's own connection goes through."""
    delay = 0.05
    for attempt in range(_LOCKED_RETRIES + 1):
        try:
            async with engine.connect():
                return
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == _LOCKED_RETRIES:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def _run_command(connection: Connection, name: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, name)(cfg, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``; a no-op when it is already there."""
    async with migration_connection(url) as connection:
        await connection.run_sync(_run_command, "upgrade", revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops every table)."""
    async with migration_connection(url) as connection:
        await connection.run_sync(_run_command, "downgrade", revision)


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None for an empty database."""
    engine = migration_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def check_current(url: str) -> bool:
    """True when the database at ``url`` is migrated to the newest revision."""
    return await current_revision(url) == head_revision()
