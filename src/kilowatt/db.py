"""Database plumbing: the declarative base, column types, engine and session factory.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit survives a power loss, which is
what lets us acknowledge a transaction message only after it is committed (DESIGN.md
decision 3). PostgreSQL is used through asyncpg.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

# Named constraints so that Alembic batch migrations work on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        dict[str, Any] | None: JSON,
        list[Any]: JSON,
    }


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection: SQLite has a single writer anyway, and queueing for the connection in
        # the pool is FIFO and immediate, where several connections would contend for the file
        # lock through SQLite's sleeping busy handler (measured: ~75 messages/s with a pool of
        # 30 against hundreds with one).
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": 30},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "reset")
        def _sqlite_reset(dbapi_connection: Any, _record: Any, state: Any) -> None:
            # SQLAlchemy takes a failed COMMIT for the end of its transaction and skips the
            # rollback on return to the pool, but SQLite keeps that transaction open (after a
            # deferred constraint failed, say): whoever uses the connection next would carry on
            # inside it, and their commit would commit its writes too.
            if state.transaction_was_reset and _sqlite_in_transaction(dbapi_connection):
                dbapi_connection.rollback()

        return engine
    return create_async_engine(
        url, echo=echo, pool_size=20, max_overflow=30, pool_timeout=60, pool_pre_ping=True
    )


def _sqlite_in_transaction(dbapi_connection: Any) -> bool:
    """Whether SQLAlchemy's aiosqlite adapter connection has a transaction open (when in doubt:
    yes, so that the caller rolls back, which costs nothing outside a transaction)."""
    driver = getattr(dbapi_connection, "_connection", None)
    return bool(getattr(driver, "in_transaction", True))


def session_factory(
    engine: AsyncEngine,
    *,
    sync_session_class: type[Session] = Session,
    info: dict[str, Any] | None = None,
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; the node passes its event-capturing session class and info."""
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=sync_session_class, info=info
    )
