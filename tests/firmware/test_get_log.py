"""GetLog / LogStatusNotification (OCPP 1.6 security whitepaper, use case N01; OCTT TC_079):
a real node, the ``ocpp`` library's charge point answering GetLog and really uploading its log
to the one-time signed URL Kilowatt put in ``log.remoteLocation``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from api.api_kit import assert_problem
from kilowatt.firmware.models import LogRequest

from support.cli import operator_cli
from support.firmware_steps import BOUND, Events
from support.ocpp_client import LibChargePoint
from support.server import RunningServer, running_server
from support.steps import boot

LOG = b"2026-11-27T22:00:00Z SettingsChanged\n" * 200


class LogChargePoint(LibChargePoint):
    """Answers GetLog with ``answers["GetLog"]`` (default Accepted) and a file name."""

    @on(Action.get_log)
    def _get_log(self, **fields: Any) -> Any:
        status = self._got("GetLog", **fields)
        filename = None if status == "Rejected" else f"{fields['log_type']}.log"
        return call_result.GetLog(status=status, filename=filename)


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        # Where stations reach this node (KILOWATT_PUBLIC_URL): the ephemeral port here.
        running.app.state.firmware.public_url = running.http_url
        yield running


@asynccontextmanager
async def station(server: RunningServer, charge_point_id: str) -> AsyncIterator[LogChargePoint]:
    """A booted ``LogChargePoint`` connected for the block."""
    async with websockets.connect(
        server.ws_url(charge_point_id), subprotocols=["ocpp1.6"], open_timeout=BOUND
    ) as ws:
        cp = LogChargePoint(charge_point_id, ws)
        loop = asyncio.create_task(cp.start())
        try:
            await boot(cp)
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


def log_state(state: str) -> Any:
    return lambda e: e.type == "log.status" and e.data["state"] == state


async def _request(api: httpx.AsyncClient, cp: str, **body: Any) -> httpx.Response:
    return await api.post(f"/api/v1/stations/{cp}/logs", json=body)


async def _row(server: RunningServer, request_id: int) -> LogRequest:
    async with server.node.sessions() as db:
        row = await db.get(LogRequest, request_id)
    assert row is not None
    return row


async def test_tc_079_get_security_log(server: RunningServer) -> None:
    """TC_079: GetLog(SecurityLog) with a remoteLocation on this node; the station answers
    Accepted with a file name, reports Uploading, uploads, reports Uploaded (N01.FR.01-09):
    every status carries the GetLog's requestId (N01.FR.07) and moves the request."""
    async with station(server, "LOG079") as cp, server.api() as api:
        with Events(server.node.bus, "log.status") as events:
            response = await _request(
                api,
                "LOG079",
                logType="SecurityLog",
                oldestTimestamp="2026-11-01T00:00:00Z",
                latestTimestamp="2026-11-27T00:00:00+01:00",
                retries=2,
                retryInterval=30,
            )
            assert response.status_code == 201, response.text
            created = response.json()
            assert (created["state"], created["file_name"]) == ("Accepted", "SecurityLog.log")
            assert created["log_type"] == "SecurityLog"
            action, sent = await cp.next_command()
            assert action == "GetLog"
            assert (sent["log_type"], sent["request_id"]) == ("SecurityLog", created["id"])
            assert (sent["retries"], sent["retry_interval"]) == (2, 30)
            location = sent["log"]["remote_location"]
            assert location.startswith(f"{server.http_url}/logs/{created['id']}.")
            assert sent["log"]["oldest_timestamp"] == "2026-11-01T00:00:00Z"
            assert sent["log"]["latest_timestamp"] == "2026-11-26T23:00:00Z"

            answer = await cp.call(
                call.LogStatusNotification(status="Uploading", request_id=created["id"])
            )
            assert answer is not None
            await events.until(log_state("Uploading"))
            async with httpx.AsyncClient(timeout=BOUND) as http:
                uploaded = await http.put(f"{location}/security.log", content=LOG)
                assert uploaded.status_code == 201, uploaded.text
                # the link is used up
                assert_problem(await http.put(location, content=b"again"), 409)
            await cp.call(call.LogStatusNotification(status="Uploaded", request_id=created["id"]))
            done = await events.until(log_state("Uploaded"))
        assert done.data == {
            "requestId": created["id"],
            "logType": "SecurityLog",
            "state": "Uploaded",
            "status": "Uploaded",
            "fileName": "SecurityLog.log",
            "received": True,
            "receivedSize": len(LOG),
        }
        one = (await api.get(f"/api/v1/logs/{created['id']}")).json()
        assert (one["state"], one["received_name"], one["received_size"]) == (
            "Uploaded",
            "security.log",
            len(LOG),
        )
        assert one["received_sha256"] == hashlib.sha256(LOG).hexdigest()
        listed = (await api.get("/api/v1/stations/LOG079/logs")).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == created["id"]
        file = await api.get(one["download"])
        assert file.status_code == 200 and file.content == LOG
    row = await _row(server, created["id"])
    assert row.command_id is not None and row.expires_at > row.created_at


