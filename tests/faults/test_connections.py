"""Connection rules and limits over real sockets (docs/connection-limits.md).

Replacement only after authentication, refused connections that never disturb the live one,
dirty drops, CALLs before the station is accepted, half-open sockets, stray responses, a station
that never answers, and the limits: handshakes per address and per id (429), the node's
connection cap (503) and the per-station message rate.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from journal.raw_station import eventually
from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.db import create_engine
from kilowatt.events import Event
from kilowatt.gateway.limits import (
    QUEUED_PER_SLOT,
    ConnectionLimits,
    KeyedBuckets,
    MessageThrottle,
    RefusalReports,
    TokenBucket,
)
from kilowatt.gateway.server import Gateway
from kilowatt.stations import repository as station_repository
from kilowatt.stations import service as stations

from support.server import HANDSHAKE_TIMEOUT, PRODUCTION_LIMITS, RunningServer, running_server
from support.tcp_proxy import Proxy

BOOT = '[2,"boot","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
PASSWORD = "0123456789abcdef0123"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def connect(
    server: RunningServer, charge_point_id: str, headers: dict[str, str] | None = None
) -> ws_connect:
    return websockets.connect(
        server.ws_url(charge_point_id),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=HANDSHAKE_TIMEOUT,
    )


async def recv(ws: ClientConnection) -> list[Any]:
    async with asyncio.timeout(10):
        frame: list[Any] = orjson.loads(await ws.recv())
    return frame


async def heartbeat(ws: ClientConnection, message_id: str = "hb") -> None:
    await ws.send(f'[2,"{message_id}","Heartbeat",{{}}]')
    reply = await recv(ws)
    assert reply[:2] == [3, message_id] and "currentTime" in reply[2], reply


async def register(server: RunningServer, charge_point_id: str, **kw: Any) -> None:
    async with server.node.sessions() as db:
        await stations.register(db, charge_point_id, **kw)
        await db.commit()


async def online(server: RunningServer, charge_point_id: str) -> bool:
    async with server.node.sessions() as db:
        station = await station_repository.by_charge_point_id(db, charge_point_id)
    return station is not None and station.online


def events_of(server: RunningServer, kind: str) -> list[Event]:
    seen: list[Event] = []
    server.node.bus.subscribe(lambda event: seen.append(event) if event.type == kind else None)
    return seen


def reset(ws: ClientConnection) -> None:
    """Drop the TCP connection with a RST: no close frame, no FIN (a cut cable, a NAT timeout)."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path, **PRODUCTION_LIMITS) as running:
        yield running


# ---- replacement and authentication --------------------------------------------------------


async def test_replacement_only_after_authentication_and_pending_commands_end(
    server: RunningServer,
) -> None:
    """A refused connection with a live station's id never disturbs it; an authenticated one
    replaces it, and the CSMS→station call the old one owed ends as offline, never hangs."""
    await register(server, "TWIN", password=PASSWORD)
    async with connect(server, "TWIN", _basic("TWIN", PASSWORD)) as first:
        await first.send(BOOT)
        assert (await recv(first))[2]["status"] == "Accepted"
        async with server.api() as api:
            sent = await api.post(
                "/api/v1/stations/TWIN/commands/ClearCache", json={}, params={"wait": 0}
            )
            assert sent.status_code == 202, sent.text
            command_id = sent.json()["id"]
            call = await recv(first)  # owed by the first connection, never answered
            assert call[2] == "ClearCache"
            for headers in (None, _basic("TWIN", "wrong-password-0000"), _basic("X", PASSWORD)):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with connect(server, "TWIN", headers):
                        pass
                assert refused.value.response.status_code == 401
            await heartbeat(first)  # untouched by the refused attempts
            assert server.node.registry.get("TWIN") is not None
            async with connect(server, "TWIN", _basic("TWIN", PASSWORD)) as second:
                with pytest.raises(websockets.ConnectionClosed):
                    await recv(first)
                await heartbeat(second)
                state = (
                    await api.get(f"/api/v1/commands/{command_id}", params={"wait": 10})
                ).json()
                assert (state["state"], state["outcome"]) == ("offline", "Offline")
                assert len(server.node.registry) == 1 and await online(server, "TWIN")


