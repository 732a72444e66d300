"""The WebSocket handshake: subprotocols, unknown stations, HTTP Basic (security profile 1)."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
import websockets

from kilowatt.config import UnknownStationPolicy
from kilowatt.stations import service as stations

from support.server import RunningServer, running_server

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


async def _register(server: RunningServer, charge_point_id: str, **kw: object) -> None:
    async with server.node.sessions() as db:
        await stations.register(db, charge_point_id, **kw)  # type: ignore[arg-type]
        await db.commit()


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_tc_088_subprotocol_negotiation_prefers_ocpp16(server: RunningServer) -> None:
    async with websockets.connect(server.ws_url("CP88"), subprotocols=["ocpp0.1", "ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"
        await ws.send(BOOT)
        assert orjson.loads(await ws.recv())[0] == 3


async def test_tc_088_unsupported_subprotocol_only_is_refused(server: RunningServer) -> None:
    async with websockets.connect(server.ws_url("CP88B"), subprotocols=["ocpp0.1"]) as ws:  # type: ignore[list-item]
        # OCPP-J §4.1.2: the handshake completes without a subprotocol, then the server closes.
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002


async def test_missing_subprotocol_refused_unless_the_station_is_lenient(
    server: RunningServer,
) -> None:
    async with websockets.connect(server.ws_url("STRICT")) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    await _register(server, "LENIENT", allow_missing_subprotocol=True)
    async with websockets.connect(server.ws_url("LENIENT")) as ws:
        await ws.send(BOOT)
        assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"


async def test_unknown_station_rejected_by_default_policy(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(
        database_url, tmp_path, unknown_station_policy=UnknownStationPolicy.REJECT
    ) as server:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.ws_url("NOBODY"), subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 404
        await _register(server, "KNOWN")
        async with websockets.connect(server.ws_url("KNOWN"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await ws.send(BOOT)
            assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"


async def test_unknown_station_pending_policy_then_accepted(
    database_url: str, tmp_path: Path
) -> None:
    """Boot while Pending: the answer is Pending with the retry interval until an operator accepts."""
    async with running_server(
        database_url,
        tmp_path,
        unknown_station_policy=UnknownStationPolicy.PENDING,
        pending_retry_interval=42,
    ) as server:
        async with websockets.connect(server.ws_url("NEW1"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await ws.send(BOOT)
            reply = orjson.loads(await ws.recv())[2]
            assert (reply["status"], reply["interval"]) == ("Pending", 42)
            async with server.api() as api:
                patched = await api.patch(
                    "/api/v1/stations/NEW1", json={"registration_status": "Accepted"}
                )
                assert patched.status_code == 200
            await ws.send(BOOT.replace('"b1"', '"b2"'))
            reply = orjson.loads(await ws.recv())[2]
            assert (reply["status"], reply["interval"]) == (
                "Accepted",
                server.node.settings.heartbeat_interval,
            )


async def test_tc_085_basic_authentication(server: RunningServer) -> None:
    password = "0123456789abcdef0123"
    await _register(server, "SECURE", password=password)
    for headers in (None, _basic("SECURE", "wrong-password-123456"), _basic("OTHER", password)):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                server.ws_url("SECURE"),
                subprotocols=["ocpp1.6"],
                additional_headers=headers,  # type: ignore[list-item]
            ):
                pass
        assert refused.value.response.status_code == 401
    async with websockets.connect(
        server.ws_url("SECURE"),
        subprotocols=["ocpp1.6"],
        additional_headers=_basic("SECURE", password),  # type: ignore[list-item]
    ) as ws:
        await ws.send(BOOT)
        assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"
    async with server.node.sessions() as db:
        station = await stations.repository.by_charge_point_id(db, "SECURE")
    assert station is not None and password not in (station.auth_password_hash or "")
