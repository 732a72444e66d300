"""``kilowatt firmware``: upload an image, start a campaign, read its progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import operator_cli
from support.server import running_server


async def test_upload_campaign_status(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = tmp_path / "kw-5.0.bin"
    image.write_bytes(b"\x7fELF" * 100_000)
    async with running_server(database_url, tmp_path / "node") as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        async with server.api() as api:
            assert (
                await api.post("/api/v1/stations", json={"charge_point_id": "CLI-FW"})
            ).is_success

        code, file = await kilowatt("firmware", "upload", str(image), "--version", "5.0")
        assert code == 0 and isinstance(file, dict)
        assert (file["name"], file["version"], file["size_bytes"]) == ("kw-5.0.bin", "5.0", 400_000)
        code, campaign = await kilowatt(
            "firmware", "campaign", str(file["id"]), "--stations", "CLI-FW", "--retries", "2"
        )
        assert code == 0 and isinstance(campaign, dict) and campaign["retries"] == 2
        code, status = await kilowatt("firmware", "status", str(campaign["id"]))
        assert code == 0 and isinstance(status, dict)
        assert [s["charge_point_id"] for s in status["stations"]] == ["CLI-FW"]
        code, listed = await kilowatt("firmware", "status")
        assert code == 0 and isinstance(listed, dict) and listed["total"] == 1
        code, diagnostics = await kilowatt("firmware", "diagnostics", "CLI-FW")
        assert code == 0 and isinstance(diagnostics, dict) and diagnostics["state"] == "offline"
        code, missing = await kilowatt("firmware", "campaign", "999", "--all")
        assert code == 2 and isinstance(missing, dict) and missing["status"] == 404
