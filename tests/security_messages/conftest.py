from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.api_kit import world  # noqa: F401  (the fixture of two tenants)

from support.server import RunningServer, running_server


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A node with its development station CA generated under ``tmp_path``."""
    async with running_server(database_url, tmp_path) as running:
        yield running