async def test_dirty_drop_never_locks_the_station_out(server: RunningServer) -> None:
    """A TCP reset (no close frame) leaves no stale lock: the station reconnects at once, even
    before the server has noticed the drop, and stays online."""
    for attempt in range(3):
        ws = await connect(server, "RST")
        await ws.send(BOOT)
        assert (await recv(ws))[2]["status"] == "Accepted"
        await heartbeat(ws, f"hb{attempt}")
        reset(ws)
    async with connect(server, "RST") as ws:
        await heartbeat(ws)
        assert server.node.registry.get("RST") is not None and await online(server, "RST")


# ---- OCPP-J 1.6 errata 3.10: CALLs before the station is accepted ----------------------------


async def test_calls_before_accepted_get_security_error(database_url: str, tmp_path: Path) -> None:
    """OCPP-J 1.6 errata §3.10 (new §5.6): a CALL other than BootNotification before the
    station is accepted gets CALLERROR SecurityError, and nothing of it is stored."""
    async with running_server(
        database_url, tmp_path, unknown_station_policy=UnknownStationPolicy.PENDING
    ) as server:
        async with connect(server, "PEND") as ws:
            status = '[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]'
            for frame in ('[2,"h1","Heartbeat",{}]', status):
                await ws.send(frame)
                error = await recv(ws)
                assert error[0] == 4 and error[2] == "SecurityError", error
            await ws.send(BOOT)
            assert (await recv(ws))[2]["status"] == "Pending"
            await ws.send(status.replace('"s1"', '"s2"'))
            assert (await recv(ws))[:3] == [4, "s2", "SecurityError"]
            async with server.node.sessions() as db:
                station = await station_repository.by_charge_point_id(db, "PEND")
                assert station is not None
                assert list(await station_repository.connectors(db, station.id)) == []
                station.registration_status = "Rejected"
                await db.commit()
            await ws.send(BOOT.replace('"boot"', '"b2"'))
            assert (await recv(ws))[2]["status"] == "Rejected"
            await ws.send('[2,"h2","Heartbeat",{}]')
            assert (await recv(ws))[:3] == [4, "h2", "SecurityError"]
            async with server.api() as api:
                patched = await api.patch(
                    "/api/v1/stations/PEND", json={"registration_status": "Accepted"}
                )
                assert patched.status_code == 200
            await ws.send(BOOT.replace('"boot"', '"b3"'))
            assert (await recv(ws))[2]["status"] == "Accepted"
            await heartbeat(ws)


# ---- liveness -----------------------------------------------------------------------------------


def test_default_ping_settings_detect_half_open_within_two_intervals() -> None:
    settings = Settings()
    assert 0 < settings.ws_ping_timeout <= settings.ws_ping_interval


async def test_half_open_socket_dropped_within_two_ping_intervals(
    database_url: str, tmp_path: Path
) -> None:
    """OCPP-J 1.6 errata §3.11: WebSocket pings detect half-open connections. A client that
    stops answering pings is dropped and marked offline within two ping intervals."""
    interval = 1.0
    async with running_server(
        database_url, tmp_path, ws_ping_interval=interval, ws_ping_timeout=interval
    ) as server:
        # A hand-made client: it completes the upgrade, then never reads, so it never pongs.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /ocpp/HALFOPEN HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101")
        await asyncio.wait_for(server.node.registry.wait_for("HALFOPEN", present=True), 10)
        upgraded = time.monotonic()
        await asyncio.wait_for(server.node.registry.wait_for("HALFOPEN", present=False), 10)
        detected = time.monotonic() - upgraded
        print(f"\nhalf-open socket dropped after {detected:.2f} s (ping interval {interval} s)")
        assert detected <= 2 * interval + 0.5  # scheduling slack on a loaded 2-CPU machine
        assert not await online(server, "HALFOPEN")
        writer.close()


# ---- responses nobody asked for, questions nobody answers -----------------------------------


