"""kilowatt.db.create_engine: what every session on the node's engine can rely on."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import IntegrityError

from kilowatt.db import create_engine, session_factory

metadata = MetaData()
rows = Table(
    "engine_probe",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column(
        "parent_id",
        Integer,
        ForeignKey("engine_probe.id", deferrable=True, initially="DEFERRED"),
        nullable=True,
    ),
)


async def test_a_failed_commit_leaves_nothing_open_for_the_next_session(
    db_backend: str, fresh_database: Callable[[str], str]
) -> None:
    # SQLite keeps a transaction open when its COMMIT fails (here: a deferred foreign key), and
    # SQLAlchemy does not roll it back on its own; the engine must, or the next session on the
    # connection would commit the failed one's rows with its own.
    engine = create_engine(fresh_database(db_backend))
    sessions = session_factory(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        failed = False
        async with sessions() as db:
            await db.execute(insert(rows).values(id=1, parent_id=999))
            try:
                await db.commit()
            except IntegrityError:
                failed = True
        assert failed
        async with sessions() as db:
            await db.execute(insert(rows).values(id=2))
            await db.commit()
        async with sessions() as db:
            assert list((await db.scalars(select(rows.c.id))).all()) == [2]
    finally:
        await engine.dispose()
