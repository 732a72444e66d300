"""A reconnect storm: many stations connecting at once, retrying with no back-off.

The node stays up, admits them at the pace of its handshake limits (429 + Retry-After for the
rest), its database keeps answering, and every station that keeps retrying is connected and
booted in the end. The stations run in a process of their own (``storm_clients.py``). The
default run has a hundred stations; ``KILOWATT_LONG_FAULTS=1`` 10,000 (the open-file limit is
raised for it). Figures are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kilowatt.stations.models import Station

from support.server import PRODUCTION_LIMITS, running_server

LONG = os.environ.get("KILOWATT_LONG_FAULTS") == "1"
STATIONS = 10_000 if LONG else 100
# Stations come from many addresses in the field (loopback gives us 127.0.0.0/8 to spread them);
# the default run puts them all behind one address, as behind a NAT or a reverse proxy.
SOURCES = 50 if LONG else 1
CLIENTS = Path(__file__).with_name("storm_clients.py")


def _raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"needs {wanted} open files; the hard limit is {hard}")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.timeout(3600 if LONG else 180)
async def test_reconnect_storm_every_retrying_station_gets_in(
    database_url: str, tmp_path: Path
) -> None:
    _raise_open_files(STATIONS + 1_000)  # the server's end of every connection
    seconds = 900 if LONG else 120
    async with running_server(
        database_url, tmp_path, call_timeout=30.0, **PRODUCTION_LIMITS
    ) as server:
        limits = server.node.settings
        started = time.monotonic()
        clients = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENTS),
            server.ws_url("").rstrip("/"),
            str(STATIONS),
            str(SOURCES),
            str(seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert clients.stdin is not None and clients.stdout is not None
        assert clients.stderr is not None
        try:
            async with asyncio.timeout(seconds + 60):
                line = await clients.stdout.readline()
            if not line:
                await clients.wait()
                pytest.fail(f"the stations failed: {(await clients.stderr.read()).decode()}")
            storm = json.loads(line)
            print(f"\nstorm after {time.monotonic() - started:.1f} s: {storm}")
            assert storm["connected"] == STATIONS
            assert len(server.node.registry) == STATIONS
            # The database survived the storm: the API reads it, every station is online there.
            async with server.api() as api:
                assert (await api.get("/api/v1/stations", params={"limit": 1})).status_code == 200
            async with server.node.sessions() as db:
                online = await db.scalar(
                    select(func.count()).select_from(Station).where(Station.online.is_(True))
                )
            assert online == STATIONS
            clients.stdin.write(b"release\n")
            await clients.stdin.drain()
            async with asyncio.timeout(120):
                assert await clients.wait() == 0, (await clients.stderr.read()).decode()
                # Every station said goodbye and was recorded offline before the node stops.
                for n in range(STATIONS):
                    await server.node.registry.wait_for(f"STORM{n:05d}", present=False)
        finally:
            if clients.returncode is None:
                clients.kill()
                await clients.wait()
        print(
            f"\nreconnect storm: {STATIONS} stations from {SOURCES} addresses, no back-off;"
            f" connected {storm['connected']}, refused {storm['refused']} times"
            f" ({storm['retried_stations']} stations refused then retried in),"
            f" other failed attempts {storm['failed_attempts']},"
            f" connections lost before the boot reply {storm['dropped_before_boot']};"
            f" all connected after {storm['took']:.1f} s; server peak RSS {_peak_rss_mib():.0f} MiB"
            f" (limits: {limits.handshake_rate_per_address:g}/s burst"
            f" {limits.handshake_burst_per_address} per address,"
            f" {limits.handshake_rate_per_id:g}/s burst {limits.handshake_burst_per_id} per id)"
        )
        # The limits did the pacing: with more stations per address than its burst, some waited.
        if limits.handshake_burst_per_address < STATIONS // SOURCES:
            assert storm["refused"] > 0 and storm["retried_stations"] > 0