async def test_stray_callresult_and_callerror_are_ignored(server: RunningServer) -> None:
    """A CALLRESULT / CALLERROR with an unknown id gets no answer (a CALLERROR only answers a
    CALL, OCPP-J 1.6 §4.2.3); it is logged and the connection keeps working."""
    async with connect(server, "STRAY") as ws:
        await ws.send(BOOT)
        await recv(ws)
        await ws.send('[3,"nobody-asked",{"status":"Accepted"}]')
        await ws.send('[4,"nobody-asked-2","GenericError","",{}]')
        await heartbeat(ws)  # the very next frame is the heartbeat's answer: no reply to strays
    async with server.api() as api:
        rows = (await api.get("/api/v1/stations/STRAY/messages")).json()
    stray = [r for r in rows if r["direction"] == "in" and r["error_code"] == "ProtocolError"]
    assert len(stray) == 2 and all(r["message_type"] == 0 for r in stray), stray


async def test_station_that_never_answers_times_out_and_the_connection_keeps_working(
    database_url: str, tmp_path: Path
) -> None:
    """OCPP-J 1.6 §4.1.1: no answer within the timeout ends the call; the link stays usable."""
    async with running_server(database_url, tmp_path, call_timeout=0.5) as server:
        async with connect(server, "MUTE") as ws, server.api() as api:
            await ws.send(BOOT)
            await recv(ws)
            timed_out = await api.post(
                "/api/v1/stations/MUTE/commands/ClearCache", json={}, params={"wait": 10}
            )
            assert (await recv(ws))[2] == "ClearCache"  # received, never answered
            assert timed_out.json()["state"] == "timeout"
            await heartbeat(ws)
            answered = asyncio.create_task(
                api.post("/api/v1/stations/MUTE/commands/ClearCache", json={}, params={"wait": 10})
            )
            call = await recv(ws)
            await ws.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())
            body = (await answered).json()
            assert (body["state"], body["outcome"]) == ("completed", "Accepted")


# ---- limits -------------------------------------------------------------------------------


async def test_handshake_rate_per_charge_point_id_429(database_url: str, tmp_path: Path) -> None:
    """Over the per-id handshake budget: HTTP 429 with Retry-After, one refusal event for the
    whole burst of attempts; other ids are not affected."""
    async with running_server(
        database_url, tmp_path, handshake_rate_per_id=0.05, handshake_burst_per_id=3
    ) as server:
        refused_events = events_of(server, "security.connection_refused")
        for _ in range(3):
            async with connect(server, "EAGER") as ws:
                await heartbeat(ws)
        statuses = []
        for _ in range(5):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, "EAGER"):
                    pass
            response = refused.value.response
            statuses.append(response.status_code)
            assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert statuses == [429] * 5
        assert len(refused_events) == 1
        assert (
            refused_events[0].data["limit"] == "id:EAGER"
            and refused_events[0].data["status"] == 429
        )
        async with connect(server, "CALM") as ws:
            await heartbeat(ws)


async def test_handshake_rate_per_address_429(database_url: str, tmp_path: Path) -> None:
    async with running_server(
        database_url, tmp_path, handshake_rate_per_address=0.05, handshake_burst_per_address=4
    ) as server:
        refused_events = events_of(server, "security.connection_refused")
        for n in range(4):
            async with connect(server, f"ADDR{n}") as ws:
                await heartbeat(ws)
        for n in range(4, 8):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, f"ADDR{n}"):
                    pass
            assert refused.value.response.status_code == 429
            assert "Retry-After" in refused.value.response.headers
        assert [e.data["limit"] for e in refused_events] == ["address:127.0.0.1"]
        assert refused_events[0].data["attempts"] == 1
        assert server.node.gateway.limits.refused == 4


async def test_connection_cap_503_but_a_connected_station_may_reconnect(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, max_station_connections=2) as server:
        async with connect(server, "CAP1") as one, connect(server, "CAP2") as two:
            await heartbeat(one)
            await heartbeat(two)
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, "CAP3"):
                    pass
            assert refused.value.response.status_code == 503
            assert "Retry-After" in refused.value.response.headers
            async with connect(server, "CAP2") as again:  # replaces itself, adds none
                await heartbeat(again)
                assert len(server.node.registry) == 2
                await heartbeat(one)


