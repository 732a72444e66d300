"""Alembic environment for Kilowatt (async engines: aiosqlite / asyncpg).

Two ways in:
* ``kilowatt.migrate`` (``kilowatt migrate``, ``kilowatt serve``) passes an open connection in
  ``config.attributes["connection"]``;
* the ``alembic`` command line (``uv run alembic -x url=... upgrade head``) gets its URL from
  ``-x url=``, else ``KILOWATT_DATABASE_URL``, else the settings default.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from kilowatt.db import UTCDateTime
from kilowatt.migrate import migration_connection, resolve_url
from kilowatt.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render Kilowatt's column types as plain SQLAlchemy ones: migrations must not import them."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = resolve_url(context.get_x_argument(as_dictionary=True).get("url"))
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # The connection is inside kilowatt.migrate's transaction, on SQLite too (BEGIN IMMEDIATE).
    _configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = resolve_url(context.get_x_argument(as_dictionary=True).get("url"))
    async with migration_connection(url) as connection:
        await connection.run_sync(do_run_migrations)


connection = config.attributes.get("connection")
if context.is_offline_mode():
    run_migrations_offline()
elif connection is not None:
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
