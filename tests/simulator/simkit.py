"""Helpers shared by the simulator tests: a bounded await, a test config, a booted station."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sim_csms import MockCsms

from kilowatt.simulator import SimulatedStation, SimulatorConfig

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float = 5.0) -> T:
    """Await with a bound: a hang fails the test instead of stalling it."""
    async with asyncio.timeout(seconds):
        return await awaitable


def sim_config(url: str, **overrides: Any) -> SimulatorConfig:
    base: dict[str, Any] = {
        "url": url,
        "stations": 1,
        "connectors": 2,
        "auto_sessions": False,
        "meter_interval": 0.5,
        "max_power_w": 22_000.0,
        "time_scale": 60.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "seed": 7,
    }
    base.update(overrides)
    return SimulatorConfig(**base)


@asynccontextmanager
async def booted(
    csms: MockCsms, station_id: str = "CP1", **overrides: Any
) -> AsyncIterator[SimulatedStation]:
    station = SimulatedStation(sim_config(csms.url, **overrides), station_id)
    async with station:
        await within(station.connect())
        await within(station.boot())
        yield station


def statuses(csms: MockCsms, station_id: str, connector_id: int) -> list[str]:
    return [
        r.payload.status
        for r in csms.calls(station_id, "StatusNotification")
        if r.payload.connector_id == connector_id
    ]