async def test_message_rate_slows_the_reader_then_closes_a_flood_with_1008(
    database_url: str, tmp_path: Path
) -> None:
    """Above its message rate a station's frames are read more slowly; kept above it without a
    break (here 1.5 s), it is closed with 1008 and a security event. Others are not slowed.
    The flood is of invalid frames: cheap to answer (no database), so only the limit slows them."""
    rate, burst = 20.0, 10
    async with running_server(
        database_url,
        tmp_path,
        station_message_rate=rate,
        station_message_burst=burst,
        ws_flood_close_after=1.5,
    ) as server:
        closed_events = events_of(server, "security.connection_closed")
        async with connect(server, "FLOOD") as flood, connect(server, "NICE") as nice:
            answers: list[float] = []

            async def read_answers() -> None:
                with contextlib.suppress(websockets.ConnectionClosed):  # the end we expect
                    async for _ in flood:
                        answers.append(time.monotonic())

            reading = asyncio.create_task(read_answers())
            started = time.monotonic()
            sent = 0
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(20):
                    while True:
                        await flood.send(f'[2,"f{sent}","Heartbeat",{{"x":1}}]')
                        sent += 1
                        if sent % 20 == 0:
                            await asyncio.sleep(0)  # let the reader and the server run
            await asyncio.wait_for(reading, 10)
            elapsed = time.monotonic() - started
            assert flood.close_code == 1008, flood.close_code
            # Never faster than the bucket allows (burst + rate x time, one of slack).
            assert len(answers) <= burst + rate * elapsed + 1, (len(answers), elapsed)
            assert len(answers) >= burst  # it was slowed, not cut off at once
            await heartbeat(nice)
        print(
            f"\nflood: {sent} frames sent, {len(answers)} answered in {elapsed:.2f} s, closed 1008"
        )
        assert [e.data["code"] for e in closed_events] == [1008]


@contextlib.asynccontextmanager
async def stations_table_locked(database_url: str) -> AsyncIterator[None]:
    """Hold the write lock new stations need (auto-registration inserts one) for the block."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("LOCK TABLE stations IN EXCLUSIVE MODE"))
            else:  # SQLite: one writer at a time; an open write transaction holds everyone off
                await conn.execute(text("BEGIN IMMEDIATE"))
            try:
                yield
            finally:
                await conn.rollback()
    finally:
        await engine.dispose()


async def test_handshakes_wait_for_a_slot_then_get_503(database_url: str, tmp_path: Path) -> None:
    """A handshake does database work until its station is recorded online; at most
    KILOWATT_MAX_PENDING_HANDSHAKES do at once. The next waits its turn (a reconnect storm
    queues at the door, not in the connection pool), for at most KILOWATT_HANDSHAKE_QUEUE_SECONDS,
    then gets 503 + Retry-After; one whose turn comes in time gets in."""
    async with running_server(
        database_url, tmp_path, max_pending_handshakes=1, handshake_queue_seconds=2.0
    ) as server:
        refused_events = events_of(server, "security.connection_refused")
        gateway = server.node.gateway
        async with stations_table_locked(database_url):
            first = asyncio.create_task(connect(server, "SLOW1").__aenter__())
            await eventually(lambda: pending_is(gateway, 1), within=10)
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, "LATE2"):  # its 2 s pass while SLOW1 holds the slot
                    pass
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["Retry-After"] == "1"
            queued = asyncio.create_task(connect(server, "QUEUED3").__aenter__())
            await eventually(lambda: pending_is(gateway, 2), within=10)
            assert not first.done() and not queued.done()
        async with await first as one, await queued as three:  # the lock gone: both get in
            await heartbeat(one)
            await heartbeat(three)
        await eventually(lambda: pending_is(gateway, 0), within=10)
        async with connect(server, "LATE2") as again:
            await heartbeat(again)
        assert [e.data["limit"] for e in refused_events] == ["node:pending"]


async def test_a_refused_handshake_is_no_server_error_in_the_log(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A refusal is a normal answer: uvicorn must not log it as an ERROR (it did for every
    denial response, thousands of lines in a reconnect storm)."""
    async with running_server(
        database_url, tmp_path, unknown_station_policy=UnknownStationPolicy.REJECT
    ) as server:
        with caplog.at_level(logging.INFO, logger="uvicorn.error"):
            for _ in range(3):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with connect(server, "NOBODY"):
                        pass
                assert refused.value.response.status_code == 404
    denials = [r for r in caplog.records if r.name == "uvicorn.error" and "404" in r.getMessage()]
    assert len(denials) >= 3  # uvicorn did log them, at INFO
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_handshake_while_the_database_is_down_gets_503_and_retries_in(
    db_backend: str, database_url: str, tmp_path: Path
) -> None:
    """The database unreachable at the handshake: 503 + Retry-After, a security event, no
    server error; once it is back the same station gets in."""
    if db_backend != "postgresql":
        # SQLite is a file in this process: there is no connection to cut. The PostgreSQL pass
        # (./dev test, CI) runs it through the TCP proxy, as test_database_outage does.
        pytest.skip("needs PostgreSQL behind a TCP proxy (the PostgreSQL pass runs it)")
    url = make_url(database_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with running_server(proxied, tmp_path) as server:
            refused_events = events_of(server, "security.connection_refused")
            await proxy.cut()
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, "DOWN1"):
                    pass
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["Retry-After"] == "5"
            assert [e.data["limit"] for e in refused_events] == ["node:database"]
            await proxy.restore()
            async with connect(server, "DOWN1") as ws:
                await heartbeat(ws)
    finally:
        await proxy.close()


