"""Heavy variant (KILOWATT_LONG_FAULTS=1): many stations renew their certificates at once
(A03, e.g. after a fleet-wide ExtendedTriggerMessage); every one is signed, sent and recorded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time

import pytest

from security_messages.kit import BOUND, bus_events, csr_pem, get_json, secure_charge_point

from support.server import RunningServer

STATIONS = 50

pytestmark = pytest.mark.skipif(
    os.environ.get("KILOWATT_LONG_FAULTS") != "1", reason="heavy: set KILOWATT_LONG_FAULTS=1"
)


async def test_many_stations_renew_at_once(server: RunningServer) -> None:
    """Every one of ``STATIONS`` concurrent SignCertificate is Accepted and its certificate
    accepted by the station; prints the time from the request to the CertificateSigned."""
    latencies: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        cps = [
            await stack.enter_async_context(secure_charge_point(server, f"CPMANY{n:03d}"))
            for n in range(STATIONS)
        ]
        csrs = [csr_pem(cp.id) for cp in cps]

        async def renew(n: int) -> None:
            started = time.perf_counter()
            assert await cps[n].sign_certificate(csrs[n]) == "Accepted"
            async with asyncio.timeout(BOUND * 3):  # the whole fleet's bound, not one call's
                action, _ = await cps[n].received.get()
            assert action == "CertificateSigned"
            latencies.append(time.perf_counter() - started)

        with bus_events(server, "security.certificate_answered") as answered:
            began = time.perf_counter()
            async with asyncio.timeout(BOUND * 3):
                await asyncio.gather(*(renew(n) for n in range(STATIONS)))
                states = [(await answered.get()).data["state"] for _ in range(STATIONS)]
            total = time.perf_counter() - began
    assert states == ["accepted"] * STATIONS
    for n in (0, STATIONS - 1):
        (issued,) = (await get_json(server, f"/api/v1/stations/CPMANY{n:03d}/certificates"))[
            "issued"
        ]
        assert issued["state"] == "accepted"
    latencies.sort()
    print(
        f"\n{STATIONS} renewals in {total:.2f} s: request -> CertificateSigned"
        f" p50 {statistics.median(latencies) * 1000:.0f} ms,"
        f" p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms,"
        f" max {latencies[-1] * 1000:.0f} ms"
    )
