"""A real database outage: Kilowatt's PostgreSQL connection runs through a TCP proxy in the
test process, which the test cuts and restores. Stations keep charging through it; every
message Kilowatt acknowledged must be in the database once it is back (DESIGN.md decision 3,
docs/durability.md).

Default: a 5 s outage with 20 stations; ``KILOWATT_LONG_FAULTS=1``: 60 s with 400 sessions.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from journal.raw_station import RawStation, eventually
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import MeterValueRecord, Transaction

from support.server import RunningServer, running_server
from support.tcp_proxy import Proxy

LONG = os.environ.get("KILOWATT_LONG_FAULTS") == "1"


async def _charge(station: RawStation, *, sessions: int) -> None:
    """Sessions back to back: start, meter values every 100 ms for a while, stop."""
    rng = random.Random(station.charge_point_id)
    wh = 0
    for number in range(sessions):
        tag = f"TAG{number % 7}"
        tx = await station.start(1, tag, wh)
        for _ in range(rng.randint(3, 8)):
            wh += rng.randint(10, 200)
            await station.meter(1, tx, wh)
            await asyncio.sleep(0.1)  # the station's MeterValueSampleInterval, shortened
        wh += 5
        await station.stop(tx, wh)


async def _count(server: RunningServer, query: object) -> int:
    async with server.node.sessions() as db:
        return int(await db.scalar(query) or 0)  # type: ignore[call-overload]


async def test_stations_keep_charging_through_a_database_outage_and_nothing_is_lost(
    db_backend: str, database_url: str, tmp_path: Path
) -> None:
    """Every acknowledged StartTransaction / MeterValues / StopTransaction becomes rows after the
    outage; each transaction is started and stopped exactly once; non-transaction CALLs get
    CALLERROR InternalError meanwhile (OCPP 1.6 §4, §4.7)."""
    if db_backend != "postgresql":
        pytest.skip(
            "needs PostgreSQL behind a TCP proxy (KILOWATT_TEST_DATABASE_URL); SQLite has no "
            "connection to cut, and a lock outage lasts its 30 s busy timeout"
        )
    stations_n, sessions_each, outage_s = (100, 4, 60.0) if LONG else (20, 2, 5.0)
    url = make_url(database_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with running_server(proxied, tmp_path, call_timeout=10.0) as server:
            stations = [
                RawStation(server.ws_url(f"OUT{i:03d}"), f"OUT{i:03d}") for i in range(stations_n)
            ]
            for station in stations:
                await station.connect()
                await station.boot()
            watcher = RawStation(server.ws_url("OUTHB"), "OUTHB")  # sends non-transaction CALLs
            await watcher.connect()
            await watcher.boot()
            charging = [
                asyncio.create_task(_charge(station, sessions=sessions_each))
                for station in stations
            ]
            await asyncio.sleep(0.5)  # load: stations are mid-session when the database goes
            await proxy.cut()
            cut_at = time.monotonic()
            durability = server.node.gateway.durability  # type: ignore[attr-defined]

            async def journaling() -> bool:
                return bool(durability.depth)

            async def drained_out() -> bool:
                return not durability.depth

            await eventually(journaling, within=outage_s + 30)
            assert await watcher.call("Heartbeat", {}) is None
            assert watcher.errors[-1] == ("Heartbeat", "InternalError")
            await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - cut_at)))
            journaled_during = durability.journaled_total
            await proxy.restore()
            restored_at = time.monotonic()
            async with asyncio.timeout(120 if LONG else 60):
                await asyncio.gather(*charging)
            await eventually(drained_out, within=60)
            drained = time.monotonic() - restored_at

            acked = [a for s in stations for a in s.acked]
            starts = [a for a in acked if a.action == "StartTransaction"]
            stops = [a for a in acked if a.action == "StopTransaction"]
            meters = [a for a in acked if a.action == "MeterValues"]
            lost = 0
            async with server.node.sessions() as db:
                for start in starts:
                    tx = await db.get(Transaction, start.reply["transactionId"])
                    if tx is None or tx.meter_start != start.payload["meterStart"]:
                        lost += 1
                for stop in stops:
                    tx = await db.get(Transaction, stop.payload["transactionId"])
                    if tx is None or tx.meter_stop != stop.payload["meterStop"]:
                        lost += 1
                    elif tx.meter_stop < tx.meter_start:
                        assert tx.review_reason, "a meter that went backwards must be flagged"
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
                    if found != 1:
                        lost += 1
            total_tx = await _count(server, select(func.count()).select_from(Transaction))
            stopped = await _count(
                server,
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.stop_received_at.is_not(None)),
            )
            billed_twice = await _count(
                server,
                select(func.count()).select_from(
                    select(ChargingSession.transaction_id)
                    .where(ChargingSession.transaction_id.is_not(None))
                    .group_by(ChargingSession.transaction_id)
                    .having(func.count() > 1)
                    .subquery()
                ),
            )
            print(
                f"\noutage {outage_s:.0f} s, {stations_n} stations, "
                f"{len(starts)} sessions: {len(acked)} transaction messages acknowledged, "
                f"{journaled_during} journaled during the outage "
                f"({durability.journaled_total} in all), journal drained "
                f"{drained:.2f} s after the database came back "
                f"(last replay {durability.last_replay.seconds:.2f} s), lost = {lost}"
            )
            assert lost == 0
            assert journaled_during > 0
            assert total_tx == len(starts) == stations_n * sessions_each
            assert stopped == len(stops) == len(starts)
            assert billed_twice == 0
            assert durability.last_replay.set_aside == 0
            for station in [*stations, watcher]:
                await station.close()
    finally:
        await proxy.close()