async def pending_is(gateway: Gateway, count: int) -> bool:
    return gateway.pending_handshakes == count


# ---- the limits' rules without sockets (kilowatt.gateway.limits is sans-I/O) -------------------


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # none left: one more in half a second
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at burst


def test_keyed_buckets_stay_bounded_under_a_flood_of_keys() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=1, max_keys=100)
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}", now=n * 0.001)
    assert len(buckets) <= 100


def test_refusals_are_reported_once_a_window_with_their_count() -> None:
    reports = RefusalReports(window=60.0)
    assert reports.refused("id:CP1", 0.0) == 1
    assert [reports.refused("id:CP1", t) for t in (1.0, 2.0, 59.0)] == [None, None, None]
    assert reports.refused("id:CP2", 3.0) == 1  # another key has its own window
    assert reports.refused("id:CP1", 61.0) == 4  # this one and the three held back


def test_message_throttle_flood_needs_a_sustained_excess() -> None:
    throttle = MessageThrottle(rate=10.0, burst=5, flood_after=2.0)
    now = 0.0
    for _ in range(5):
        assert throttle.delay(now) == 0.0
    waits = []
    for _ in range(30):  # back-to-back: each waits for its token, the reader paced at the rate
        wait = throttle.delay(now)
        waits.append(wait)
        now += wait
    assert all(w == pytest.approx(0.1) for w in waits[1:])
    assert throttle.flooding(now)  # 3 s throttled without a break
    calm = MessageThrottle(rate=10.0, burst=5, flood_after=2.0)
    now = 0.0
    for n in range(100):  # bursts of 6 every second: over the burst, never sustained
        wait = calm.delay(now)
        now += wait + (1.0 if n % 6 == 5 else 0.0)
        assert not calm.flooding(now)


def test_a_full_handshake_queue_refuses_at_once_without_spending_tokens() -> None:
    limits = ConnectionLimits(Settings(max_pending_handshakes=2, handshake_burst_per_address=1))
    full = QUEUED_PER_SLOT * 2
    busy = limits.admit("10.0.0.1", "CP1", 0, False, 0.0, pending=full)
    assert busy is not None and (busy.status, busy.key, busy.retry_after) == (
        503,
        "node:pending",
        1,
    )
    assert limits.admit("10.0.0.1", "CP1", 0, False, 0.0, pending=full - 1) is None  # token left
    assert limits.refused == 1
