"""Offline detection: a station that stops answering WebSocket pings is disconnected."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

from kilowatt.stations import repository as stations

from support.server import running_server


async def test_station_that_misses_pongs_goes_offline(database_url: str, tmp_path: Path) -> None:
    async with running_server(
        database_url, tmp_path, ws_ping_interval=0.2, ws_ping_timeout=0.2
    ) as server:
        # A hand-made client: it completes the upgrade, then never reads, so it never answers a ping.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /ocpp/SILENT HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        await asyncio.wait_for(server.node.registry.wait_for("SILENT", present=True), 10)
        await asyncio.wait_for(server.node.registry.wait_for("SILENT", present=False), 10)
        async with server.node.sessions() as db:
            station = await stations.by_charge_point_id(db, "SILENT")
        assert (
            station is not None and station.online is False and station.disconnected_at is not None
        )
        writer.close()
