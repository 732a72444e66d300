"""The receive loop over a real socket: bad frames, liveness, replacement, shutdown, timeouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import websockets

from kilowatt.stations import repository as stations

from support.server import RunningServer, running_server

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


def connect(server: RunningServer, charge_point_id: str) -> websockets.asyncio.client.connect:
    return websockets.connect(server.ws_url(charge_point_id), subprotocols=["ocpp1.6"])  # type: ignore[list-item]


async def _is_online(server: RunningServer, charge_point_id: str) -> bool:
    async with server.node.sessions() as db:
        station = await stations.by_charge_point_id(db, charge_point_id)
    return station is not None and station.online


@pytest.mark.parametrize(
    ("frame", "message_id", "code"),
    [
        ('[2,"m1","BootNotification",{}]', "m1", "OccurenceConstraintViolation"),
        ('[2,"m2","Heartbeat",{"x":1}]', "m2", "PropertyConstraintViolation"),
        (
            '[2,"m3","StatusNotification",{"connectorId":"1","errorCode":"NoError","status":"Available"}]',
            "m3",
            "TypeConstraintViolation",
        ),
        ('[2,"m4","NoSuchAction",{}]', "m4", "NotImplemented"),
        ('[2,"m5","Reset",{"type":"Hard"}]', "m5", "NotSupported"),
    ],
)
async def test_bad_calls_get_the_right_callerror_and_the_connection_lives(
    server: RunningServer, frame: str, message_id: str, code: str
) -> None:
    async with connect(server, "BAD1") as ws:
        await ws.send(frame)
        error = orjson.loads(await ws.recv())
        assert error[:3] == [4, message_id, code]
        await ws.send('[2,"hb","Heartbeat",{}]')
        reply = orjson.loads(await ws.recv())
        assert reply[:2] == [3, "hb"] and "currentTime" in reply[2]


async def test_garbage_frames_are_answered_and_the_connection_lives(server: RunningServer) -> None:
    async with connect(server, "BAD2") as ws:
        for garbage in ("not json", "[]", '{"a":1}', "[2]", b"\xff\xfe"):
            await ws.send(garbage)
            error = orjson.loads(await ws.recv())
            assert error[0] == 4 and error[2] in ("FormationViolation", "ProtocolError"), (
                garbage,
                error,
            )
        await ws.send('[2,"hb","Heartbeat",{}]')
        assert orjson.loads(await ws.recv())[:2] == [3, "hb"]


async def test_every_frame_is_in_the_message_log(server: RunningServer) -> None:
    async with connect(server, "LOG1") as ws:
        await ws.send(BOOT)
        await ws.recv()
        await ws.send('[2,"bad","Heartbeat",{"x":1}]')
        await ws.recv()
    async with server.api() as api:
        rows = (await api.get("/api/v1/stations/LOG1/messages")).json()
    seen = [
        (r["direction"], r["message_type"], r["action"], r["error_code"]) for r in reversed(rows)
    ]
    assert seen == [
        ("in", 2, "BootNotification", None),
        ("out", 3, None, None),
        ("in", 0, None, "PropertyConstraintViolation"),
        ("out", 4, None, "PropertyConstraintViolation"),
    ]


async def test_dirty_drop_marks_offline_and_the_station_can_reconnect(
    server: RunningServer,
) -> None:
    async with connect(server, "DROP") as ws:
        await ws.send(BOOT)
        await ws.recv()
        assert await _is_online(server, "DROP")
        ws.transport.abort()  # no close frame: a cut cable
    await asyncio.wait_for(server.node.registry.wait_for("DROP", present=False), 10)
    assert not await _is_online(server, "DROP")
    async with connect(server, "DROP") as ws:
        await ws.send(BOOT)
        assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"
        assert await _is_online(server, "DROP")


async def test_second_connection_replaces_the_first(server: RunningServer) -> None:
    async with connect(server, "TWICE") as first:
        await first.send(BOOT)
        await first.recv()
        async with connect(server, "TWICE") as second:
            with pytest.raises(websockets.ConnectionClosed):
                await first.recv()
            await second.send('[2,"hb","Heartbeat",{}]')
            assert orjson.loads(await second.recv())[:2] == [3, "hb"]
            assert len(server.node.registry) == 1
            assert await _is_online(server, "TWICE")


async def test_graceful_shutdown_closes_stations_with_1001(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        ws = await connect(server, "BYE")
        await ws.send(BOOT)
        await ws.recv()
        server.server.should_exit = True
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def test_command_without_answer_times_out(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, call_timeout=0.3) as server:
        async with connect(server, "MUTE") as ws:
            await ws.send(BOOT)
            await ws.recv()
            async with server.api() as api:
                response = await api.post(
                    "/api/v1/stations/MUTE/commands/ClearCache", json={}, params={"wait": 5}
                )
            call = orjson.loads(await ws.recv())
            assert call[0] == 2 and call[2] == "ClearCache"
    body = response.json()
    assert (body["state"], body["outcome"]) == ("timeout", "Timeout")


async def test_one_outstanding_call_per_direction(server: RunningServer) -> None:
    async with connect(server, "SERIAL") as ws:
        await ws.send(BOOT)
        await ws.recv()
        async with server.api() as api:
            first = await api.post(
                "/api/v1/stations/SERIAL/commands/ClearCache", json={}, params={"wait": 0}
            )
            second = await api.post(
                "/api/v1/stations/SERIAL/commands/Reset", json={"type": "Soft"}, params={"wait": 0}
            )
            assert first.status_code == second.status_code == 202
            call1 = orjson.loads(await ws.recv())
            assert call1[2] == "ClearCache"
            # The Reset is only sent once ClearCache is answered.
            await ws.send(orjson.dumps([3, call1[1], {"status": "Accepted"}]).decode())
            call2 = orjson.loads(await ws.recv())
            assert call2[2] == "Reset"
            await ws.send(orjson.dumps([3, call2[1], {"status": "Rejected"}]).decode())
            for command, outcome in ((first, "Accepted"), (second, "Rejected")):
                command_id = command.json()["id"]
                state = (
                    await api.get(f"/api/v1/commands/{command_id}", params={"wait": 10})
                ).json()
                assert state["outcome"] == outcome


async def test_invalid_command_payload_is_a_422_problem(server: RunningServer) -> None:
    async with connect(server, "CMD") as ws:
        await ws.send(BOOT)
        await ws.recv()
        async with server.api() as api:
            response = await api.post(
                "/api/v1/stations/CMD/commands/Reset", json={"type": "Sideways"}
            )
            unknown = await api.post("/api/v1/stations/CMD/commands/Explode", json={})
            missing = await api.post("/api/v1/stations/NOPE/commands/Reset", json={"type": "Soft"})
            unauthorized = await api.post(
                "/api/v1/stations/CMD/commands/Reset",
                json={"type": "Soft"},
                headers={"X-API-Key": "wrong"},
            )
    assert (
        response.status_code == 422
        and response.headers["content-type"] == "application/problem+json"
    )
    assert "type" in response.json()["detail"]
    assert unknown.status_code == 422 and unknown.json()["code"] == "UnknownAction"
    assert missing.status_code == 404
    assert unauthorized.status_code == 401
