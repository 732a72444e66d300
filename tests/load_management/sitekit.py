"""A load-managed site of simulated stations, and what the load-management tests watch."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any

from kilowatt.events import Event
from kilowatt.load_management.manager import DEFAULT_PROFILE_ID, tx_profile_id
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.simulator.ev import Ev

from support.server import RunningServer
from support.steps import add_token

EXAMPLES = itertools.count(1)
BOUND = 30  # seconds any single awaited condition may take before the test fails
LIMIT = 63.0
MIN_A = Decimal(6)
STATIONS = 6


async def call(server: RunningServer, method: str, path: str, body: Any = None) -> Any:
    async with server.api() as api:
        response = await api.request(method, path, json=body)
    assert response.is_success, response.text
    return response.json() if response.content else None


class Site:
    """A load-managed site with its simulated stations, and what the test watches."""

    def __init__(self, server: RunningServer, site_id: int) -> None:
        self.server = server
        self.id = site_id
        self.sims: list[SimulatedStation] = []
        self.tags: list[str] = []
        self.allocations: list[dict[str, Any]] = []
        self.peak = dict.fromkeys((1, 2, 3), 0.0)
        self.samples = 0
        self._changed = asyncio.Event()

    def on_event(self, event: Event) -> None:
        if event.type == "load.allocated" and event.data.get("site_id") == self.id:
            self.allocations.append(dict(event.data))
        if event.type in (
            "meter_values",
            "command.finished",
            "transaction.started",
            "transaction.stopped",
            "load.allocated",
        ):
            self.sample()
            self._changed.set()

    def sample(self) -> None:
        """The site's simulated draw now, per phase: keep the peak."""
        total = dict.fromkeys((1, 2, 3), 0.0)
        for sim in self.sims:
            for phase, amps in sim.draw_phases().items():
                total[phase] += amps
        for phase, amps in total.items():
            self.peak[phase] = max(self.peak[phase], amps)
        self.samples += 1

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(BOUND):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def running(self) -> dict[int, SimulatedStation]:
        return {tx: sim for sim in self.sims if (tx := sim.transaction_id(1)) is not None}

    def settled(self) -> bool:
        """The latest allocation covers exactly the running transactions, and every station
        steered holds the share it was given."""
        if not self.allocations:
            return False
        latest = self.allocations[-1]
        running = self.running()
        if {s["transaction_id"] for s in latest["sessions"]} != set(running):
            return False
        for share in latest["sessions"]:
            if share["fixed"]:
                continue  # counted, not steered
            sim = running[share["transaction_id"]]
            held = [
                h.profile.charging_schedule.charging_schedule_period[0].limit
                for h in sim.profiles.held
                if h.profile.charging_profile_id == tx_profile_id(1)
            ]
            if held != [Decimal(share["current_a"])]:
                return False
        return True


@asynccontextmanager
async def managed_site(
    server: RunningServer,
    *,
    limit: float = LIMIT,
    stations: int = STATIONS,
    settings: dict[str, Any] | None = None,
    station_keys: dict[int, dict[str, str]] | None = None,
    groups: dict[int, str] | None = None,
) -> AsyncIterator[Site]:
    """A site of ``stations`` one-connector simulated stations (phase rotations RST, STR, TRS
    in turn), load-managed at ``limit`` A, each with a card of its own (``groups``: a token
    group for some); ``station_keys`` changes configuration keys of some stations."""
    created = await call(server, "POST", "/api/v1/sites", {"name": "Depot"})
    site = Site(server, created["id"])
    body = {"limit": {"unit": "A", "value": limit}, "min_current_a": str(MIN_A)}
    await call(server, "PUT", f"/api/v1/sites/{site.id}/load", {**body, **(settings or {})})
    unsubscribe = server.node.bus.subscribe(site.on_event)
    try:
        async with AsyncExitStack() as stack:
            example = next(EXAMPLES)  # hypothesis runs every example on the same database
            for n in range(stations):
                cp = f"LM{example}-{n}"
                await call(
                    server, "POST", "/api/v1/stations", {"charge_point_id": cp, "site_id": site.id}
                )
                config = SimulatorConfig(
                    url=f"ws://127.0.0.1:{server.port}/ocpp",
                    auto_sessions=False,
                    connectors=1,
                    meter_interval=0.2,
                    reconnect_min=0.05,
                    reconnect_max=0.2,
                    seed=n,
                    max_power_w=22_000.0,
                    time_scale=60.0,  # the ramp to full power takes half a second
                    phase_rotation=(("RST", "STR", "TRS")[n % 3],),
                )
                sim = SimulatedStation(config, cp)
                for key, value in (station_keys or {}).get(n, {}).items():
                    sim.configuration.set(key, value)
                await stack.enter_async_context(sim)
                await sim.connect()
                await sim.boot()
                site.sims.append(sim)
                tag = f"LM{example}-TAG-{n}"
                group = (groups or {}).get(n)
                await add_token(server, tag, **({"token_group": group} if group else {}))
                site.tags.append(tag)
            # every station holds the 0 A default before anyone charges
            await site.until(
                lambda: all(
                    any(
                        h.profile.charging_profile_id == DEFAULT_PROFILE_ID for h in s.profiles.held
                    )
                    for s in site.sims
                )
            )
            yield site
    finally:
        unsubscribe()


async def start(site: Site, n: int, *, phases: int = 3, power_w: float = 22_000.0) -> int:
    """A car that takes all it is given starts charging at station ``n``; its transaction."""
    sim = site.sims[n]
    car = Ev(capacity_wh=200_000.0, soc=0.2, max_power_w=power_w, phases=phases)
    await sim.plug_in(1, car)
    await sim.swipe(1, site.tags[n])
    transaction_id = sim.transaction_id(1)
    assert transaction_id is not None
    return transaction_id


def shares(site: Site) -> dict[str, dict[str, Any]]:
    """The latest allocation's shares by charge point id."""
    return {s["charging_station_id"]: s for s in site.allocations[-1]["sessions"]}
