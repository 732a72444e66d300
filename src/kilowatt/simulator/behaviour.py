"""Drivers: what makes an unattended simulated station busy (auto_sessions).

One driver per connector: wait a while, arrive, plug in, present a card, leave the car for a
while (it charges, fills up, and the charger reports SuspendedEV), then end the session either
with the card (reason Local) or by just unplugging (EVDisconnected). A session the CSMS
started or stopped remotely is taken in stride: the driver only acts on what it finds.
All times are divided by the config's time_scale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from kilowatt.ocpp.v16.enums import AuthorizationStatus

from .link import StationError

if TYPE_CHECKING:
    from .station import SimulatedStation

__all__ = ["drive_connector"]

logger = logging.getLogger("kilowatt.simulator")

#: Shortest stay at the charger, in simulated seconds.
MIN_STAY = 60.0


async def _wait(station: SimulatedStation, condition: Callable[[], bool], seconds: float) -> bool:
    """Wait up to `seconds` for condition(); True if it came true."""
    try:
        async with asyncio.timeout(seconds):
            await station.wait_until(condition)
    except TimeoutError:
        return False
    return True


async def drive_connector(station: SimulatedStation, connector_id: int) -> None:
    """Sessions on one connector, forever (until the station closes)."""
    config = station.config
    rng = station.rng
    scale = config.time_scale
    connector = station.connector(connector_id)
    while True:
        try:
            await station.wait_until(
                lambda: station.online and station.accepted,
            )
            idle = rng.expovariate(1.0 / config.mean_idle_time) / scale
            # Arrive after the idle time, unless a remote start plugs a car in meanwhile.
            await _wait(station, lambda: connector.plugged, idle)
            if not connector.plugged and connector.is_free:
                await station.plug_in(connector_id)
                status = await station.swipe(connector_id, rng.choice(config.id_tags))
                if status is not AuthorizationStatus.ACCEPTED:
                    await _wait(station, lambda: False, MIN_STAY / scale)
                    if connector.plugged and connector.transaction is None:
                        await station.unplug(connector_id)
                    continue
            stay = max(MIN_STAY, rng.expovariate(1.0 / config.mean_session_duration)) / scale
            await _wait(
                station,
                lambda: (
                    not connector.plugged
                    or (connector.transaction is None and not connector.remote_start_pending)
                ),
                stay,
            )
            if connector.transaction is not None and connector.plugged and rng.random() < 0.5:
                await station.swipe(connector_id, connector.transaction.id_tag)
            if connector.plugged:
                await station.unplug(connector_id)
        except StationError as exc:
            logger.debug("%s/%d: %s", station.station_id, connector_id, exc)
            await asyncio.sleep(config.reconnect_min)
