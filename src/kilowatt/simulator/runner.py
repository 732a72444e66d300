"""run(): many simulated stations in one process, one TaskGroup, bounded in time."""

from __future__ import annotations

import asyncio
import logging
import time

from .config import SimulatorConfig, SimulatorStats
from .station import SimulatedStation

__all__ = ["run"]

logger = logging.getLogger("kilowatt.simulator")


async def run(
    config: SimulatorConfig,
    *,
    stop: asyncio.Event | None = None,
    stats: SimulatorStats | None = None,
) -> SimulatorStats:
    """Run `config.stations` stations until `config.duration` has passed or `stop` is set.

    Each station connects (staggered over `connect_stagger` seconds), boots, drives its
    connectors if `auto_sessions`, reconnects when dropped, and at the end stops its
    transactions (bounded by `shutdown_timeout`) and disconnects. A station that fails with
    an unexpected error is logged and counted; the others go on. Pass `stats` to watch the
    counters while it runs (e.g. a progress line).
    """
    stop = stop if stop is not None else asyncio.Event()
    if stats is None:
        stats = SimulatorStats()
    stats.started_at = time.monotonic()
    stations = [
        SimulatedStation(config, config.station_id(i), stats=stats) for i in range(config.stations)
    ]
    logger.info("simulating %d stations against %s", len(stations), config.url)
    async with asyncio.TaskGroup() as tg:
        if config.duration is not None:
            tg.create_task(_stop_after(stop, config.duration))
        for i, station in enumerate(stations):
            delay = config.connect_stagger * i / max(1, len(stations))
            tg.create_task(_live(station, stop, delay, stats))
        if not stations:
            await stop.wait()
    stats.stopped_at = time.monotonic()
    logger.info("simulation done: %s", stats.summary())
    return stats


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        stop.set()


async def _live(
    station: SimulatedStation, stop: asyncio.Event, delay: float, stats: SimulatorStats
) -> None:
    try:
        await station.run_forever(stop, start_delay=delay)
    except Exception:
        # One broken station must not end the run for the thousands of others.
        stats.errors += 1
        logger.exception("station %s failed", station.station_id)
