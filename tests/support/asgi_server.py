"""Serve an ASGI app on 127.0.0.1 (an ephemeral port) inside the test's event loop.

For the local stand-ins of outside systems (the fake Stripe API, a webhook receiver): uvicorn
without its 0.1 s polling, so that a test's server starts and stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    @functools.cached_property
    def ready(self) -> asyncio.Event:
        return asyncio.Event()

    @functools.cached_property
    def stopping(self) -> asyncio.Event:
        return asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default response headers
        await self.stopping.wait()

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for server in self.servers:
            await server.wait_closed()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the test runner owns the process's signals


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, what: str) -> AsyncIterator[int]:
    """Serve ``app`` until the block ends; yields its port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task.done():
            await task
        raise RuntimeError(f"{what} did not start")
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.stopping.set()
        await task
