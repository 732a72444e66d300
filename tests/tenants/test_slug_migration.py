"""Migration 0002 gives existing tenants a slug from their name (``default`` -> ``default``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from kilowatt import migrate
from kilowatt.db import create_engine


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_existing_tenants_get_slugs(
    backend: str, fresh_database: Callable[[str], str]
) -> None:
    url = fresh_database(backend)
    await migrate.upgrade(url, "0001")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for name in ("default", "Acme Charging GmbH", "acme charging gmbh!", "ÜÖ"):
                await conn.execute(
                    text("INSERT INTO tenants (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)"),
                    {"n": name},
                )
        await migrate.upgrade(url, "0002_accounts")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, name, slug FROM tenants ORDER BY id"))
            ).all()
        assert [(name, slug) for _, name, slug in rows] == [
            ("default", "default"),
            ("Acme Charging GmbH", "acme-charging-gmbh"),
            ("acme charging gmbh!", f"acme-charging-gmbh-{rows[2][0]}"),
            ("ÜÖ", "tenant"),
        ]
        await migrate.downgrade(url, "0001")
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM tenants ORDER BY id"))).scalars()
            assert list(names) == ["default", "Acme Charging GmbH", "acme charging gmbh!", "ÜÖ"]
    finally:
        await engine.dispose()
