"""``kilowatt limit``: an operator limits a station from the command line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kilowatt.smart_charging.cli import parse_limit

from support.cli import operator_cli
from support.server import running_server
from support.simulated import simulated_station


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
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        async with simulated_station(server, "CLI-LIMIT") as sim:
            code, answer = await kilowatt("limit", "CLI-LIMIT", "0", "32A")
            assert code == 0
            assert (answer["status"], answer["purpose"]) == ("Accepted", "ChargePointMaxProfile")
            [held] = sim.profiles.held
            assert held.connector_id == 0
            assert held.profile.charging_schedule.charging_schedule_period[0].limit == 32
            code, missing = await kilowatt("limit", "NOPE", "1", "16A")
            assert code == 2 and missing["status"] == 404
