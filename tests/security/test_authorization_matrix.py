"""Issue 3: the authorization matrix, every route of the live app x every kind of caller.

One node serves the whole module (``security.world``: two tenants, connected ``ocpp``-library
charge points, drivers with cards and sessions, operators of every role, API keys with and
without permissions, forged credentials). ``security.matrix.TABLE`` says what each caller must
get from each route; a route of the app without an entry there fails
``test_every_route_is_in_the_table``, so a new endpoint cannot be forgotten.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from starlette.routing import Mount

from security.callers import CALLERS
from security.matrix import TABLE, Case, build, expected_statuses
from security.world import A_STATION, B_STATION, World, build_world, module_database, routes

from support.server import HANDSHAKE_TIMEOUT

pytestmark = pytest.mark.asyncio(loop_scope="module")

CALLED = [case for case in TABLE if case.access is not None]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    migrated_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    directory: Path = tmp_path_factory.mktemp("security-matrix")
    async with module_database(migrated_database.backend, migrated_database.url, directory) as url:
        async with build_world(url, directory) as world:
            yield world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.http_url, timeout=30) as client:
        yield client


def live_routes(world: World) -> set[tuple[str, str]]:
    """(method, path) of every route the node serves; HEAD is GET's, WebSockets are WEBSOCKET."""
    served: set[tuple[str, str]] = set()
    for route in routes(world.server.app):
        if isinstance(getattr(route, "original_route", route), Mount):  # static files
            served.add(("MOUNT", route.path))
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a WebSocket route
            served.add(("WEBSOCKET", route.path))
            continue
        served.update((method, route.path) for method in methods if method != "HEAD")
    return served


async def test_every_route_is_in_the_table(world: World) -> None:
    served = live_routes(world)
    listed = {case.key for case in TABLE}
    main = {case.key for case in TABLE if not case.variant}
    missing = sorted(served - listed)
    assert not missing, (
        "routes without an entry in security.matrix.TABLE (add one: who may call them?): "
        + ", ".join(f"{m} {p}" for m, p in missing)
    )
    stale = sorted(listed - served)
    assert not stale, "TABLE entries for routes the app does not serve: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )
    assert listed == main, f"routes with variants but no main case: {sorted(listed - main)}"


def _describe(response: httpx.Response) -> str:
    text = response.text if "image" not in response.headers.get("content-type", "") else "<image>"
    return text[:160].replace("\n", " ")


@pytest.mark.parametrize("case", CALLED, ids=lambda case: case.id)
async def test_authorization(case: Case, world: World, http: httpx.AsyncClient) -> None:
    if case.key not in live_routes(world):
        pytest.fail(f"the table has a row for {case.key}, which the app does not serve: remove it")
    assert case.request is not None
    expected = expected_statuses(case)
    wrong: list[str] = []
    for caller in CALLERS:
        call = await build(case.request, world, caller)
        response = await http.request(
            case.method,
            call.path,
            json=call.json,
            params=call.params,
            headers=world.headers[caller.name],
        )
        want, got = expected[caller.name], response.status_code
        if got != want:
            wrong.append(f"{caller.name:>17}: expected {want}, got {got}  {_describe(response)}")
        elif case.check is not None and 200 <= got < 300:
            try:
                await case.check(world, caller, response)
            except AssertionError as exc:
                wrong.append(f"{caller.name:>17}: {got}, but the list leaks or is wrong: {exc}")
    assert not wrong, f"{case.id} ({case.access and case.access.summary}):\n" + "\n".join(wrong)


# ---- ids do not leak ------------------------------------------------------------------------------
# (route, the row of tenant a it names, an id that names no row): asked by b_admin, both must
# read alike, so that a 404 does not tell "exists in another tenant" from "does not exist".
NOT_LEAKING = [
    ("/api/v1/stations/{}", "station_a", "NO-SUCH-CP"),
    ("/api/v1/stations/{}/connectors", "station_a", "NO-SUCH-CP"),
    ("/api/v1/stations/{}/commands", "station_a", "NO-SUCH-CP"),
    ("/api/v1/commands/{}", "command_a", "00000000-0000-0000-0000-000000000000"),
    ("/api/v1/transactions/{}", "tx_a", "999999"),
    ("/api/v1/tokens/{}", "fleet_card", "NO-SUCH-TAG"),
    ("/api/v1/users/{}", "a_staff", "999999"),
    ("/api/v1/sessions/{}", "session_a", "999999"),
    ("/api/v1/sites/{}", "site_a", "999999"),
    ("/api/v1/api-keys/{}", "key_a", "999999"),
    ("/api/v1/tariffs/{}", "tariff_a", "999999"),
    ("/api/v1/tariffs/{}/assignments", "tariff_a", "999999"),
    ("/api/v1/sessions/{}/receipt", "session_done", "999999"),
    ("/api/v1/webhooks/{}", "webhook_a", "999999"),
    ("/api/v1/webhooks/{}/deliveries", "webhook_a", "999999"),
    ("/api/v1/stations/{}/health", "station_a", "NO-SUCH-CP"),
]


