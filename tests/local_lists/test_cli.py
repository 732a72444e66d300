"""``kilowatt local-list``: an operator synchronises a station's list from the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kilowatt import cli
from kilowatt.simulator import SimulatedStation, SimulatorConfig

from support.server import API_KEY, running_server
from support.steps import add_token


async def test_sync_show_and_entries(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KILOWATT_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))
    async with running_server(database_url, tmp_path) as server:
        await add_token(server, "CLI-CARD")
        config = SimulatorConfig(url=f"ws://127.0.0.1:{server.port}/ocpp", auto_sessions=False)
        sim = SimulatedStation(config, "CLI-LL")
        async with asyncio.timeout(60), sim:
            await sim.connect()
            await sim.boot()
            url = ["--url", server.http_url]
            code = await asyncio.to_thread(
                cli.main, ["local-list", "sync", "CLI-LL", "--full", *url]
            )
            synced = json.loads(capsys.readouterr().out)
            assert code == 0 and synced["outcome"] == "Accepted"
            assert synced["update_type"] == "Full" and set(sim.local_list.entries) == {"CLI-CARD"}

        code = await asyncio.to_thread(cli.main, ["local-list", "show", "CLI-LL", *url])
        shown = json.loads(capsys.readouterr().out)
        assert code == 0 and (shown["state"], shown["entries"]) == ("in_sync", 1)
        code = await asyncio.to_thread(cli.main, ["local-list", "entries", "CLI-LL", *url])
        assert json.loads(capsys.readouterr().out)[0]["id_tag"] == "CLI-CARD"
        # Offline now: a conflict, exit code 2.
        async with asyncio.timeout(20):
            await server.node.registry.wait_for("CLI-LL", present=False)
        code = await asyncio.to_thread(cli.main, ["local-list", "sync", "CLI-LL", *url])
        assert code == 2 and json.loads(capsys.readouterr().out)["status"] == 409
