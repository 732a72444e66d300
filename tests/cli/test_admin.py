"""``kilowatt station`` / ``kilowatt token``: direct administration of the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kilowatt import cli


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILOWATT_DATABASE_URL", database_url)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))


@pytest.mark.usefixtures("env")
def test_station_add_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["station", "add", "CP-A", "--password", "0123456789abcdef", "--connectors", "2"])
        == 0
    )
    assert cli.main(["station", "add", "CP-B", "--status", "Pending"]) == 0
    capsys.readouterr()
    assert cli.main(["station", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["charge_point_id"], s["registration_status"], s["basic_auth"]) for s in listed] == [
        ("CP-A", "Accepted", True),
        ("CP-B", "Pending", False),
    ]


@pytest.mark.usefixtures("env")
def test_station_password_must_be_16_to_40_bytes() -> None:
    with pytest.raises(SystemExit, match="16 to 40 bytes"):
        cli.main(["station", "add", "CP-C", "--password", "short"])


@pytest.mark.usefixtures("env")
def test_token_add_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(
            ["token", "add", "TAG-1", "--expiry", "2030-01-01T00:00:00+00:00", "--parent", "FLEET"]
        )
        == 0
    )
    assert cli.main(["token", "add", "TAG-2", "--status", "Blocked"]) == 0
    capsys.readouterr()
    assert cli.main(["token", "list"]) == 0
    listed = {t["id_tag"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["TAG-1"]["parent_id_tag"] == "FLEET" and listed["TAG-1"][
        "expiry_date"
    ].startswith("2030-01-01")
    assert listed["TAG-2"]["status"] == "Blocked"
