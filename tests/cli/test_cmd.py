"""``kilowatt cmd``: an operator sends a command from the command line and reads its outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from kilowatt import cli

from support.cli import operator_cli
from support.ocpp_client import lib_charge_point
from support.server import running_server
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
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        async with lib_charge_point(server.ws_url("CLI1"), "CLI1") as cp:
            await boot(cp)
            cp.answers["Reset"] = "Accepted"
            code, sent = await kilowatt("cmd", "CLI1", "Reset", "type=Soft")
            assert code == 0
            assert (sent["action"], sent["state"], sent["outcome"]) == (
                "Reset",
                "completed",
                "Accepted",
            )
            assert await cp.next_command() == ("Reset", {"type": "Soft"})

            code, again = await kilowatt("cmd", "--get", sent["id"])
            assert code == 0 and again["id"] == sent["id"] and again["outcome"] == "Accepted"

        code, missing = await kilowatt("cmd", "NOPE", "Reset", "type=Soft")
        assert code == 2
        assert missing["status"] == 404
