"""A real Kilowatt node on 127.0.0.1 with an ephemeral port, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from kilowatt.app import Kilowatt, Server, create_app, uvicorn_config
from kilowatt.config import Settings, UnknownStationPolicy

API_KEY = "test-admin-key"


@dataclass
class RunningServer:
    app: FastAPI
    server: Server
    port: int

    @property
    def node(self) -> Kilowatt:
        node: Kilowatt = self.app.state.kilowatt
        return node

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, charge_point_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{charge_point_id}"

    def anonymous(self) -> httpx.AsyncClient:
        """A client without credentials."""
        return httpx.AsyncClient(base_url=self.http_url, timeout=30)

    def api(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.http_url, headers={"X-API-Key": API_KEY}, timeout=30, **kwargs
        )


# How long a test's WebSocket opening handshake may take: seconds on an idle machine, far more
# on a loaded CI runner (one PostgreSQL pass timed out at 10 s); a hang still fails.
HANDSHAKE_TIMEOUT = 30

RELAXED_LIMITS: dict[str, Any] = {
    "handshake_rate_per_address": 100_000.0,
    "handshake_burst_per_address": 100_000,
    "handshake_rate_per_id": 1_000.0,
    "handshake_burst_per_id": 1_000,
    "station_message_rate": 100_000.0,
    "station_message_burst": 100_000,
}
# What a node runs with unless configured (for the tests of the limits themselves).
PRODUCTION_LIMITS: dict[str, Any] = {name: getattr(Settings(), name) for name in RELAXED_LIMITS}


@contextlib.asynccontextmanager
async def running_server(
    database_url: str,
    data_dir: Path,
    *,
    vendor_hooks: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningServer]:
    """Serve a migrated database until the block ends; stations are auto-registered by default."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "admin_api_key": API_KEY,
        "unknown_station_policy": UnknownStationPolicy.AUTO_REGISTER,
        "call_timeout": 5.0,
        "log_level": "warning",
        # Tests read the exact calls a station receives: no GetConfiguration of the local list
        # worker's auto-enrolment unless a test asks for it (tests/local_lists/).
        "local_list_auto_enrol": False,
        # Tests connect many stations from 127.0.0.1 and send as fast as they can: the
        # connection limits are lifted unless a test sets them (tests/faults/ does).
        **RELAXED_LIMITS,
    }
    values.update(overrides)
    settings = Settings(**values)
    app = create_app(settings, migrate=False, vendor_hooks=vendor_hooks)
    server = Server(uvicorn_config(app, settings))
    server.handle_signals = False
    serving = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    done, _ = await asyncio.wait({serving, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if serving.done():
            await serving
        raise RuntimeError("the test server did not start")
    try:
        yield RunningServer(app, server, server.port)
    finally:
        server.should_exit = True
        await serving