def _normalised(response: httpx.Response, ident: str) -> tuple[int, str, Any]:
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        body = {**body, "detail": body["detail"].replace(ident, "<id>")}
    return response.status_code, response.headers.get("content-type", ""), body


@pytest.mark.parametrize("template,row,nothing", NOT_LEAKING, ids=[t for t, _, _ in NOT_LEAKING])
async def test_another_tenants_row_reads_like_no_row(
    template: str, row: str, nothing: str, world: World, http: httpx.AsyncClient
) -> None:
    route = template.replace("{}", "{id}")
    method = "DELETE" if route.startswith("/api/v1/api-keys/") else "GET"
    if not any(m == method and _same_shape(p, route) for m, p in live_routes(world)):
        pytest.fail(f"the table probes {method} {route}, which the app does not serve: remove it")
    ident = str(A_STATION if row == "station_a" else world.rows[row])
    headers = world.headers["b_admin"]
    theirs = await http.request(method, template.format(ident), headers=headers)
    missing = await http.request(method, template.format(nothing), headers=headers)
    assert theirs.status_code == 404, theirs.text
    assert _normalised(theirs, ident) == _normalised(missing, nothing)


def _same_shape(declared: str, route: str) -> bool:
    """Whether the declared path and ``route`` differ only in the names of their parameters."""
    a, b = declared.strip("/").split("/"), route.strip("/").split("/")
    return len(a) == len(b) and all(
        x == y or (x.startswith("{") and y.startswith("{")) for x, y in zip(a, b, strict=True)
    )


# ---- the OCPP WebSocket ---------------------------------------------------------------------------
OCPP16: Any = ["ocpp1.6"]


async def test_station_websocket_takes_station_credentials_only(world: World) -> None:
    """``/ocpp/{id}`` authenticates stations (security profile 1), not API callers: a station
    with a password refuses no credentials, a user's JWT, the node key and a wrong password."""
    password = "station-password-0123"
    async with httpx.AsyncClient(
        base_url=world.server.http_url, headers=world.headers["node"]
    ) as api:
        created = await api.post(
            "/api/v1/stations",
            json={
                "charge_point_id": "SEC-WS-1",
                "password": password,
                "tenant": world.tenants["a"],
            },
        )
    assert created.status_code == 201, created.text
    url = world.server.ws_url("SEC-WS-1")

    def basic(user: str, secret: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}

    refused: dict[str, dict[str, str]] = {
        "no credentials": {},
        "a platform admin's JWT": world.headers["platform"],
        "the node key": world.headers["node"],
        "a wrong password": basic("SEC-WS-1", "not-the-password-00"),
        "another station's id": basic(B_STATION, password),
    }
    for what, headers in refused.items():
        with pytest.raises(websockets.InvalidStatus) as denied:
            async with websockets.connect(
                url,
                subprotocols=OCPP16,
                additional_headers=headers,
                open_timeout=HANDSHAKE_TIMEOUT,
            ):
                pass
        assert denied.value.response.status_code == 401, what
    async with websockets.connect(
        url,
        subprotocols=OCPP16,
        additional_headers=basic("SEC-WS-1", password),
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_the_roster_covers_the_brief() -> None:
    """The callers the issue names are all in the roster."""
    names = {c.name for c in CALLERS}
    assert {
        "driver",  # the owner
        "driver2",  # another driver of the same tenant
        "b_admin",  # another tenant's operator
        "anonymous",
        "expired",
        "tampered",
        "alg_none",
        "other_secret",
    } <= names
    assert any(c.kind == "api_key" and c.permissions for c in CALLERS)
    assert any(c.kind == "api_key" and not c.permissions for c in CALLERS)
