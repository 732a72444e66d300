"""bench/reference_csms.py, the benchmark's baseline CSMS, as a real process: it answers a
charging session driven by an ``ocpp``-library charge point, stores every message before
answering, rejects malformed payloads with a CALLERROR and keeps the connection.

Runs on an empty database of the pass's backend: SQLite, and PostgreSQL on the PostgreSQL pass
(``fresh_database``: created for the test, dropped after).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from ocpp.v16 import call
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kilowatt.bench import free_port, meter_values

from support.ocpp_client import lib_charge_point

REFERENCE = Path(__file__).resolve().parents[2] / "bench" / "reference_csms.py"
STARTUP_TIMEOUT = 60.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- databases -----------------------------------------------------------------------------


@pytest.fixture
def reference_url(db_backend: str, fresh_database: Callable[[str], str]) -> str:
    """An empty database of this pass's backend (SQLite, or PostgreSQL on the PostgreSQL pass):
    the reference creates its own tables, which clash with Kilowatt's migrated ones."""
    return fresh_database(db_backend)


async def query(reference_url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(reference_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql))
            return [tuple(row) for row in result]
    finally:
        await engine.dispose()


# --- the reference as a process ------------------------------------------------------------


async def wait_healthy(port: int, process: asyncio.subprocess.Process) -> None:
    """Poll ``GET /health`` until it answers 200 (bounded; fails if the process exits)."""
    async with httpx.AsyncClient() as client, asyncio.timeout(STARTUP_TIMEOUT):
        while True:
            assert process.returncode is None, "the reference CSMS exited; see its log"
            with contextlib.suppress(httpx.HTTPError):
                health = await client.get(f"http://127.0.0.1:{port}/health", timeout=1)
                if health.status_code == 200:
                    return
            await asyncio.sleep(0.05)


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


@contextlib.asynccontextmanager
async def reference_csms(reference_url: str, log_path: Path) -> AsyncIterator[str]:
    """Run the reference until the block ends; its ``ws://…/ocpp`` base URL."""
    port = free_port()
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(REFERENCE),
            "--port",
            str(port),
            "--database-url",
            reference_url,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            await wait_healthy(port, process)
            yield f"ws://127.0.0.1:{port}/ocpp"
        finally:
            returncode = await stop(process)
    if returncode != 0:
        log_text = await asyncio.to_thread(log_path.read_text)
        pytest.fail(f"the reference CSMS exited with {returncode}:\n{log_text}")


# --- tests ---------------------------------------------------------------------------------


async def test_a_charging_session_is_answered_and_stored(
    reference_url: str, tmp_path: Path
) -> None:
    async with (
        reference_csms(reference_url, tmp_path / "reference.log") as base,
        lib_charge_point(f"{base}/REF-1", "REF-1") as cp,
    ):
        boot = await cp.call(
            call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme"),
            suppress=False,
        )
        assert (boot.status, boot.interval) == ("Accepted", 300)
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"),
            suppress=False,
        )
        authorize = await cp.call(call.Authorize(id_tag="TAG-1"), suppress=False)
        assert authorize.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp=now_iso()
            ),
            suppress=False,
        )
        assert start.id_tag_info["status"] == "Accepted"
        transaction_id = start.transaction_id
        assert isinstance(transaction_id, int)
        periodic_sent = meter_values(1, transaction_id, 2000)  # what the benchmark sends
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=periodic_sent["meterValue"],
            ),
            suppress=False,
        )
        heartbeat = await cp.call(call.Heartbeat(), suppress=False)
        assert heartbeat.current_time
        end_reading = {
            "timestamp": now_iso(),
            "sampledValue": [{"value": "4500", "context": "Transaction.End"}],
        }
        stopped = await cp.call(
            call.StopTransaction(
                meter_stop=4500,
                timestamp=now_iso(),
                transaction_id=transaction_id,
                id_tag="TAG-1",
                reason="Local",
                transaction_data=[end_reading],
            ),
            suppress=False,
        )
        assert stopped.id_tag_info["status"] == "Accepted"

    # The reference has stopped (its engine is closed): what it answered is on disk.
    assert await query(
        reference_url,
        "SELECT vendor, model, last_boot_at IS NOT NULL, last_heartbeat_at IS NOT NULL"
        " FROM stations WHERE charge_point_id = 'REF-1'",
    ) == [("Acme", "Wallbox", True, True)]
    assert await query(
        reference_url, "SELECT connector_id, status, error_code FROM connectors"
    ) == [(1, "Preparing", "NoError")]
    assert await query(reference_url, "SELECT id_tag, status FROM id_tags") == [
        ("TAG-1", "Accepted")
    ]
    assert await query(
        reference_url,
        "SELECT id, connector_id, id_tag, meter_start, meter_stop, stop_reason,"
        " stopped_at IS NOT NULL FROM transactions",
    ) == [(transaction_id, 1, "TAG-1", 1000, 4500, "Local", True)]
    periodic = await query(
        reference_url,
        "SELECT measurand, phase, unit, value, location FROM meter_values"
        f" WHERE transaction_id = {transaction_id} AND context = 'Sample.Periodic'"
        " ORDER BY id",
    )
    assert periodic == [
        # OCPP 1.6 SampledValue.location defaults to Outlet; the reference stores the default
        (v["measurand"], v.get("phase"), v["unit"], v["value"], v.get("location", "Outlet"))
        for v in periodic_sent["meterValue"][0]["sampledValue"]
    ]
    assert await query(
        reference_url,
        "SELECT measurand, unit, value FROM meter_values WHERE context = 'Transaction.End'",
    ) == [("Energy.Active.Import.Register", "Wh", "4500")]


async def test_protocol_errors_are_refused_and_the_connection_keeps_working(
    reference_url: str, tmp_path: Path
) -> None:
    async with reference_csms(reference_url, tmp_path / "reference.log") as base:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with lib_charge_point(f"{base}/REF-2", "REF-2", subprotocols=[]):
                pass
        assert refused.value.response.status_code == 400

        async with websockets.connect(
            f"{base}/REF-2",
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            open_timeout=30,
        ) as ws:

            async def exchange(frame: list[Any]) -> list[Any]:
                await ws.send(orjson.dumps(frame).decode())
                async with asyncio.timeout(10):
                    reply: list[Any] = orjson.loads(await ws.recv())
                return reply

            no_model = [2, "m-1", "BootNotification", {"chargePointVendor": "Acme"}]
            error = await exchange(no_model)
            assert error[:2] == [4, "m-1"]
            assert error[2] in {"FormationViolation", "ProtocolError", "FormatViolation"}

            boot = await exchange(
                [
                    2,
                    "m-2",
                    "BootNotification",
                    {"chargePointVendor": "Acme", "chargePointModel": "Wallbox"},
                ]
            )
            assert boot[:2] == [3, "m-2"]
            assert boot[2]["status"] == "Accepted"
            heartbeat = await exchange([2, "m-3", "Heartbeat", {}])
            assert heartbeat[:2] == [3, "m-3"]
            assert "currentTime" in heartbeat[2]
