"""Stations connecting under security profiles 0 to 3: raw WebSocket stations and ``ocpp``-library
charge points over ws:// or wss://, a test PKI, and the refusals the bus reports."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from kilowatt.events import Event
from kilowatt.stations import service as stations

from support.ocpp_client import LibChargePoint
from support.server import HANDSHAKE_TIMEOUT, RunningServer

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
# Seconds an answer may take: generous, because every refused attempt before it costs an Argon2
# verification (about 1.5 s of CPU each on a loaded 2-core CI machine, where 10 s ran out once).
BOUND = 30


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def url(server: RunningServer, charge_point_id: str, *, tls: bool = False) -> str:
    return server.ws_url(charge_point_id).replace("ws://", "wss://" if tls else "ws://")


async def register(server: RunningServer, charge_point_id: str, **kw: Any) -> None:
    async with server.node.sessions() as db:
        await stations.register(db, charge_point_id, **kw)
        await db.commit()


def refusals(server: RunningServer) -> list[Event]:
    """The ``security.connection_refused`` events published from now on."""
    seen: list[Event] = []
    server.node.bus.subscribe(
        lambda event: seen.append(event) if event.type == "security.connection_refused" else None
    )
    return seen


@contextlib.asynccontextmanager
async def station(
    server: RunningServer,
    charge_point_id: str,
    *,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> AsyncIterator[ClientConnection]:
    """A raw station connection (ocpp1.6), booted."""
    async with websockets.connect(
        url(server, charge_point_id, tls=context is not None),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=headers,
        ssl=context,
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        await ws.send(BOOT)
        async with asyncio.timeout(BOUND):
            assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"
        yield ws


async def answers(ws: ClientConnection) -> None:
    """The connection still works: a Heartbeat gets its CALLRESULT."""
    await ws.send('[2,"hb","Heartbeat",{}]')
    async with asyncio.timeout(BOUND):
        reply = orjson.loads(await ws.recv())
    assert reply[0] == 3 and reply[1] == "hb"


async def refused(
    server: RunningServer,
    charge_point_id: str,
    *,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> int:
    """The HTTP status an upgrade is refused with (fails if it is accepted)."""
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with websockets.connect(
            url(server, charge_point_id, tls=context is not None),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=context,
            open_timeout=HANDSHAKE_TIMEOUT,
        ):
            pass
    status: int = refusal.value.response.status_code
    return status


@contextlib.asynccontextmanager
async def lib_station(
    server: RunningServer,
    charge_point_id: str,
    *,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> AsyncIterator[LibChargePoint]:
    """An ``ocpp``-library charge point that knows the security configuration keys."""
    async with websockets.connect(
        url(server, charge_point_id, tls=context is not None),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=headers,
        ssl=context,
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        cp = LibChargePoint(charge_point_id, ws)
        cp.configuration["AuthorizationKey"] = ("", False)
        cp.configuration["SecurityProfile"] = ("0", False)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
