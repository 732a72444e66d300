"""The stations of the reconnect storm, as their own process (``test_reconnect_storm.py``).

Run as ``python storm_clients.py URL STATIONS SOURCES DEADLINE_SECONDS``. Every station connects
until admitted, retrying at once on a refusal (no back-off), sends BootNotification and waits for
Accepted. When all are in, one JSON line ``{"connected": ..., "refused": ..., ...}`` goes to
stdout; the stations then stay connected until a line arrives on stdin, close, and the process
exits 0. A station that is not in by the deadline makes it exit 1 with the reason on stderr.

A process of its own because both ends of 10,000 connections do not fit in one process's open
files on this machine (20,000), and because a load generator sharing the server's event loop
would measure itself.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

import orjson
import websockets

BOOT = '[2,"boot","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


@dataclass
class Storm:
    connected: int = 0
    refused: int = 0  # 429 / 503 answers, all stations together
    retried_stations: int = 0  # stations refused at least once, then connected
    failed_attempts: int = 0  # attempts that ended otherwise (timeouts, resets)
    dropped_before_boot: int = 0  # connections lost before BootNotification was answered
    dropped_after_boot: int = 0  # connections lost while waiting to be released (reconnected)
    close_codes: dict[str, int] = field(default_factory=dict)  # of the connections lost
    took: float = 0.0  # seconds until every station was connected and booted


class NeverGotIn(Exception):
    pass


async def station(
    url: str,
    n: int,
    sources: int,
    storm: Storm,
    all_connected: asyncio.Event,
    release: asyncio.Event,
    deadline: float,
    stations: int,
) -> None:
    """Connect until admitted (retrying at once on a refusal), boot, stay until released.
    A connection lost before the boot is answered, or after, is tried again, as a station
    would; the storm is over when every station is connected at once."""
    name = f"STORM{n:05d}"
    source = f"127.0.0.{1 + n % sources}"
    refused_here = False
    while True:
        if time.monotonic() >= deadline:
            raise NeverGotIn(f"{name} never got in")
        try:
            ws = await websockets.connect(
                f"{url}/{name}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                local_addr=(source, 0),
                open_timeout=60,
                compression=None,
            )
        except websockets.InvalidStatus as refused:
            status = refused.response.status_code
            if status not in (429, 503) or "Retry-After" not in refused.response.headers:
                raise NeverGotIn(f"{name}: refused with {status} and no Retry-After") from None
            storm.refused += 1
            refused_here = True
            await asyncio.sleep(0)  # no back-off: straight back in line
            continue
        except (OSError, TimeoutError):
            storm.failed_attempts += 1
            await asyncio.sleep(0)
            continue
        try:
            await ws.send(BOOT)
            async with asyncio.timeout(60):
                reply = orjson.loads(await ws.recv())
        except (websockets.ConnectionClosed, TimeoutError):
            storm.dropped_before_boot += 1
            _count_close(storm, ws)
            await ws.close()
            continue
        if reply[2].get("status") != "Accepted":
            raise NeverGotIn(f"{name}: BootNotification answered {reply}")
        async with ws:
            storm.connected += 1
            storm.retried_stations += refused_here
            refused_here = False
            if storm.connected == stations:
                all_connected.set()
            closed = asyncio.ensure_future(ws.wait_closed())
            released = asyncio.ensure_future(release.wait())
            await asyncio.wait({closed, released}, return_when=asyncio.FIRST_COMPLETED)
            if released.done():
                closed.cancel()
                return
            released.cancel()
            storm.connected -= 1
            storm.dropped_after_boot += 1
            _count_close(storm, ws)


def _count_close(storm: Storm, ws: websockets.ClientConnection) -> None:
    code = f"{ws.close_code} {ws.close_reason or ''}".strip()
    storm.close_codes[code] = storm.close_codes.get(code, 0) + 1


async def main(url: str, stations: int, sources: int, seconds: float) -> None:
    storm = Storm()
    all_connected, release = asyncio.Event(), asyncio.Event()
    started = time.monotonic()
    deadline = started + seconds
    try:
        await _storm(url, stations, sources, storm, all_connected, release, deadline, seconds)
    finally:
        if not all_connected.is_set():  # how far it got, for the failure message
            storm.took = round(time.monotonic() - started, 1)
            print(f"storm at the deadline: {json.dumps(asdict(storm))}", file=sys.stderr)


async def _storm(
    url: str,
    stations: int,
    sources: int,
    storm: Storm,
    all_connected: asyncio.Event,
    release: asyncio.Event,
    deadline: float,
    seconds: float,
) -> None:
    started = time.monotonic()
    async with asyncio.TaskGroup() as tasks:
        for n in range(stations):
            tasks.create_task(
                station(url, n, sources, storm, all_connected, release, deadline, stations)
            )
        async with asyncio.timeout(seconds):
            await all_connected.wait()
        storm.took = round(time.monotonic() - started, 1)
        print(json.dumps(asdict(storm)), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        release.set()


if __name__ == "__main__":
    url, stations, sources, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = stations + 1_000
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        asyncio.run(main(url, stations, sources, float(seconds)))
    except* NeverGotIn as failed:
        print(failed.exceptions[0], file=sys.stderr)
        sys.exit(1)
