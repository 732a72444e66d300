"""Live push (issue 5): domain events over SSE and WebSocket, filtered by who may see them,
resumable with Last-Event-ID, and bounded for slow clients."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call

from kilowatt.auth.principal import Role
from kilowatt.events import Event, EventBus
from kilowatt.live.api import STREAM_QUEUE
from kilowatt.tenants.models import Tenant

from support.accounts import make_account
from support.ocpp_client import lib_charge_point
from support.server import API_KEY, RunningServer, running_server
from support.sse import sse
from support.steps import boot, now_iso

# The events of a running session are published before the charger's CALL is answered (after
# the commit), so a subscriber has them within this bound of the charger's message.
WITHIN = 1.0


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as running:
        yield running


# ---- the bus --------------------------------------------------------------------------------------


def test_since_returns_exactly_the_missed_events() -> None:
    bus = EventBus()
    first = bus.publish(Event("a"))
    second, third = bus.publish(Event("b")), bus.publish(Event("c"))
    missed = bus.since(first.id)
    assert missed is not None and [e.id for e in missed] == [second.id, third.id]
    assert list(bus.since(third.id) or ["not none"]) == []
    assert bus.since("someotherepoch-1") is None  # another node incarnation: resync
    assert bus.since(f"{bus.epoch}-99") is None  # an id never given


def test_events_older_than_the_ring_mean_resync() -> None:
    bus = EventBus(max_kept=3)
    first = bus.publish(Event("a"))
    for kind in "bcde":
        bus.publish(Event(kind))
    assert bus.since(first.id) is None


def test_a_stream_that_is_not_read_stays_bounded() -> None:
    bus = EventBus()
    stream = bus.stream(lambda e: True, maxsize=10)
    for n in range(1000):
        bus.publish(Event("x", {"n": n}))
    assert stream.queue.qsize() == 10 and stream.overflowed and stream.dropped == 990
    stream.resynchronised()
    bus.publish(Event("y"))
    assert stream.queue.qsize() == 1 and not stream.overflowed
    stream.close()
    assert bus.streams == 0


# ---- a driver follows their session ---------------------------------------------------------------


async def test_a_driver_sees_their_session_live_and_nobody_elses(server: RunningServer) -> None:
    ada = await make_account(server, "ada@example.com", cards=("ADA-1",))
    bob = await make_account(server, "bob@example.com", cards=("BOB-1",))
    async with (
        lib_charge_point(server.ws_url("LIVE1"), "LIVE1") as cp,
        sse(server.http_url, ada.headers) as ada_feed,
        sse(server.http_url, bob.headers) as bob_feed,
    ):
        await boot(cp)
        async with ada.client(server) as client:
            started = await client.post(
                "/api/v1/sessions", json={"station": "LIVE1", "connector_number": 1}
            )
        assert started.status_code == 201, started.text
        session_id = started.json()["sessionId"]
        created = await ada_feed.next_of("session.created", WITHIN)
        assert created.data["data"]["sessionId"] == session_id

        tx = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="ADA-1", meter_start=100, timestamp=now_iso()
            )
        )
        running = await ada_feed.next_of("session.started", WITHIN)
        assert running.data["data"]["transactionId"] == tx.transaction_id

        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx.transaction_id,
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampledValue": [
                            {"value": "1600"},
                            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "55", "measurand": "SoC", "unit": "Percent"},
                        ],
                    }
                ],
            )
        )
        update = await ada_feed.next_of("session.updated", WITHIN)
        assert (update.data["data"]["energyWh"], update.data["data"]["powerW"]) == (1500, 7200)
        assert update.data["data"]["socPercent"] == 55.0

        await cp.call(
            call.StopTransaction(
                transaction_id=tx.transaction_id, meter_stop=2100, timestamp=now_iso()
            )
        )
        ended = await ada_feed.next_of("session.ended", WITHIN)
        assert (
            ended.data["data"]["energyWh"] == 2000 and ended.data["data"]["sessionId"] == session_id
        )

        # Bob's feed carries nothing of Ada's: a marker event of his own arrives, nothing before it.
        server.node.bus.publish(Event("session.updated", {"marker": True}, user_id=bob.user_id))
        marker = await bob_feed.next(WITHIN)
        assert marker.data["data"] == {"marker": True}
        assert bob_feed.pending() == []


async def test_operators_see_their_tenant_only(server: RunningServer) -> None:
    async with server.node.sessions() as db:
        other = Tenant(name="Bolt Charging")
        db.add(other)
        await db.commit()
        other_id = other.id
    viewer = await make_account(server, "viewer@example.com", role=Role.VIEWER)
    outsider = await make_account(server, "out@example.com", role=Role.ADMIN, tenant_id=other_id)
    async with (
        sse(server.http_url, viewer.headers, {"types": "connector.*,station.*"}) as ours,
        sse(server.http_url, outsider.headers) as theirs,
        sse(server.http_url, {"X-API-Key": API_KEY}, {"types": "connector.status"}) as platform,
    ):
        async with lib_charge_point(server.ws_url("LIVE2"), "LIVE2") as cp:
            await boot(cp, connectors=1)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
            )
        kinds = []
        while (event := await ours.next(WITHIN)).type != "connector.status" or (
            event.data["data"]["status"] != "Preparing"
        ):
            kinds.append(event.type)
        assert "station.connected" in kinds and "station.booted" in kinds
        assert event.data["chargingStationId"] == "LIVE2" and event.data["connectorId"] == 1
        seen = await platform.next_of("connector.status", WITHIN)
        assert seen.data["chargingStationId"] == "LIVE2"

        server.node.bus.publish(Event("station.booted", {"marker": True}, tenant_id=other_id))
        marker = await theirs.next(WITHIN)
        assert marker.data["data"] == {"marker": True} and theirs.pending() == []


async def test_a_driver_watches_a_connector_but_not_the_network(server: RunningServer) -> None:
    ada = await make_account(server, "watch@example.com", cards=("W-1",))
    async with sse(server.http_url, ada.headers, {"watch": "LIVE3/2"}) as feed:
        async with lib_charge_point(server.ws_url("LIVE3"), "LIVE3") as cp:
            await boot(cp)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Faulted")
            )
            await cp.call(
                call.StatusNotification(connector_id=2, error_code="NoError", status="Preparing")
            )
        statuses = []
        while len(statuses) < 2:
            event = await feed.next_of("connector.status", WITHIN)
            statuses.append(event.data["data"]["status"])
        assert set(statuses) == {"Available", "Preparing"}  # connector 2 only
        assert all(e.type != "station.booted" for e in feed.pending())


# ---- resuming and slow clients --------------------------------------------------------------------


async def test_resume_delivers_the_missed_events_exactly_once(server: RunningServer) -> None:
    headers = {"X-API-Key": API_KEY}
    bus = server.node.bus
    async with sse(server.http_url, headers, {"types": "test.*"}) as feed:
        bus.publish(Event("test.one"))
        first = await feed.next(WITHIN)
    missed = [bus.publish(Event("test.missed", {"n": n})) for n in range(5)]
    async with sse(
        server.http_url, headers | {"Last-Event-ID": first.id or ""}, {"types": "test.*"}
    ) as resumed:
        live = bus.publish(Event("test.live"))
        got = [await resumed.next(WITHIN) for _ in range(6)]
        assert [e.id for e in got] == [e.id for e in missed] + [live.id]
        bus.publish(Event("test.end"))
        assert (await resumed.next(WITHIN)).type == "test.end"  # no repeat in between
    async with sse(server.http_url, headers | {"Last-Event-ID": "gone-1"}) as stale:
        assert (await stale.next(WITHIN)).type == "resync"


async def test_a_client_that_never_reads_does_not_grow_the_server(server: RunningServer) -> None:
    bus = server.node.bus
    loop = asyncio.get_running_loop()
    with socket.socket() as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        await loop.sock_connect(raw, ("127.0.0.1", server.port))
        request = (
            "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n"
            f"X-API-Key: {API_KEY}\r\nAccept: text/event-stream\r\n\r\n"
        )
        await loop.sock_sendall(raw, request.encode())
        received = b""
        async with asyncio.timeout(10):
            while b"retry:" not in received:  # the body started: the subscription exists
                received += await loop.sock_recv(raw, 4096)
        payload = {"blob": "x" * 2000}
        for _ in range(STREAM_QUEUE * 5):  # ~10 MB of events the client never reads
            bus.publish(Event("station.connected", payload))
            await asyncio.sleep(0)  # let the server write what the socket takes
        assert max(bus.queue_depths()) <= STREAM_QUEUE
        async with asyncio.timeout(10):
            while b"event: resync" not in received:
                chunk = await loop.sock_recv(raw, 65536)
                assert chunk, "the server closed the stream"
                received += chunk


# ---- WebSocket -------------------------------------------------------------------------------------


async def test_websocket_authenticates_with_a_first_message(server: RunningServer) -> None:
    ada = await make_account(server, "ws@example.com")
    url = f"ws://127.0.0.1:{server.port}/api/v1/events?types=session.*"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"token": ada.access_token}))
        assert json.loads(await ws.recv())["type"] == "ready"
        server.node.bus.publish(Event("session.updated", {"n": 1}, user_id=ada.user_id))
        server.node.bus.publish(Event("session.updated", {"n": 2}, user_id=ada.user_id + 1))
        server.node.bus.publish(Event("session.updated", {"n": 3}, user_id=ada.user_id))
        got = [json.loads(await asyncio.wait_for(ws.recv(), WITHIN)) for _ in range(2)]
        assert [g["data"]["n"] for g in got] == [1, 3]
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"token": "not-a-token"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_websocket_refusal_says_why(server: RunningServer) -> None:
    url = f"ws://127.0.0.1:{server.port}/api/v1/events"
    for first, reason in (("not json", "is JSON"), (json.dumps({"tok": "x"}), '{"token"')):
        async with websockets.connect(url) as ws:
            await ws.send(first)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert reason in closed.value.rcvd.reason


async def test_the_stream_needs_valid_credentials(server: RunningServer) -> None:
    async with server.anonymous() as client:
        anonymous = await client.get("/api/v1/events")
        forged = await client.get("/api/v1/events", headers={"Authorization": "Bearer not.a.token"})
        wrong_key = await client.get("/api/v1/events", headers={"X-API-Key": "kw_nope_nope"})
    assert anonymous.status_code == forged.status_code == wrong_key.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
