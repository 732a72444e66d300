"""``kilowatt reservation``: an operator reserves and cancels from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import operator_cli
from support.server import running_server
from support.simulated import simulated_station


async def test_reserve_list_and_cancel_a_simulated_connector(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        async with server.api() as api:
            created = await api.post("/api/v1/tokens", json={"id_tag": "CLI-CARD"})
            assert created.status_code == 201, created.text
        async with simulated_station(server, "CLI-RES"):
            code, reserved = await kilowatt(
                "reservation", "create", "CLI-RES", "1", "CLI-CARD", "--minutes", "10"
            )
            assert code == 0 and isinstance(reserved, dict)
            assert reserved["state"] == "accepted"
            code, listed = await kilowatt("reservation", "list", "--active")
            assert code == 0 and isinstance(listed, dict)
            assert [r["reservationId"] for r in listed["items"]] == [reserved["reservationId"]]
            code, cancelled = await kilowatt(
                "reservation", "cancel", str(reserved["reservationId"])
            )
            assert code == 0 and isinstance(cancelled, dict)
            assert cancelled["state"] == "cancelled"
            # an unknown station is the API's 404, and a failing exit code
            code, refused = await kilowatt("reservation", "create", "NOPE", "1", "CLI-CARD")
            assert code == 2 and isinstance(refused, dict) and refused["status"] == 404
