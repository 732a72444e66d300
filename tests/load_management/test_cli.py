"""``kilowatt load``: an operator sets up a site's load management from the command line, against
a running node and a simulated station at the site."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kilowatt.events import Event
from kilowatt.load_management.cli import parse_limit, parse_per_phase, parse_priority, parse_time
from kilowatt.load_management.manager import DEFAULT_PROFILE_ID, tx_profile_id
from kilowatt.simulator import SimulatedStation
from kilowatt.simulator.ev import Ev

from support.cli import operator_cli
from support.server import RunningServer, running_server
from support.simulated import simulated_station
from support.steps import add_token

BOUND = 60  # seconds the whole scenario may take


def test_limit_values() -> None:
    assert parse_limit("63A") == {"unit": "A", "value": "63"}
    assert parse_limit("6.5a") == {"unit": "A", "value": "6.5"}
    assert parse_limit("40kW") == {"unit": "kW", "value": "40"}
    assert parse_limit("40000W") == {"unit": "kW", "value": "40"}
    assert parse_per_phase("63,63,40") == {"unit": "A", "l1": "63", "l2": "63", "l3": "40"}
    assert parse_per_phase("13,13,10kW") == {"unit": "kW", "l1": "13", "l2": "13", "l3": "10"}
    assert parse_priority("fleet=3") == ("fleet", 3)
    assert parse_time("2026-05-01T17:00:00Z") == "2026-05-01T17:00:00+00:00"
    bad: list[tuple[Callable[[str], object], str]] = [
        (parse_limit, "63X"),
        (parse_limit, "63"),  # no unit
        (parse_limit, "-3A"),
        (parse_limit, "1e3A"),
        (parse_per_phase, "63,63"),
        (parse_per_phase, "63A,63kW,40"),
        (parse_per_phase, "63,x,40"),
        (parse_priority, "fleet"),
        (parse_priority, "=3"),
        (parse_priority, "fleet=high"),
        (parse_time, "tomorrow"),
        (parse_time, "2026-05-01T17:00:00"),  # no offset
    ]
    for parse, text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


class Allocations:
    """The site's ``load.allocated`` events, and a wait for one that satisfies a condition."""

    def __init__(self, server: RunningServer, site_id: int) -> None:
        self.site_id = site_id
        self.seen: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.unsubscribe = server.node.bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type == "load.allocated" and event.data.get("site_id") == self.site_id:
            self.seen.append(dict(event.data))
            self._changed.set()

    async def until(self, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while not (self.seen and condition(self.seen[-1])):
            self._changed.clear()
            await self._changed.wait()
        return self.seen[-1]


def _amps(phases: dict[str, str]) -> tuple[Decimal, ...]:
    return tuple(Decimal(phases[p]) for p in ("l1", "l2", "l3"))


def _holds(sim: SimulatedStation, profile_id: int) -> list[Decimal]:
    return [
        h.profile.charging_schedule.charging_schedule_period[0].limit
        for h in sim.profiles.held
        if h.profile.charging_profile_id == profile_id
    ]


async def test_set_show_windows_and_allocations_of_a_site_with_a_simulated_station(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
        async with server.api() as api:
            site = (await api.post("/api/v1/sites", json={"name": "CLI depot"})).json()["id"]
            created = await api.post(
                "/api/v1/stations", json={"charge_point_id": "CLI-LOAD", "site_id": site}
            )
            assert created.status_code == 201, created.text
        await add_token(server, "CLI-LOAD-CARD", token_group="fleet")
        allocations = Allocations(server, site)
        try:
            async with simulated_station(
                server,
                "CLI-LOAD",
                bound=BOUND,
                connectors=1,
                meter_interval=0.5,
                max_power_w=22_000.0,
            ) as sim:
                # Not load-managed yet: the API's 404, and a failing exit code
                code, answer = await kilowatt("load", "show", str(site))
                assert code == 2 and answer["status"] == 404

                # Bad input is refused before anything is sent: still not load-managed
                assert "expected a limit like 63A or 40kW, got '63X'" in await kilowatt.refused(
                    "load", "set", str(site), "63X"
                )
                assert "not both" in await kilowatt.refused(
                    "load", "set", str(site), "63A", "--per-phase", "63,63,40"
                )
                assert "GROUP=PRIORITY" in await kilowatt.refused(
                    "load", "set", str(site), "63A", "--priority", "fleet"
                )
                assert sim.profiles.held == []
                code, answer = await kilowatt("load", "show", str(site))
                assert code == 2 and answer["title"] == "Not load-managed"

                # set: on, and the station gets the 0 A guard for new sessions
                code, shown = await kilowatt(
                    "load", "set", str(site), "63A",
                    "--min", "6", "--max", "16", "--voltage", "230",
                    "--priority", "fleet=3", "--priority", "staff=2",
                )  # fmt: skip
                assert code == 0, shown
                assert shown["enabled"] is True
                assert _amps(shown["limit_a"]) == (63, 63, 63)
                assert (Decimal(shown["min_current_a"]), Decimal(shown["max_current_a"])) == (6, 16)
                assert shown["priorities"] == {"fleet": 3, "staff": 2}
                await sim.wait_until(lambda: _holds(sim, DEFAULT_PROFILE_ID) == [Decimal(0)])
                [guard] = [
                    h
                    for h in sim.profiles.held
                    if h.profile.charging_profile_id == DEFAULT_PROFILE_ID
                ]
                assert guard.connector_id == 0
                assert guard.profile.charging_profile_purpose == "TxDefaultProfile"

                # A card of the fleet charges: its share is the connector's maximum (16 A)
                await sim.plug_in(1, Ev(capacity_wh=80_000.0, soc=0.2, max_power_w=22_000.0))
                await sim.swipe(1, "CLI-LOAD-CARD")
                transaction = sim.transaction_id(1)
                await allocations.until(
                    lambda a: [s["transaction_id"] for s in a["sessions"]] == [transaction]
                )
                await sim.wait_until(lambda: _holds(sim, tx_profile_id(1)) == [Decimal(16)])
                code, page = await kilowatt("load", "allocations", str(site), "--limit", "1")
                assert code == 0 and page["limit"] == 1 and page["total"] >= 2
                [latest] = page["items"]
                [share] = latest["sessions"]
                assert (share["charging_station_id"], share["priority"]) == ("CLI-LOAD", 3)
                assert Decimal(share["current_a"]) == 16
                since = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
                code, page = await kilowatt("load", "allocations", str(site), "--since", since)
                assert code == 0 and page["items"] == []

                # A grid operator's window lowers the limit in force; the share follows it
                now = datetime.now(UTC)
                code, window = await kilowatt(
                    "load", "window", str(site), "10A",
                    "--from", (now - timedelta(minutes=1)).isoformat(),
                    "--to", (now + timedelta(hours=1)).isoformat(),
                    "--source", "grid-operator",
                )  # fmt: skip
                assert code == 0, window
                assert window["source"] == "grid-operator"
                assert Decimal(window["limit_a"]["l1"]) == 10
                code, shown = await kilowatt("load", "show", str(site))
                assert code == 0
                assert Decimal(shown["in_force"]["limit_a"]["l1"]) == 10
                assert shown["in_force"]["window_ids"] == [window["id"]]
                await sim.wait_until(lambda: _holds(sim, tx_profile_id(1)) == [Decimal(10)])
                code, listed = await kilowatt("load", "windows", str(site))
                assert code == 0 and [w["id"] for w in listed] == [window["id"]]
                assert "--from and --to" in await kilowatt.refused(
                    "load", "window", str(site), "10A", "--from", now.isoformat()
                )

                # Deleted: nothing printed, and the full limit is back
                code, answer = await kilowatt(
                    "load", "window", str(site), "--delete", str(window["id"])
                )
                assert (code, answer) == (0, None)
                code, listed = await kilowatt("load", "windows", str(site))
                assert (code, listed) == (0, [])
                await sim.wait_until(lambda: _holds(sim, tx_profile_id(1)) == [Decimal(16)])
                code, answer = await kilowatt(
                    "load", "window", str(site), "--delete", str(window["id"])
                )
                assert code == 2 and answer["status"] == 404

                # Per phase, then in kW (40 kW at 230 V: 57.9 A on each phase)
                code, shown = await kilowatt("load", "set", str(site), "--per-phase", "63,63,40")
                assert code == 0
                assert _amps(shown["limit_a"]) == (63, 63, 40)
                assert shown["priorities"] == {}  # set replaces the settings
                code, shown = await kilowatt("load", "set", str(site), "40kW")
                assert code == 0
                assert Decimal(shown["limit_kw"]) == 40
                assert _amps(shown["limit_a"]) == (Decimal("57.9"),) * 3

                # --off alone keeps the settings and takes the manager's profiles off
                code, shown = await kilowatt("load", "set", str(site), "--off")
                assert code == 0
                assert (shown["enabled"], Decimal(shown["limit_kw"])) == (False, 40)
                await sim.wait_until(lambda: not _holds(sim, DEFAULT_PROFILE_ID))

                # A 4xx of the API (an unknown site) is exit code 2 with its problem
                code, answer = await kilowatt("load", "set", "999999", "63A")
                assert code == 2 and answer["status"] == 404
        finally:
            allocations.unsubscribe()
