"""A real node with the accounts routers, and helpers to make users, log in and call the API.

Imported by the tests of ``tests/auth``, ``tests/users`` and ``tests/tenants`` as
``auth.accounts_kit``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI

from kilowatt.app import Server, create_app, uvicorn_config
from kilowatt.auth import api as auth_api
from kilowatt.auth.deps import CurrentDriver, require_permission
from kilowatt.auth.principal import Principal, Role
from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.tenants import api as tenants_api
from kilowatt.tenants.models import Tenant
from kilowatt.users import api as users_api
from kilowatt.users import service as users
from kilowatt.users.models import User

from support.server import API_KEY, RunningServer

JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
PASSWORD = "correct horse battery"

# A tiny router that guards with the dependencies other domains use.
probe = APIRouter(prefix="/test/probe")


@probe.get("/commands")
async def needs_commands_send(
    principal: Annotated[Principal, Depends(require_permission("commands:send"))],
) -> dict[str, Any]:
    return {"kind": principal.kind, "tenant_id": principal.tenant_id}


@probe.get("/driver")
async def needs_driver(principal: CurrentDriver) -> dict[str, Any]:
    return {"user_id": principal.user_id}


ROUTERS = (
    auth_api.router,
    auth_api.api_keys_router,
    users_api.router,
    tenants_api.router,
    probe,
)


def _with_accounts(app: FastAPI) -> FastAPI:
    """Include the accounts routers unless app.py already does."""
    paths = {getattr(route, "path", None) for route in app.routes}
    for router in ROUTERS:
        if not any(getattr(route, "path", None) in paths for route in router.routes):
            app.include_router(router)
    return app


@contextlib.asynccontextmanager
async def accounts_server(
    database_url: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[RunningServer]:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "admin_api_key": API_KEY,
        "jwt_secret": JWT_SECRET,
        "unknown_station_policy": UnknownStationPolicy.REJECT,
        "log_level": "warning",
    }
    values.update(overrides)
    settings = Settings(**values)
    app = _with_accounts(create_app(settings, migrate=False))
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


def client(server: RunningServer, token: str | None = None, **headers: str) -> httpx.AsyncClient:
    """An HTTP client of ``server``; ``token`` goes in ``Authorization: Bearer``."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=30)


def admin_client(server: RunningServer) -> httpx.AsyncClient:
    """A client presenting the node's admin key."""
    return client(server, **{"X-API-Key": API_KEY})


async def make_tenant(server: RunningServer, name: str, slug: str) -> Tenant:
    async with server.node.sessions() as db:
        tenant = await users.create_tenant(db, name=name, slug=slug)
        await db.commit()
        return tenant


async def default_tenant_id(server: RunningServer) -> int:
    async with server.node.sessions() as db:
        tenant = await users.tenant_for_slug(db, "default")
        return tenant.id


async def make_user(
    server: RunningServer,
    email: str,
    role: Role,
    *,
    tenant_id: int | None = None,
    password: str = PASSWORD,
) -> User:
    """A user (of the default tenant unless given; platform admins have none)."""
    if tenant_id is None and role is not Role.PLATFORM_ADMIN:
        tenant_id = await default_tenant_id(server)
    async with server.node.sessions() as db:
        user = await users.create_user(
            db, email=email, password=password, role=role, tenant_id=tenant_id, name=email
        )
        await db.commit()
        return user


async def login(server: RunningServer, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The token pair of a login (asserting it succeeds)."""
    async with client(server) as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def logged_in(
    server: RunningServer, email: str, role: Role, *, tenant_id: int | None = None
) -> str:
    """Make a user and return an access token of theirs."""
    await make_user(server, email, role, tenant_id=tenant_id)
    return str((await login(server, email))["access_token"])
