"""``kilowatt bench``: a first throughput figure for this machine.

The server runs as its own process (``kilowatt serve`` on a fresh database); this process is the
load generator: N stations, each sending a realistic mix back-to-back (the next message once the
previous one is answered), with every message durably stored before its reply. Latencies are
measured at the client. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from kilowatt.ocpp.rpc import ErrorCode
from kilowatt.ocpp.session import CallReceived, CallResultReceived, OcppSession, Role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def meter_values(connector_id: int, transaction_id: int, wh: int) -> dict[str, Any]:
    """MeterValues with 8 sampled values, as an AC charger reports them."""
    sampled = [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W"},
        *(
            {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": p}
            for p in ("L1", "L2", "L3")
        ),
        {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        {"value": "64", "measurand": "SoC", "unit": "Percent", "location": "EV"},
        {"value": "31.5", "measurand": "Temperature", "unit": "Celsius", "location": "Body"},
    ]
    for s in sampled:
        s["context"] = "Sample.Periodic"
    return {
        "connectorId": connector_id,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": _now(), "sampledValue": sampled}],
    }


@dataclass
class LoadResult:
    messages: int = 0
    errors: int = 0
    server_calls: int = 0  # CALLs the server sent the bench stations (answered, not counted)
    latencies: list[float] = field(default_factory=list)
    by_action: dict[str, int] = field(default_factory=dict)


def _answer(session: OcppSession, call: CallReceived) -> None:
    if call.action == "GetConfiguration":
        keys = call.raw.get("key") or []
        session.send_result(call.message_id, {"configurationKey": [], "unknownKey": keys})
    else:
        session.send_error(call.message_id, ErrorCode.NOT_SUPPORTED, "a bench station")


async def _station(
    url: str, cp_id: str, deadline: float, result: LoadResult, rng: random.Random
) -> None:
    session = OcppSession(Role.CHARGE_POINT, call_timeout=30)
    async with websockets.connect(
        f"{url}/{cp_id}", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=60
    ) as ws:

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            sent = time.perf_counter()
            session.send_call(action, payload, time.monotonic())
            for frame in session.frames_to_send():
                await ws.send(frame)
            while True:
                events = session.receive_text(await ws.recv(), time.monotonic())
                for frame in session.frames_to_send():
                    await ws.send(frame)
                for event in events:
                    if isinstance(event, CallReceived):
                        # The server may ask something meanwhile (e.g. GetConfiguration when it
                        # enrols the station in local lists): answer it like a station would.
                        _answer(session, event)
                        result.server_calls += 1
                        for frame in session.frames_to_send():
                            await ws.send(frame)
                        continue
                    if isinstance(event, CallResultReceived):
                        result.latencies.append(time.perf_counter() - sent)
                        result.messages += 1
                        result.by_action[action] = result.by_action.get(action, 0) + 1
                        return event.raw
                    result.errors += 1
                    return {}

        await call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Load"})
        for connector in (0, 1, 2):
            await call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": "NoError", "status": "Available"},
            )
        wh = rng.randint(0, 10_000_000)
        tx: int | None = None
        while time.monotonic() < deadline:
            roll = rng.random()
            if tx is None:
                await call("Authorize", {"idTag": "BENCH"})
                reply = await call(
                    "StartTransaction",
                    {"connectorId": 1, "idTag": "BENCH", "meterStart": wh, "timestamp": _now()},
                )
                tx = int(reply.get("transactionId", 0))
                await call(
                    "StatusNotification",
                    {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
                )
            elif roll < 0.8:
                wh += 30
                await call("MeterValues", meter_values(1, tx, wh))
            elif roll < 0.9:
                await call("Heartbeat", {})
            elif roll < 0.98:
                await call(
                    "StatusNotification",
                    {"connectorId": 2, "errorCode": "NoError", "status": "Available"},
                )
            else:
                await call(
                    "StopTransaction",
                    {"transactionId": tx, "meterStop": wh, "timestamp": _now(), "reason": "Local"},
                )
                await call(
                    "StatusNotification",
                    {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
                )
                tx = None


async def _load(url: str, stations: int, seconds: float) -> tuple[LoadResult, float]:
    result = LoadResult()
    rng = random.Random(7)
    start = time.monotonic()
    deadline = start + seconds
    async with asyncio.TaskGroup() as tasks:
        for n in range(stations):
            tasks.create_task(
                _station(url, f"BENCH{n:05d}", deadline, result, random.Random(rng.random()))
            )
    return result, time.monotonic() - start


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def kilowatt_env(data_dir: str, port: int, database_url: str | None) -> dict[str, str]:
    """The environment of a ``kilowatt serve`` under load from this process."""
    env = {
        **os.environ,
        "KILOWATT_DATA_DIR": data_dir,
        "KILOWATT_PORT": str(port),
        "KILOWATT_UNKNOWN_STATIONS": "auto",
        "KILOWATT_LOG_LEVEL": "warning",
        "KILOWATT_ADMIN_API_KEY": "bench",
        # Every bench station comes from 127.0.0.1 and sends as fast as it is answered: the
        # per-address handshake limit and the per-station message rate (which protect a
        # node from one source, docs/connection-limits.md) would measure themselves.
        "KILOWATT_HANDSHAKE_RATE_PER_ADDRESS": "100000",
        "KILOWATT_HANDSHAKE_BURST_PER_ADDRESS": "100000",
        "KILOWATT_STATION_MESSAGE_RATE": "100000",
        "KILOWATT_STATION_MESSAGE_BURST": "100000",
    }
    if database_url:
        env["KILOWATT_DATABASE_URL"] = database_url
    return env


def measure(
    command: list[str],
    env: dict[str, str],
    port: int,
    stations: int,
    seconds: float,
    *,
    profile: str | None = None,
) -> dict[str, Any]:
    """Start the server ``command`` (listening on ``port``, serving ``/health`` and
    ``/ocpp/{id}``), drive it with ``stations`` for ``seconds``, stop it; the figures.
    With ``profile``, py-spy records the server while the load runs (collapsed stacks)."""
    server = subprocess.Popen(command, env=env)
    recorder: subprocess.Popen[bytes] | None = None
    try:
        _wait_healthy(port, server)
        if profile:
            recorder = subprocess.Popen(
                [_py_spy(), "record", "--pid", str(server.pid), "--duration", str(int(seconds)),
                 "--format", "raw", "--output", profile, "--nonblocking"],
            )  # fmt: skip
        result, elapsed = asyncio.run(_load(f"ws://127.0.0.1:{port}/ocpp", stations, seconds))
        if recorder is not None:
            recorder.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat_ms = [x * 1000 for x in result.latencies]
    return {
        "stations": stations,
        "seconds": round(elapsed, 1),
        "messages": result.messages,
        "errors": result.errors,
        "server_calls": result.server_calls,
        "messages_per_second": round(result.messages / elapsed),
        "latency_ms_p50": round(_percentile(lat_ms, 0.50), 2),
        "latency_ms_p99": round(_percentile(lat_ms, 0.99), 2),
        "latency_ms_mean": round(statistics.fmean(lat_ms), 2) if lat_ms else None,
        "by_action": result.by_action,
    }


def main(args: argparse.Namespace) -> int:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kilowatt-bench-") as tmp:
        figures = measure(
            [sys.executable, "-m", "kilowatt", "serve"],
            kilowatt_env(tmp, port, args.database_url),
            port,
            args.stations,
            args.seconds,
            profile=getattr(args, "profile", None),
        )
        database = args.database_url or f"SQLite file in {Path(tmp).name}"
    print(json.dumps({"database": database, **figures}, indent=2))
    return 0 if figures["errors"] == 0 else 1


def _py_spy() -> str:
    """py-spy: on the PATH or beside this interpreter (``uv pip install py-spy``)."""
    beside = Path(sys.executable).with_name("py-spy")
    found = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
    if found is None:
        raise SystemExit("--profile needs py-spy: uv pip install py-spy")
    return found


def _wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not become healthy")
