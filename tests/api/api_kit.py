"""A real node and the people who call its API: operators of two tenants, drivers, API keys.

Imported by the tests of ``tests/api`` as ``api.api_kit`` (the ``world`` fixture via conftest).

``world`` is a running server with tenants ``acme`` (A) and ``bolt`` (B); its users and keys are
made on first use: ``await world.client("a_admin")`` is an HTTP client logged in as A's admin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kilowatt.app import Server, create_app, uvicorn_config
from kilowatt.auth import service as auth
from kilowatt.auth.principal import Role
from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.sites import api as sites_api
from kilowatt.users import service as users

from support.server import API_KEY, RunningServer

PASSWORD = "correct horse battery"

# name -> (role, tenant slug); platform admins have no tenant.
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "a_admin": (Role.ADMIN, "acme"),
    "a_operator": (Role.OPERATOR, "acme"),
    "a_viewer": (Role.VIEWER, "acme"),
    "b_admin": (Role.ADMIN, "bolt"),
    "b_operator": (Role.OPERATOR, "bolt"),
    "driver": (Role.DRIVER, "acme"),
    "other_driver": (Role.DRIVER, "acme"),
    "b_driver": (Role.DRIVER, "bolt"),
    "platform": (Role.PLATFORM_ADMIN, None),
}


def _with_sites(app: Any) -> Any:
    """Include the sites router unless app.py already does."""
    if not any(getattr(r, "path", "") == "/api/v1/sites" for r in app.routes):
        app.include_router(sites_api.router)
    return app


@contextlib.asynccontextmanager
async def api_server(database_url: str, data_dir: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        host="127.0.0.1",
        port=0,
        admin_api_key=API_KEY,
        unknown_station_policy=UnknownStationPolicy.REJECT,
        call_timeout=5.0,
        log_level="warning",
        local_list_auto_enrol=False,  # as in support/server.py: no calls a test did not make
    )
    app = _with_sites(create_app(settings, migrate=False))
    server = Server(uvicorn_config(app, settings))
    server.handle_signals = False
    serving = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    done, _ = await asyncio.wait({serving, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if serving.done():
            await serving
        raise RuntimeError("the test server did not start")
    try:
        yield RunningServer(app, server, server.port)
    finally:
        server.should_exit = True
        await serving


@dataclass
class World:
    server: RunningServer
    tenants: dict[str, int]  # slug -> id
    user_ids: dict[str, int] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def a(self) -> int:
        return self.tenants["acme"]

    @property
    def b(self) -> int:
        return self.tenants["bolt"]

    def _http(self, headers: dict[str, str]) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=self.server.http_url, headers=headers, timeout=30)
        self._clients.append(http)
        return http

    async def user_id(self, name: str) -> int:
        await self._login(name)
        return self.user_ids[name]

    async def _login(self, name: str) -> str:
        if name not in self._tokens:
            role, slug = PEOPLE[name]
            async with self.server.node.sessions() as db:
                user = await users.create_user(
                    db,
                    email=f"{name}@example.com",
                    password=PASSWORD,
                    role=role,
                    tenant_id=None if slug is None else self.tenants[slug],
                    name=name,
                )
                pair = await auth.issue_pair(db, self.server.node.settings, user, now=_now())
                await db.commit()
            self.user_ids[name] = user.id
            self._tokens[name] = pair.access_token
        return self._tokens[name]

    async def client(self, name: str) -> httpx.AsyncClient:
        """An HTTP client logged in as ``name`` (one of ``PEOPLE``), made on first use."""
        return self._http({"Authorization": f"Bearer {await self._login(name)}"})

    def node(self) -> httpx.AsyncClient:
        """A client with the node's admin key (a platform admin)."""
        return self._http({"X-API-Key": API_KEY})

    def anonymous(self, **headers: str) -> httpx.AsyncClient:
        return self._http(headers)

    async def api_key(self, tenant: str, *permissions: str) -> httpx.AsyncClient:
        """A client with a new API key of ``tenant`` holding ``permissions``."""
        response = await self.node().post(
            "/api/v1/api-keys",
            json={"name": "test key", "permissions": list(permissions), "tenant": tenant},
        )
        assert response.status_code == 201, response.text
        return self._http({"X-API-Key": response.json()["key"]})

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with api_server(database_url, tmp_path) as server:
        async with server.node.sessions() as db:
            acme = await users.create_tenant(db, name="Acme Charging", slug="acme")
            bolt = await users.create_tenant(db, name="Bolt Energy", slug="bolt")
            await db.commit()
        world = World(server, {"acme": acme.id, "bolt": bolt.id})
        try:
            yield world
        finally:
            await world.close()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem document with ``status``; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body
