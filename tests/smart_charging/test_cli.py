"""``kilowatt limit``: an operator limits a station from the command line."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from kilowatt import cli
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.smart_charging.cli import parse_limit

from support.server import API_KEY, running_server


def test_limit_values() -> None:
    assert parse_limit("16A") == (Decimal(16), "A")
    assert parse_limit("6.5a") == (Decimal("6.5"), "A")
    assert parse_limit("11000W") == (Decimal(11000), "W")
    assert parse_limit("7.4kW") == (Decimal("7400.0"), "W")
    for bad in ("16", "A", "-3A", "16 amps", "1e3W"):
        with pytest.raises(SystemExit):
            parse_limit(bad)


async def test_limit_command_limits_the_simulated_station(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KILOWATT_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))
    async with running_server(database_url, tmp_path) as server:
        config = SimulatorConfig(url=f"ws://127.0.0.1:{server.port}/ocpp", auto_sessions=False)
        async with asyncio.timeout(60), SimulatedStation(config, "CLI-LIMIT") as sim:
            await sim.connect()
            await sim.boot()
            code = await asyncio.to_thread(
                cli.main, ["limit", "CLI-LIMIT", "0", "32A", "--url", server.http_url]
            )
            answer = json.loads(capsys.readouterr().out)
            assert code == 0
            assert (answer["status"], answer["purpose"]) == ("Accepted", "ChargePointMaxProfile")
            [held] = sim.profiles.held
            assert held.connector_id == 0
            assert held.profile.charging_schedule.charging_schedule_period[0].limit == 32
            code = await asyncio.to_thread(
                cli.main, ["limit", "NOPE", "1", "16A", "--url", server.http_url]
            )
            assert code == 2 and json.loads(capsys.readouterr().out)["status"] == 404
