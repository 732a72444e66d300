"""Steps of the firmware and diagnostics tests: uploads, campaigns, and waiting for events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kilowatt.events import Event, EventBus

from support.server import RunningServer

BOUND = 30  # seconds any awaited condition may take before the test fails


class Events:
    """Events of the given types from now on, kept in ``seen`` as they are read."""

    def __init__(self, bus: EventBus, *types: str) -> None:
        self.stream = bus.stream(lambda e: e.type in types)
        self.seen: list[Event] = []

    async def until(self, matches: Callable[[Event], bool]) -> Event:
        """The first event (seen before or coming) that ``matches``."""
        for event in self.seen:
            if matches(event):
                return event
        async with asyncio.timeout(BOUND):
            while True:
                event = await self.stream.queue.get()
                self.seen.append(event)
                if matches(event):
                    return event

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def firmware(state: str, station: str | None = None) -> Callable[[Event], bool]:
    return lambda e: (
        e.type == "firmware.status"
        and e.data["state"] == state
        and (station is None or e.station == station)
    )


def diagnostics(state: str) -> Callable[[Event], bool]:
    return lambda e: e.type == "diagnostics.status" and e.data["state"] == state


async def upload_firmware(
    server: RunningServer, name: str, data: bytes, **params: Any
) -> dict[str, Any]:
    async with server.api() as api:
        response = await api.post(
            "/api/v1/firmware",
            params={"name": name, **params},
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def start_campaign(server: RunningServer, file_id: int, **body: Any) -> dict[str, Any]:
    async with server.api() as api:
        response = await api.post("/api/v1/firmware/campaigns", json={"file_id": file_id, **body})
    assert response.status_code == 201, response.text
    campaign: dict[str, Any] = response.json()
    return campaign


async def campaign(server: RunningServer, campaign_id: int) -> dict[str, Any]:
    async with server.api() as api:
        response = await api.get(f"/api/v1/firmware/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_station(campaign_body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["charge_point_id"]: row for row in campaign_body["stations"]}
