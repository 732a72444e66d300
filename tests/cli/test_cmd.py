"""``kilowatt cmd``: an operator sends a command from the command line and reads its outcome."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kilowatt import cli

from support.ocpp_client import lib_charge_point
from support.server import API_KEY, running_server
from support.steps import boot


def test_payload_is_typed_by_the_schema() -> None:
    assert cli.build_payload("RemoteStartTransaction", ["idTag=0042", "connectorId=2"], None) == {
        "idTag": "0042",
        "connectorId": 2,
    }
    assert cli.build_payload("GetConfiguration", ['key=["A","B"]'], None) == {"key": ["A", "B"]}
    assert cli.build_payload("Reset", [], '{"type": "Hard"}') == {"type": "Hard"}
    with pytest.raises(SystemExit):
        cli.build_payload("Explode", [], None)


async def test_cmd_sends_and_reads_the_outcome(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KILOWATT_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))
    async with running_server(database_url, tmp_path) as server:
        async with lib_charge_point(server.ws_url("CLI1"), "CLI1") as cp:
            await boot(cp)
            cp.answers["Reset"] = "Accepted"
            code = await asyncio.to_thread(
                cli.main, ["cmd", "CLI1", "Reset", "type=Soft", "--url", server.http_url]
            )
            sent = json.loads(capsys.readouterr().out)
            assert code == 0
            assert (sent["action"], sent["state"], sent["outcome"]) == (
                "Reset",
                "completed",
                "Accepted",
            )
            assert await cp.next_command() == ("Reset", {"type": "Soft"})

            code = await asyncio.to_thread(
                cli.main, ["cmd", "--get", sent["id"], "--url", server.http_url]
            )
            again = json.loads(capsys.readouterr().out)
            assert code == 0 and again["id"] == sent["id"] and again["outcome"] == "Accepted"

        code = await asyncio.to_thread(
            cli.main, ["cmd", "NOPE", "Reset", "type=Soft", "--url", server.http_url]
        )
        assert code == 2
        assert json.loads(capsys.readouterr().out)["status"] == 404
