"""API request limits (issue 8 item 5): body size, page size, and credentials kept out of URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.accounts_kit import accounts_server, admin_client, client
from kilowatt.api.body_limit import STREAMED_UPLOADS
from kilowatt.api.pagination import MAX_LIMIT
from kilowatt.app import create_app
from kilowatt.config import Settings, load_settings

from support.server import API_KEY

MiB = 1 << 20


def _assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 413 and body["limit"] == limit


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


async def test_bodies_over_one_mib_get_413_before_they_are_read(
    database_url: str, tmp_path: Path
) -> None:
    """The default limit is 1 MiB: a larger announced body is refused at once, a chunked one
    (no Content-Length) once it passes the limit; smaller ones go on to validation."""
    async with accounts_server(database_url, tmp_path) as server, admin_client(server) as http:
        assert server.node.settings.max_body_bytes == MiB
        padding = " " * (MiB - 60)
        fits = f'{{"email": "a@example.com", "password": "x", "pad": "{padding}"}}'
        assert len(fits) <= MiB
        response = await http.post(
            "/api/v1/auth/login", content=fits, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422  # read and validated: "pad" is not a field
        big = b"{" + b" " * MiB + b"}"
        for path in ("/api/v1/auth/login", "/api/v1/stations", "/api/v1/webhooks"):
            announced = await http.post(
                path, content=big, headers={"content-type": "application/json"}
            )
            _assert_too_large(announced, MiB)
        chunked = await http.post(
            "/api/v1/stations",
            content=_chunks(MiB + 1),
            headers={"content-type": "application/json"},
        )
        _assert_too_large(chunked, MiB)
        # The node goes on serving.
        assert (await http.get("/api/v1/stations")).status_code == 200


async def test_firmware_uploads_keep_their_own_larger_limit(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        accounts_server(
            database_url, tmp_path, max_body_bytes=4096, firmware_max_bytes=64 * 1024
        ) as server,
        admin_client(server) as http,
    ):
        image = bytes(range(256)) * 64  # 16 KiB: over the API limit, under the firmware one
        uploaded = await http.post(
            "/api/v1/firmware",
            params={"name": "fw.bin", "version": "1.0", "tenant": "default"},
            content=image,
            headers={"content-type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["size_bytes"] == len(image)
        too_big = await http.post(
            "/api/v1/firmware",
            params={"name": "big.bin", "tenant": "default"},
            content=b"\0" * (64 * 1024 + 1),
            headers={"content-type": "application/octet-stream"},
        )
        assert too_big.status_code == 413  # the firmware route's own limit
        json_over = await http.post(
            "/api/v1/stations",
            json={"charge_point_id": "CP1", "note": "x" * 5000},
        )
        _assert_too_large(json_over, 4096)


def test_only_the_streamed_uploads_are_exempt() -> None:
    exempt = {(frozenset(m), p) for m, p in STREAMED_UPLOADS}
    assert exempt == {
        (frozenset({"POST"}), r"/api/v1/firmware"),
        (frozenset({"PUT", "POST"}), r"/diagnostics/[^/]+(?:/[^/]+)?"),
        (frozenset({"PUT", "POST"}), r"/logs/[^/]+(?:/[^/]+)?"),
    }


def test_the_limit_is_configurable_and_sane() -> None:
    env = {"KILOWATT_DATA_DIR": "/nonexistent-but-unused", "KILOWATT_JWT_SECRET": "s" * 40}
    env["KILOWATT_ADMIN_API_KEY"] = "k" * 32
    assert load_settings(environ={**env, "KILOWATT_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048
    with pytest.raises(ValueError, match="MAX_BODY_BYTES"):
        load_settings(environ={**env, "KILOWATT_MAX_BODY_BYTES": "10"})


def _list_routes() -> list[tuple[str, dict[str, Any]]]:
    spec = create_app(Settings(jwt_secret="x" * 40), migrate=False).openapi()
    found = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        params = {p["name"]: p.get("schema", {}) for p in get.get("parameters", [])}
        if "limit" in params:
            found.append((path, params["limit"]))
    return found


def test_every_paginated_list_has_a_bounded_page_size() -> None:
    routes = _list_routes()
    assert len(routes) >= 15
    unbounded = [path for path, schema in routes if not 1 <= schema.get("maximum", 0) <= 1000]
    assert unbounded == []


async def test_a_page_over_the_limit_is_422_not_clamped(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server, admin_client(server) as http:
        for path in ("/api/v1/stations", "/api/v1/users", "/api/v1/webhooks"):
            too_many = await http.get(path, params={"limit": MAX_LIMIT + 1})
            assert too_many.status_code == 422, (path, too_many.text)
            assert too_many.headers["content-type"] == "application/problem+json"
            assert (await http.get(path, params={"limit": MAX_LIMIT})).status_code == 200

        # Credentials in the query string are refused, whatever else the request carries.
        async with client(server) as anonymous:
            for params in (
                {"api_key": API_KEY},
                {"access_token": "eyJhbGciOiJIUzI1NiJ9.e30.x"},
                {"station": "kw_0123456789ab_secretsecretsecret"},
            ):
                response = await anonymous.get("/api/v1/stations", params=params)
                assert response.status_code == 400, (params, response.text)
                assert response.json()["title"] == "Credentials in the query string"
            with_header = await anonymous.get(
                "/api/v1/stations", params={"api_key": API_KEY}, headers={"X-API-Key": API_KEY}
            )
            assert with_header.status_code == 400
            assert (
                await anonymous.get("/api/v1/stations", headers={"X-API-Key": API_KEY})
            ).status_code == 200
