"""The chargers' routes: a firmware link is refused unless signed by this node for exactly that
file and not expired; an upload link works once; sizes are limited; no request reaches a path
outside the data directory's firmware and diagnostics folders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.api_kit import assert_problem
from kilowatt.firmware import service, signing
from kilowatt.firmware.models import DiagnosticsRequest, FirmwareFile
from kilowatt.stations import repository as stations

from support.firmware_steps import upload_firmware
from support.server import RunningServer, running_server

LIMIT = 4096


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(
        database_url, tmp_path, firmware_max_bytes=LIMIT, diagnostics_max_bytes=LIMIT
    ) as running:
        yield running


def _key(server: RunningServer) -> bytes:
    key: bytes = server.app.state.firmware.key
    return key


async def _file(server: RunningServer, file_id: int) -> FirmwareFile:
    async with server.node.sessions() as db:
        row = await db.get(FirmwareFile, file_id)
    assert row is not None
    return row


async def _link(server: RunningServer, file_id: int, expires: datetime) -> str:
    file = await _file(server, file_id)
    return service.firmware_url("", _key(server), file, int(expires.timestamp()))


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def test_firmware_links_are_refused_unless_signed_for_that_file_and_unexpired(
    server: RunningServer,
) -> None:
    one = await upload_firmware(server, "one.bin", b"1" * 100)
    two = await upload_firmware(server, "two.bin", b"2" * 100)
    good = await _link(server, one["id"], _later())
    expired = await _link(server, one["id"], datetime.now(UTC) - timedelta(seconds=1))
    path, _, query = good.partition("?")
    signature = query.rsplit("sig=", 1)[1]
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    longer_expiry = good.replace("expires=", "expires=1")  # another expiry, the same signature
    other_file = good.replace(f"/firmware/{one['id']}/one.bin", f"/firmware/{two['id']}/two.bin")
    async with server.anonymous() as http:
        assert (await http.get(good)).content == b"1" * 100
        for refused in (
            expired,
            tampered,
            longer_expiry,
            other_file,
            path,  # no signature at all
            f"{path}?expires=abc&sig={signature}",
            f"/firmware/abc/one.bin?{query}",
            f"/firmware/99999999999/one.bin?{query}",
        ):
            assert_problem(await http.get(refused), 403)
        # Signed for this file, under another name: not found (names are never paths).
        wrong_name = good.replace("/one.bin?", "/two.bin?")
        assert_problem(await http.get(wrong_name), 404)
        assert (await http.head(expired)).status_code == 403


async def test_no_request_reaches_a_path_outside_the_firmware_folder(
    server: RunningServer,
) -> None:
    evil = await upload_firmware(server, "../../kilowatt.db", b"firmware")
    assert evil["name"] == "kilowatt.db"  # the last segment only; stored under a generated name
    stored = list((server.node.settings.data_dir / "firmware").iterdir())
    assert [p.suffix for p in stored] == [".bin"] and stored[0].read_bytes() == b"firmware"
    good = await _link(server, evil["id"], _later())
    query = good.partition("?")[2]
    async with server.anonymous() as http:
        for attempt in (
            f"/firmware/{evil['id']}/..%2F..%2Fkilowatt.db?{query}",
            f"/firmware/{evil['id']}/..%2Fjwt-secret?{query}",
            f"/firmware/..%2F..%2Fkilowatt.db/x?{query}",
            f"/firmware/{evil['id']}/%2E%2E?{query}",
        ):
            response = await http.get(attempt)
            assert response.status_code in (403, 404), attempt
            assert b"SQLite" not in response.content
        assert (await http.get(good)).content == b"firmware"


async def test_deleted_firmware_is_gone_from_its_links(server: RunningServer) -> None:
    file = await upload_firmware(server, "gone.bin", b"x" * 10)
    link = await _link(server, file["id"], _later())
    async with server.api() as api:
        assert (await api.delete(f"/api/v1/firmware/{file['id']}")).status_code == 204
        assert_problem(await api.get(f"/api/v1/firmware/{file['id']}"), 404)
        assert (await api.get("/api/v1/firmware")).json()["items"] == []
    async with server.anonymous() as http:
        assert_problem(await http.get(link), 404)
    assert list((server.node.settings.data_dir / "firmware").iterdir()) == []


async def test_firmware_uploads_are_limited_and_leave_nothing_behind(
    server: RunningServer,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is counted
        for _ in range(10):
            yield b"z" * 1000

    async with server.api() as api:
        declared = await api.post(
            "/api/v1/firmware", params={"name": "big.bin"}, content=b"z" * (LIMIT + 1)
        )
        assert_problem(declared, 413)
        streamed = await api.post("/api/v1/firmware", params={"name": "big.bin"}, content=chunks())
        assert_problem(streamed, 413)
        assert_problem(await api.post("/api/v1/firmware", params={"name": "e.bin"}), 422)
        assert_problem(await api.post("/api/v1/firmware", content=b"no name"), 422)
        exact = await api.post("/api/v1/firmware", params={"name": "ok.bin"}, content=b"k" * LIMIT)
        assert exact.status_code == 201 and exact.json()["size_bytes"] == LIMIT
    assert len(list((server.node.settings.data_dir / "firmware").iterdir())) == 1


async def _diagnostics_token(server: RunningServer, charge_point_id: str, ttl: float) -> str:
    async with server.api() as api:
        created = await api.post("/api/v1/stations", json={"charge_point_id": charge_point_id})
        assert created.status_code == 201, created.text
    async with server.node.sessions() as db:
        station = await stations.by_charge_point_id(db, charge_point_id)
        assert station is not None
        row = await service.new_diagnostics(
            db,
            station,
            start_time=None,
            stop_time=None,
            retries=None,
            retry_interval=None,
            requested_by=None,
            ttl=ttl,
            now=datetime.now(UTC),
        )
        await db.commit()
        return signing.diagnostics_token(_key(server), row.id, int(row.expires_at.timestamp()))


async def test_a_diagnostics_link_takes_one_upload_within_the_limit(
    server: RunningServer,
) -> None:
    token = await _diagnostics_token(server, "DIAG-LINK", 3600)
    request_id = int(token.split(".")[0])
    forged = f"{request_id}.{token.split('.')[1]}.{'A' * 43}"
    expired = await _diagnostics_token(server, "DIAG-OLD", -1)
    async with server.anonymous() as http:
        assert_problem(await http.put(f"/diagnostics/{forged}", content=b"log"), 403)
        assert_problem(await http.put(f"/diagnostics/{expired}", content=b"log"), 403)
        traversal = await http.put("/diagnostics/..%2F..%2Fkilowatt.db", content=b"x")
        assert traversal.status_code in (403, 404)
        assert_problem(await http.put(f"/diagnostics/{token}", content=b"y" * (LIMIT + 1)), 413)
        # The refused upload did not use the link up.
        named = await http.post(f"/diagnostics/{token}/..%5C..%5Cjwt-secret", content=b"log\n")
        assert named.status_code == 201, named.text
        assert_problem(await http.put(f"/diagnostics/{token}", content=b"again"), 409)
    async with server.node.sessions() as db:
        row = await db.get(DiagnosticsRequest, request_id)
        assert row is not None
    assert (row.received_name, row.received_size) == ("jwt-secret", 4)
    files = list((server.node.settings.data_dir / "diagnostics").iterdir())
    assert [p.read_bytes() for p in files] == [b"log\n"]
    async with server.api() as api:
        download = await api.get(f"/api/v1/diagnostics/{request_id}/file")
    assert download.content == b"log\n"
    assert 'filename="jwt-secret"' in download.headers["content-disposition"]


async def test_links_of_another_node_are_refused(server: RunningServer) -> None:
    file = await upload_firmware(server, "x.bin", b"x")
    row = await _file(server, file["id"])
    foreign = service.firmware_url("", b"another node's key", row, int(_later().timestamp()))
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert_problem(await http.get(foreign), 403)
