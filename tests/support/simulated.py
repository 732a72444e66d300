"""Kilowatt's simulated charger connected to a test node: the one way tests set one up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from kilowatt.simulator import SimulatedStation, SimulatorConfig

from support.server import RunningServer

#: What a test station needs unlike a simulated fleet: no sessions of its own (the test drives
#: them), a quick reconnect after a drop, and the same random draws (meter, EV) on every run.
TEST_STATION: dict[str, Any] = {
    "auto_sessions": False,
    "reconnect_min": 0.05,
    "reconnect_max": 0.2,
    "seed": 1,
}


@asynccontextmanager
async def simulated_station(
    server: RunningServer,
    charge_point_id: str,
    *,
    bound: float = 60,
    configuration: Mapping[str, str] | None = None,
    **config_overrides: Any,
) -> AsyncIterator[SimulatedStation]:
    """``charge_point_id`` connected to ``server`` and booted until the block ends, which must
    end within ``bound`` seconds. ``config_overrides`` are SimulatorConfig fields over
    ``TEST_STATION``; ``configuration`` sets the station's OCPP keys before it connects."""
    config = SimulatorConfig(
        **{"url": f"ws://127.0.0.1:{server.port}/ocpp", **TEST_STATION, **config_overrides}
    )
    sim = SimulatedStation(config, charge_point_id)
    for key, value in (configuration or {}).items():
        sim.configuration.set(key, value)
    async with asyncio.timeout(bound), sim:
        await sim.connect()
        await sim.boot()
        yield sim
