"""Database fixtures shared by the whole test suite.

The backend is SQLite (files under pytest's tmp dirs) unless ``KILOWATT_TEST_DATABASE_URL`` names
a PostgreSQL server, e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/kilowatt_test``.

* ``database_url``: a freshly migrated, empty database for this test. SQLite: the schema is
  migrated once per session into a template file, copied per test. PostgreSQL: one database per
  session (the given name plus a unique suffix, dropped at the end), migrated once, every table
  emptied with ``TRUNCATE … RESTART IDENTITY CASCADE`` before each test (only
  the tables that hold rows; every sequence restarts).
* ``engine`` / ``db_session``: an ``AsyncEngine`` / ``AsyncSession`` on that database.
* ``fresh_database``: a factory of new, *unmigrated* databases (migration tests).

Every session gets its own databases and files, so concurrent runs (and pytest-xdist workers)
do not meet.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kilowatt.db import create_engine, session_factory
from kilowatt.migrate import upgrade

TEST_DATABASE_URL_ENV = "KILOWATT_TEST_DATABASE_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/kilowatt_test"


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop in a worker thread.

    Session-scoped set-up runs outside pytest-asyncio's per-test loops, and a thread keeps
    ``asyncio.run`` from touching the main thread's current-loop state.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --- PostgreSQL administration -------------------------------------------------------------


def postgres_base_url() -> str:
    """The PostgreSQL URL tests derive their databases from (env, else the local default)."""
    url = os.environ.get(TEST_DATABASE_URL_ENV) or DEFAULT_POSTGRES_URL
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)


def _dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def _admin_dsn(url: str) -> str:
    """The asyncpg DSN of the server's maintenance database."""
    return _dsn(make_url(url).set(database="postgres").render_as_string(False))


def _unique_name(base: str) -> str:
    suffix = f"_{os.getpid()}_{secrets.token_hex(3)}"
    return base[: 63 - len(suffix)] + suffix


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def create_postgres_database(base_url: str) -> str:
    """Create an empty database named after ``base_url``'s plus a unique suffix; its URL."""
    name = _unique_name(make_url(base_url).database or "kilowatt_test")
    conn = await asyncpg.connect(_admin_dsn(base_url))
    try:
        await conn.execute(f"CREATE DATABASE {_quote(name)}")
    finally:
        await conn.close()
    return make_url(base_url).set(database=name).render_as_string(False)


async def drop_postgres_database(url: str) -> None:
    """Drop the database at ``url``, disconnecting whatever a test left connected."""
    name = make_url(url).database
    assert name
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def _postgres_tables(url: str) -> list[str]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename <> 'alembic_version' ORDER BY tablename"
        )
    finally:
        await conn.close()
    return [row["tablename"] for row in rows]


async def _empty_tables(url: str, tables: list[str]) -> None:
    """TRUNCATE the tables that hold rows (an empty one costs ~5 ms for nothing) and restart
    every sequence (a rolled-back insert advances one without leaving a row)."""
    non_empty = " UNION ALL ".join(
        f"SELECT {_literal(name)} WHERE EXISTS (SELECT 1 FROM {_quote(name)})" for name in tables
    )
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SET lock_timeout = '5s'")
        for attempt in (1, 2):
            try:
                dirty = [row[0] for row in await conn.fetch(non_empty)] if tables else []
                if dirty:
                    await conn.execute(
                        f"TRUNCATE TABLE {', '.join(map(_quote, dirty))} RESTART IDENTITY CASCADE"
                    )
                break
            except asyncpg.LockNotAvailableError:
                if attempt == 2:
                    raise
                # A connection leaked by an earlier test still holds a lock: end it, retry.
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        await conn.execute(
            "SELECT setval(c.oid, 1, false) FROM pg_class c"
            " WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
        )
    finally:
        await conn.close()


# --- the migrated database per session, and per test ---------------------------------------


@dataclass(frozen=True)
class MigratedDatabase:
    backend: str  # "sqlite" | "postgresql"
    url: str  # SQLite: the template file; PostgreSQL: the session's database
    tables: tuple[str, ...] = ()

    @property
    def template(self) -> Path:
        return Path(make_url(self.url).database or "")


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _test_backend() -> str:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    if not url:
        return "sqlite"
    backend = make_url(url).get_backend_name()
    if backend != "postgresql":
        raise pytest.UsageError(f"{TEST_DATABASE_URL_ENV} must name a PostgreSQL database")
    return backend


@pytest.fixture(scope="session")
def db_backend() -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend this run tests against."""
    return _test_backend()


@pytest.fixture(scope="session")
def migrated_database(
    db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedDatabase]:
    """The session's migrated database (SQLite: a template file; PostgreSQL: a database)."""
    if db_backend == "sqlite":
        template = tmp_path_factory.mktemp("db-template") / "template.db"
        run_async(upgrade(_sqlite_url(template)))
        # The migration engine is closed, so the WAL is checkpointed; make sure of it anyway,
        # since only the main file is copied.
        with sqlite3.connect(template) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield MigratedDatabase("sqlite", _sqlite_url(template))
        return

    url = run_async(create_postgres_database(postgres_base_url()))
    try:
        run_async(upgrade(url))
        tables = run_async(_postgres_tables(url))
        yield MigratedDatabase("postgresql", url, tuple(tables))
    finally:
        run_async(drop_postgres_database(url))


@pytest.fixture
def database_url(migrated_database: MigratedDatabase, tmp_path: Path) -> str:
    """The URL of a freshly migrated, empty database for this test."""
    if migrated_database.backend == "sqlite":
        path = tmp_path / "kilowatt.db"
        shutil.copyfile(migrated_database.template, path)
        return _sqlite_url(path)
    run_async(_empty_tables(migrated_database.url, list(migrated_database.tables)))
    return migrated_database.url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's database (``kilowatt.db.create_engine``), disposed after."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on this test's database; whatever the test did not commit is rolled back."""
    async with session_factory(engine)() as session:
        yield session


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory: ``fresh_database("sqlite" | "postgresql")`` -> URL of a new, empty database.

    PostgreSQL databases are created on the server of ``KILOWATT_TEST_DATABASE_URL`` (else the
    local default) and dropped after the test.
    """
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return _sqlite_url(tmp_path / f"fresh-{secrets.token_hex(4)}.db")
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}")
        url = run_async(create_postgres_database(postgres_base_url()))
        created.append(url)
        return url

    yield make
    for url in created:
        run_async(drop_postgres_database(url))