async def test_log_status_with_an_unknown_or_foreign_request_id_moves_nothing(
    server: RunningServer,
) -> None:
    """N01.FR.07: a LogStatusNotification moves only its own station's request with that
    requestId; an unknown id, another station's, Idle, or a report after the final one are
    answered (the station must not retry them) and change nothing."""
    async with (
        station(server, "LOG-A") as a,
        station(server, "LOG-B") as b,
        server.api() as api,
    ):
        created = (await _request(api, "LOG-A")).json()
        assert (created["state"], created["log_type"]) == ("Accepted", "DiagnosticsLog")
        request_id = created["id"]
        for cp, status, rid in (
            (b, "Uploaded", request_id),  # another station's request
            (a, "Uploaded", 99_999),  # unknown
            (a, "Idle", request_id),  # only answers a trigger
        ):
            assert await cp.call(call.LogStatusNotification(status=status, request_id=rid)) == (
                call_result.LogStatusNotification()
            )
        assert (await _row(server, request_id)).state == "Accepted"
        with Events(server.node.bus, "log.status") as events:
            await a.call(call.LogStatusNotification(status="UploadFailure", request_id=request_id))
            await events.until(log_state("UploadFailure"))
        # final: a late Uploading does not reopen it
        await a.call(call.LogStatusNotification(status="Uploading", request_id=request_id))
        row = await _row(server, request_id)
        assert (row.state, row.received_at) == ("UploadFailure", None)
        assert (await api.get("/api/v1/stations/LOG-B/logs")).json()["total"] == 0


async def test_get_log_refusals_and_bad_input(server: RunningServer, tmp_path: Path) -> None:
    """Rejected and offline are recorded; bad requests get a problem and store nothing; a
    forged or foreign upload link is refused."""
    async with station(server, "LOG-R") as cp, server.api() as api:
        cp.answers["GetLog"] = "Rejected"
        rejected = (await _request(api, "LOG-R", log_type="DiagnosticsLog")).json()
        assert (rejected["state"], rejected["file_name"]) == ("Rejected", None)
        for body in (
            {"logType": "KernelLog"},
            {"oldestTimestamp": "2026-11-01T00:00:00"},  # no time zone
            {"oldestTimestamp": "2026-11-02T00:00:00Z", "latestTimestamp": "2026-11-01T00:00:00Z"},
            {"retries": -1},
            {"requestId": 5},  # ours to choose
        ):
            assert_problem(await _request(api, "LOG-R", **body), 422)
        assert_problem(await _request(api, "NO-SUCH-CP"), 404)
        assert (await api.get("/api/v1/stations/LOG-R/logs")).json()["total"] == 1
        assert_problem(await api.get("/api/v1/logs/99999"), 404)
        assert_problem(await api.get(f"/api/v1/logs/{rejected['id']}/file"), 404)
    async with server.anonymous() as http:
        for token in (f"{rejected['id']}.9999999999.{'A' * 43}", "1.2", "x.y.z"):
            assert_problem(await http.put(f"/logs/{token}", content=b"x"), 403)
        # a diagnostics link of the same id is not a log link
        from kilowatt.firmware import signing

        diagnostics = signing.diagnostics_token(
            server.app.state.firmware.key, rejected["id"], 2**31
        )
        assert_problem(await http.put(f"/logs/{diagnostics}", content=b"x"), 403)
    async with server.api() as api:  # LOG-R is offline now
        offline = (await _request(api, "LOG-R")).json()
        assert offline["state"] == "offline"


async def test_cli_log(
    server: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path)
    async with station(server, "LOG-CLI") as cp:
        code, out = await kilowatt(
            "firmware", "log", "LOG-CLI", "--type", "SecurityLog", "--oldest", "2026-11-01T00:00Z"
        )
        assert code == 0 and isinstance(out, dict)
        assert (out["state"], out["log_type"]) == ("Accepted", "SecurityLog")
        action, sent = await cp.next_command()
        assert (action, sent["log"]["oldest_timestamp"]) == ("GetLog", "2026-11-01T00:00:00Z")
    code, out = await kilowatt("firmware", "log", "NOPE")
    assert code == 2 and isinstance(out, dict) and out["status"] == 404
