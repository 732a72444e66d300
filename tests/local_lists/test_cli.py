"""``kilowatt local-list``: an operator synchronises a station's list from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from support.cli import operator_cli
from support.server import running_server
from support.simulated import simulated_station
from support.steps import add_token


async def test_sync_show_and_entries(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        await add_token(server, "CLI-CARD")
        async with simulated_station(server, "CLI-LL") as sim:
            code, synced = await kilowatt("local-list", "sync", "CLI-LL", "--full")
            assert code == 0 and synced["outcome"] == "Accepted"
            assert synced["update_type"] == "Full" and set(sim.local_list.entries) == {"CLI-CARD"}

        code, shown = await kilowatt("local-list", "show", "CLI-LL")
        assert code == 0 and (shown["state"], shown["entries"]) == ("in_sync", 1)
        code, entries = await kilowatt("local-list", "entries", "CLI-LL")
        assert entries[0]["id_tag"] == "CLI-CARD"
        # Offline now: a conflict, exit code 2.
        async with asyncio.timeout(20):
            await server.node.registry.wait_for("CLI-LL", present=False)
        code, conflict = await kilowatt("local-list", "sync", "CLI-LL")
        assert code == 2 and conflict["status"] == 409
