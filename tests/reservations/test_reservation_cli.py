"""``kilowatt reservation``: an operator reserves and cancels from the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kilowatt import cli
from kilowatt.simulator import SimulatedStation, SimulatorConfig

from support.server import API_KEY, running_server


async def test_reserve_list_and_cancel_a_simulated_connector(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KILOWATT_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))

    def kilowatt(*args: str) -> tuple[int, object]:
        code = cli.main([*args, "--url", server.http_url])
        return code, json.loads(capsys.readouterr().out)

    async with running_server(database_url, tmp_path) as server:
        async with server.api() as api:
            created = await api.post("/api/v1/tokens", json={"id_tag": "CLI-CARD"})
            assert created.status_code == 201, created.text
        config = SimulatorConfig(url=f"ws://127.0.0.1:{server.port}/ocpp", auto_sessions=False)
        async with asyncio.timeout(60), SimulatedStation(config, "CLI-RES") as sim:
            await sim.connect()
            await sim.boot()
            code, reserved = await asyncio.to_thread(
                kilowatt, "reservation", "create", "CLI-RES", "1", "CLI-CARD", "--minutes", "10"
            )
            assert code == 0 and isinstance(reserved, dict)
            assert reserved["state"] == "accepted"
            code, listed = await asyncio.to_thread(kilowatt, "reservation", "list", "--active")
            assert code == 0 and isinstance(listed, dict)
            assert [r["reservationId"] for r in listed["items"]] == [reserved["reservationId"]]
            code, cancelled = await asyncio.to_thread(
                kilowatt, "reservation", "cancel", str(reserved["reservationId"])
            )
            assert code == 0 and isinstance(cancelled, dict)
            assert cancelled["state"] == "cancelled"
            # an unknown station is the API's 404, and a failing exit code
            code, refused = await asyncio.to_thread(
                kilowatt, "reservation", "create", "NOPE", "1", "CLI-CARD"
            )
            assert code == 2 and isinstance(refused, dict) and refused["status"] == 404
