"""``kill -9`` of a real Kilowatt process while stations charge, then a restart: every message
Kilowatt acknowledged is in the database, and nothing is recorded twice.

Stations behave as OCPP 1.6 §4.7 asks of real ones: a transaction message not yet answered
is sent again (same message id) after the reconnect, so a message committed just before the
kill — whose reply never left — comes back, and must get its stored reply rather than a
second row (DESIGN.md decision 3, docs/durability.md).

Default: 2 kills, ~50 sessions; ``KILOWATT_LONG_FAULTS=1``: 1,000 sessions, 6 kills.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from journal.raw_station import RawStation, eventually
from kilowatt.db import create_engine, session_factory
from kilowatt.transactions.models import MeterValueRecord, OcppReply, Transaction

LONG = os.environ.get("KILOWATT_LONG_FAULTS") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Node:
    """``python -m kilowatt serve`` as a child process that the test can kill -9."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ,
            "KILOWATT_DATA_DIR": str(data_dir),
            "KILOWATT_DATABASE_URL": database_url,
            "KILOWATT_PORT": str(self.port),
            "KILOWATT_UNKNOWN_STATIONS": "auto",
            "KILOWATT_LOG_LEVEL": "warning",
            "KILOWATT_ADMIN_API_KEY": "kill-test",
            "KILOWATT_LOCAL_LIST_AUTO_ENROL": "false",
        }
        self.process: asyncio.subprocess.Process | None = None
        self.log = (data_dir / "node.log").open("ab")

    async def start(self) -> float:
        started = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kilowatt",
            "serve",
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        process = self.process
        async with httpx.AsyncClient() as client:

            async def healthy() -> bool:
                assert process.returncode is None, "the node exited; see node.log"
                try:
                    health = await client.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                except httpx.HTTPError:
                    return False
                return health.status_code == 200

            await eventually(healthy, within=180)  # imports alone take a minute under load
        return time.monotonic() - started

    async def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        async with asyncio.timeout(30):
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.close()


async def _charge(station: RawStation, sessions: int) -> None:
    rng = random.Random(station.charge_point_id)
    await station.connect(within=180)
    await station.boot()
    wh = 0
    for number in range(sessions):
        tx = await station.start(1, f"K{number % 5}", wh)
        for _ in range(rng.randint(2, 5)):
            wh += rng.randint(10, 300)
            await station.meter(1, tx, wh)
        wh += 7
        await station.stop(tx, wh)


@pytest.mark.timeout(1800 if LONG else 600)  # three process starts; a minute each under load
async def test_kill_9_at_random_moments_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """Acknowledged = rows; each transaction started and stopped once (OCPP 1.6 §4.7)."""
    stations_n, sessions_each, kills = (50, 20, 6) if LONG else (10, 5, 2)
    node = Node(database_url, tmp_path)
    rng = random.Random(9)
    restarts: list[float] = []
    try:
        restarts.append(await node.start())
        stations = [
            RawStation(f"ws://127.0.0.1:{node.port}/ocpp/KILL{i:03d}", f"KILL{i:03d}")
            for i in range(stations_n)
        ]
        for station in stations:  # a restarted node is slow to come back on this machine
            station.reconnect_within = 180
        charging = asyncio.gather(*(_charge(s, sessions_each) for s in stations))
        total = stations_n * sessions_each * 6
        for _ in range(kills):
            threshold = sum(len(s.acked) for s in stations) + rng.randint(total // 12, total // 6)

            async def reached(threshold: int = threshold) -> bool:
                return sum(len(s.acked) for s in stations) >= threshold or charging.done()

            await eventually(reached, within=300)
            await node.kill()  # mid-traffic: some replies are committed but never sent
            print(f"killed at {sum(len(s.acked) for s in stations)} acknowledged", flush=True)
            restarts.append(await node.start())
        async with asyncio.timeout(600 if LONG else 240):
            await charging
        acked = [a for s in stations for a in s.acked]
        for station in stations:
            await station.close()
    finally:
        await node.stop()

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            starts = [a for a in acked if a.action == "StartTransaction"]
            lost = 0
            for start in starts:
                tx = await db.get(Transaction, start.reply["transactionId"])
                lost += tx is None or tx.meter_start != start.payload["meterStart"]
            for stop in (a for a in acked if a.action == "StopTransaction"):
                tx = await db.get(Transaction, stop.payload["transactionId"])
                lost += tx is None or tx.meter_stop != stop.payload["meterStop"]
            meters = [a for a in acked if a.action == "MeterValues"]
            for meter in meters:
                value = meter.payload["meterValue"][0]["sampledValue"][0]["value"]
                found = await db.scalar(
                    select(func.count())
                    .select_from(MeterValueRecord)
                    .where(
                        MeterValueRecord.transaction_id == meter.payload["transactionId"],
                        MeterValueRecord.raw_value == value,
                    )
                )
                lost += found != 1
            rows = await db.scalar(select(func.count()).select_from(Transaction))
            stopped = await db.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.stop_received_at.is_not(None))
            )
            flagged = await db.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.review_reason.is_not(None))
            )
            repeated = sum(
                1
                for s in stations
                for a, b in zip(s.acked, s.acked[1:], strict=False)
                if a.message_id == b.message_id
            )
            replies = await db.scalar(select(func.count()).select_from(OcppReply))
    finally:
        await engine.dispose()
    print(
        f"\n{kills} kills, {len(starts)} sessions, {len(acked)} transaction messages "
        f"acknowledged ({replies} stored replies); start and restarts took "
        f"{', '.join(f'{r:.1f}' for r in restarts)} s; lost = {lost}"
    )
    assert lost == 0
    assert rows == len(starts) == stations_n * sessions_each  # no transaction twice
    assert stopped == rows
    assert flagged == 0  # no "second, different StopTransaction", no meter going backwards
    assert repeated == 0
