"""A Server-Sent Events client for tests: real HTTP, parsed per the WHATWG event-stream format."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str | None
    type: str
    data: Any


class SseClient:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[SseEvent] = asyncio.Queue()
        self.last_id: str | None = None

    async def _read(self) -> None:
        kind, data, event_id = "message", [], None
        async for line in self.response.aiter_lines():
            if line == "":
                if data:
                    payload = "\n".join(data)
                    event = SseEvent(event_id, kind, json.loads(payload))
                    if event_id is not None:
                        self.last_id = event_id
                    self.events.put_nowait(event)
                kind, data, event_id = "message", [], None
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                elif name == "event":
                    kind = value
                elif name == "id":
                    event_id = value

    async def next(self, within: float = 10.0) -> SseEvent:
        async with asyncio.timeout(within):
            return await self.events.get()

    async def next_of(self, kind: str, within: float = 10.0) -> SseEvent:
        """The next event of this type (others before it are skipped)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.type == kind:
                    return event

    def pending(self) -> list[SseEvent]:
        items = []
        while not self.events.empty():
            items.append(self.events.get_nowait())
        return items


@contextlib.asynccontextmanager
async def sse(
    base_url: str, headers: dict[str, str], params: dict[str, Any] | None = None
) -> AsyncIterator[SseClient]:
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=None) as client,
        client.stream("GET", "/api/v1/events", params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseClient(response)
        task = asyncio.create_task(reader._read())
        try:
            yield reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
