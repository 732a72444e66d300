from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.server import RunningServer, running_server


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as running:
        yield running
