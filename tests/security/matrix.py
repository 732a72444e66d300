"""The authorization matrix: for every route of the app, who may call it and what each caller gets.

``TABLE`` holds one or more ``Case``s per (method, route path). A case says how to build the
request for a caller (``request``), what every caller of ``security.callers.CALLERS`` must get
(``access``), and, for lists, what a 2xx body may contain (``check``). The main case of a route
has ``variant=""``; further cases probe the same route in other ways (naming another tenant in
a filter or a body, handing out a role above one's own, ...).

How the statuses are decided:

* anonymous: 401, except on public routes;
* forged, expired, revoked or malformed credentials: 401 everywhere, public routes included (a
  bad credential never degrades to an anonymous request), except where ``credentials="ignored"``
  (the auth endpoints, whose credential is in the body, and the node's health and docs);
* an authenticated caller without the role or permission: 403;
* a caller who may use the endpoint but asks for a row of another tenant or driver: 404;
* everybody else: the 2xx of the case.

Print the whole matrix with ``PYTHONPATH=tests .venv/bin/python -m security.matrix``.
"""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from kilowatt.stations.models import Connector
from security import firmware_rows, reservation_rows
from security.callers import ANONYMOUS, CALLERS, FORGED, Caller
from security.world import A_SPARE, A_STATION, B_STATION, PASSWORD, TARIFF, World


# ---- requests -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None


Builder = Callable[[World, Caller], "Call | Awaitable[Call]"]
Checker = Callable[[World, Caller, httpx.Response], Awaitable[None]]


async def build(request: Builder, world: World, caller: Caller) -> Call:
    made = request(world, caller)
    return await made if inspect.isawaitable(made) else made


# ---- who gets what ------------------------------------------------------------------------------
Rule = Callable[[Caller], int]


@dataclass(frozen=True)
class Access:
    """What every caller gets: ``rule`` for valid and anonymous callers, 401 for forged ones
    (unless ``credentials == "ignored"``), and ``overrides`` by caller name before anything."""

    summary: str
    rule: Rule
    credentials: str = "checked"  # "checked": a bad credential is a 401 | "ignored"
    overrides: dict[str, int] = field(default_factory=dict)

    def expected(self, caller: Caller) -> int:
        if caller.name in self.overrides:
            return self.overrides[caller.name]
        if caller.kind == FORGED:
            return self.rule(ANON) if self.credentials == "ignored" else 401
        return self.rule(caller)

    def but(self, **overrides: int) -> Access:
        """The same access with some callers' statuses replaced (by caller name)."""
        return Access(self.summary, self.rule, self.credentials, {**self.overrides, **overrides})


ANON = Caller("anonymous", ANONYMOUS)


def public(ok: int = 200, *, credentials: str = "checked") -> Access:
    """Anybody, credentials or not."""
    return Access(f"public -> {ok}", lambda c: ok, credentials)


def authenticated(ok: int = 200) -> Access:
    return Access(f"any caller -> {ok}", lambda c: ok if c.valid else 401)


def platform_admins(ok: int) -> Access:
    def rule(c: Caller) -> int:
        if not c.valid:
            return 401
        return ok if c.is_platform else 403

    return Access(f"platform admins -> {ok}", rule)


def _drivers(owner: int, driver2: int, b_driver: int) -> Callable[[Caller], int]:
    by_name = {"driver": owner, "driver2": driver2, "b_driver": b_driver}
    return lambda c: by_name[c.name]


def drivers(*, owner: int, driver2: int, b_driver: int) -> Access:
    """Drivers only (operators and keys 403): the owner, the same tenant's other driver, and the
    other tenant's driver get the given statuses."""
    per_driver = _drivers(owner, driver2, b_driver)

    def rule(c: Caller) -> int:
        if not c.valid:
            return 401
        return per_driver(c) if c.is_driver else 403

    return Access(f"drivers: owner {owner}, same tenant {driver2}, other tenant {b_driver}", rule)


def permission(perm: str, *, own: int, other: int, platform: int | None = None) -> Access:
    """Callers holding ``perm`` (never drivers): of tenant a -> ``own``, of tenant b ->
    ``other``, of no tenant (platform admins, the node key) -> ``platform`` (default ``own``)."""
    everywhere = own if platform is None else platform

    def rule(c: Caller) -> int:
        if not c.valid:
            return 401
        if c.is_driver or not c.can(perm):
            return 403
        return {"a": own, "b": other, None: everywhere}[c.tenant]

    return Access(f"{perm}: tenant a {own}, tenant b {other}, platform {everywhere}", rule)


def drivers_or(
    perm: str, *, owner: int, driver2: int, b_driver: int, own: int, other: int
) -> Access:
    """Drivers (their own rows) and callers holding ``perm`` (their tenant's rows)."""
    staff = permission(perm, own=own, other=other).rule
    per_driver = _drivers(owner, driver2, b_driver)

    def rule(c: Caller) -> int:
        if c.valid and c.is_driver:
            return per_driver(c)
        return staff(c)

    return Access(
        f"drivers (owner {owner}, same tenant {driver2}, other tenant {b_driver}) "
        f"or {perm} (tenant a {own}, tenant b {other})",
        rule,
    )


# ---- what a list may show -------------------------------------------------------------------
def _items(body: Any) -> list[dict[str, Any]]:
    items = body["items"] if isinstance(body, dict) else body
    assert isinstance(items, list), body
    return items


def _expect_tenants(world: World, caller: Caller, seen: AbstractSet[int | None], what: str) -> None:
    if caller.tenant is None:  # platform admins see every tenant
        assert seen, f"{caller.name} sees no {what} at all"
        return
    own = world.tenants[caller.tenant]
    assert seen <= {own}, f"{caller.name} (tenant {own}) sees {what} of tenants {seen - {own}}"
    assert seen, f"{caller.name} sees none of their tenant's {what}"


def tenant_rows(what: str, key: str = "tenant_id") -> Checker:
    """Every row carries ``key``, the caller's tenant (and there is at least one)."""

    async def check(world: World, caller: Caller, response: httpx.Response) -> None:
        seen = {row[key] for row in _items(response.json())}
        _expect_tenants(world, caller, seen, what)

    return check


def station_rows(what: str, key: str) -> Checker:
    """Every row names (by ``key``) a station of the caller's tenant."""

    async def check(world: World, caller: Caller, response: httpx.Response) -> None:
        tenants = await world.station_tenants()
        seen = {tenants[row[key]] for row in _items(response.json())}
        _expect_tenants(world, caller, seen, what)

    return check


async def check_sessions(world: World, caller: Caller, response: httpx.Response) -> None:
    """A driver sees their own sessions, an operator their tenant's."""
    ids = [row["sessionId"] for row in _items(response.json())]
    owners = await world.session_owners(ids)
    if caller.is_driver:
        others = {i for i, (_, user) in owners.items() if user != world.user_ids[caller.name]}
        assert not others, f"{caller.name} sees sessions {sorted(others)} of other users"
        assert ids, f"{caller.name} sees none of their own sessions"
        return
    _expect_tenants(world, caller, {tenant for tenant, _ in owners.values()}, "sessions")


async def check_export(world: World, caller: Caller, response: httpx.Response) -> None:
    """The billing CSV: every session (and its station) is of the caller's tenant."""
    rows = list(csv.DictReader(io.StringIO(response.text)))
    owners = await world.session_owners([int(row["session_id"]) for row in rows])
    assert len(owners) == len(rows), f"{caller.name} gets rows of sessions that do not exist"
    _expect_tenants(world, caller, {tenant for tenant, _ in owners.values()}, "sessions")
    stations = await world.station_tenants()
    seen = {stations[row["charging_station_id"]] for row in rows}
    _expect_tenants(world, caller, seen, "stations' sessions")


async def check_cards(world: World, caller: Caller, response: httpx.Response) -> None:
    listed = {row["id_tag"] for row in _items(response.json())}
    own = await world.cards_of(caller.name)
    assert listed <= own, f"{caller.name} sees cards {sorted(listed - own)} of others"
    assert listed, f"{caller.name} sees none of their own cards"


async def check_tenants(world: World, caller: Caller, response: httpx.Response) -> None:
    slugs = {row["slug"] for row in _items(response.json())}
    assert {"acme", "bolt"} <= slugs, slugs


def all_rows_of(station: str, key: str = "charge_point_id") -> Checker:
    async def check(world: World, caller: Caller, response: httpx.Response) -> None:
        rows = _items(response.json())
        assert rows, f"{caller.name} sees no rows of {station}"
        assert {row[key] for row in rows} == {station}

    return check


# ---- the table ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the route's path, as the app declares it: (method, path) names the route
    access: Access | None  # None: not an HTTP route (see ``covered_by``)
    request: Builder | None = None
    variant: str = ""  # "" for the route's main case; else what this probe checks
    check: Checker | None = None  # for a 2xx answer: what its body may contain
    covered_by: str = ""  # the test covering a route the matrix does not call

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.variant}]" if self.variant else "")


def at(path: str, json: Any = None, **params: Any) -> Builder:
    """A request that is the same for every caller."""
    call = Call(path, json, params or None)
    return lambda world, caller: call


def _card_owner(caller: Caller) -> str:
    """Whose card a start uses: a driver their own, anybody else the owner driver's."""
    return caller.name if caller.is_driver else "driver"


async def _v1_start(world: World, caller: Caller, *, card_of: str | None = None) -> Call:
    id_tag = await world.fresh_card(card_of or _card_owner(caller))
    body = {"station": A_STATION, "connector_number": world.free_connector(), "id_tag": id_tag}
    return Call("/api/v1/sessions", body)


async def _seed_start(world: World, caller: Caller, *, card_of: str | None = None) -> Call:
    id_tag = await world.fresh_card(card_of or _card_owner(caller))
    body = {
        "ChargingStationId": A_STATION,
        "ConnectorId": world.free_connector(),
        "ChargeTagId": id_tag,
    }
    return Call("/api/ChargingSession/start-charging-session", body)


def _someone_elses_card(caller: Caller) -> str:
    return "driver2" if caller.name == "driver" else "driver"


async def _api_start(world: World, caller: Caller, alias: str) -> Call:
    id_tag = await world.fresh_card("driver")
    return Call(f"/API/{alias}/{A_STATION}/{world.free_connector()}/{id_tag}")


def _evse(world: World) -> str:
    return world.evse_id(A_STATION, 1)


async def _gun(world: World, caller: Caller) -> Call:
    """The seed's gun id: the connector's row id."""
    async with world.node.sessions() as db:
        gun = await db.scalar(
            select(Connector.id).where(
                Connector.station_id == world.stations[A_STATION], Connector.connector_id == 1
            )
        )
    return Call(f"/api/ChargingSession/charging-gun-status/{gun}")


async def _fresh_user_body(world: World, caller: Caller, role: str = "viewer") -> Call:
    email = f"{world.unique('staff')}@security.example"
    body = {"email": email, "password": PASSWORD, "name": "Staff", "role": role, "tenant": "acme"}
    return Call("/api/v1/users", body)


PAGE = {"limit": 200}
# Every session of the world (requested around now).
EXPORT_PERIOD = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
# The node's docs and health check hold nothing caller-specific: a header is not read there.
INFRA = public(credentials="ignored")
# The auth endpoints take their credential from the body. A client refreshing with an expired
# access token still in its Authorization header is the normal case, so the header is not read.
AUTH_BODY = "ignored"

# A TxDefaultProfile any station may take (smart charging rows).
SMART_CHARGING_PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "startSchedule": "2026-01-01T00:00:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
    },
}

TABLE: tuple[Case, ...] = (
    # ---- the node ---------------------------------------------------------------------------
    Case("GET", "/openapi.json", INFRA, at("/openapi.json")),
    Case("GET", "/docs", INFRA, at("/docs")),
    Case("GET", "/docs/oauth2-redirect", INFRA, at("/docs/oauth2-redirect")),
    Case("GET", "/redoc", INFRA, at("/redoc")),
    Case("GET", "/health", INFRA, at("/health")),
    # ---- the web apps (issue 6): static pages; what they show comes from the API -----------
    Case("GET", "/", public(307, credentials="ignored"), at("/")),
    Case("GET", "/dashboard", INFRA, at("/dashboard")),
    Case("GET", "/dashboard/{path:path}", INFRA, at("/dashboard/stations/CP-1")),
    Case("GET", "/app", INFRA, at("/app")),
    Case("GET", "/app/{path:path}", INFRA, at("/app/start?evse=DE*KWT*E1*1")),
    Case("MOUNT", "/static", None, covered_by="test_assets_are_served_and_missing_ones_are_404"),
    Case(
        "WEBSOCKET",
        "/ocpp/{charge_point_id}",
        None,
        covered_by="test_station_websocket_takes_station_credentials_only",
    ),
    # ---- auth ---------------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/auth/register",
        public(201, credentials=AUTH_BODY),
        lambda w, c: Call(
            "/api/v1/auth/register",
            {
                "email": f"{w.unique('signup')}@security.example",
                "password": PASSWORD,
                "name": "New Driver",
                "tenant": "acme",
            },
        ),
    ),
    Case(
        "POST",
        "/api/v1/auth/login",
        public(200, credentials=AUTH_BODY),
        at("/api/v1/auth/login", {"email": "driver@security.example", "password": PASSWORD}),
    ),
    Case(
        "POST",
        "/api/v1/auth/refresh",
        public(200, credentials=AUTH_BODY),
        lambda w, c: _refresh_call(w, "/api/v1/auth/refresh"),
    ),
    Case(
        "POST",
        "/api/v1/auth/logout",
        public(204, credentials=AUTH_BODY),
        lambda w, c: _refresh_call(w, "/api/v1/auth/logout"),
    ),
    Case("GET", "/api/v1/me", authenticated(200), at("/api/v1/me")),
    # ---- API keys -----------------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/api-keys",
        permission("api_keys:write", own=201, other=404),
        lambda w, c: Call(
            "/api/v1/api-keys",
            {"name": w.unique("key "), "permissions": ["stations:read"], "tenant": "acme"},
        ),
    ),
    Case(
        "GET",
        "/api/v1/api-keys",
        permission("api_keys:write", own=200, other=200),
        at("/api/v1/api-keys"),
        check=tenant_rows("API keys"),
    ),
    Case(
        "DELETE",
        "/api/v1/api-keys/{key_id}",
        permission("api_keys:write", own=204, other=404),
        lambda w, c: _fresh_key_call(w),
    ),
    # ---- users and tenants ------------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/users",
        permission("users:write", own=201, other=404),
        _fresh_user_body,
    ),
    Case(
        "POST",
        "/api/v1/users",
        # a_key_all acts as an operator: it cannot hand out the admin role.
        permission("users:write", own=201, other=404).but(a_key_all=403),
        lambda w, c: _fresh_user_body(w, c, "admin"),
        variant="grant admin",
    ),
    Case(
        "POST",
        "/api/v1/users",
        permission("users:write", own=403, other=403, platform=201),
        lambda w, c: _fresh_user_body(w, c, "platform_admin"),
        variant="grant platform_admin",
    ),
    Case(
        "GET",
        "/api/v1/users",
        permission("users:read", own=200, other=200),
        at("/api/v1/users", **PAGE),
        check=tenant_rows("users"),
    ),
    Case(
        "GET",
        "/api/v1/users",
        permission("users:read", own=404, other=200, platform=200),
        at("/api/v1/users", tenant="bolt", **PAGE),
        variant="?tenant= another tenant",
        check=tenant_rows("users"),
    ),
    Case(
        "GET",
        "/api/v1/users/{user_id}",
        permission("users:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/users/{w.rows['a_staff']}"),
    ),
    Case(
        "PATCH",
        "/api/v1/users/{user_id}",
        permission("users:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/users/{w.rows['a_staff']}", {"name": "Staff"}),
    ),
    Case(
        "PATCH",
        "/api/v1/users/{user_id}",
        # an admin outranks a_key_all (an operator)
        permission("users:write", own=200, other=404).but(a_key_all=403),
        lambda w, c: Call(f"/api/v1/users/{w.rows['a_admin2']}", {"name": "Admin Two"}),
        variant="a user who outranks the caller",
    ),
    Case(
        "POST",
        "/api/v1/tenants",
        platform_admins(201),
        lambda w, c: _tenant_call(w),
    ),
    Case(
        "GET", "/api/v1/tenants", platform_admins(200), at("/api/v1/tenants"), check=check_tenants
    ),
    # ---- stations -----------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/stations",
        permission("stations:read", own=200, other=200),
        at("/api/v1/stations", **PAGE),
        check=tenant_rows("stations"),
    ),
    Case(
        "POST",
        "/api/v1/stations",
        permission("stations:write", own=201, other=404),
        lambda w, c: Call(
            "/api/v1/stations", {"charge_point_id": w.unique("SEC-NEW-"), "tenant": w.tenants["a"]}
        ),
    ),
    Case(
        "POST",
        "/api/v1/stations",
        # b_admin places a station of its own tenant at its own site; platform admins create in
        # the default tenant, whose sites these are not.
        permission("stations:write", own=404, other=201, platform=404),
        lambda w, c: Call(
            "/api/v1/stations",
            {"charge_point_id": w.unique("SEC-NEW-"), "site_id": w.rows["site_b"]},
        ),
        variant="at another tenant's site",
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}"),
    ),
    Case(
        "PATCH",
        "/api/v1/stations/{charge_point_id}",
        permission("stations:write", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}", {"allow_missing_subprotocol": False}),
    ),
    Case(
        "PATCH",
        "/api/v1/stations/{charge_point_id}",
        permission("stations:write", own=404, other=404),
        lambda w, c: Call(f"/api/v1/stations/{A_STATION}", {"site_id": w.rows["site_b"]}),
        variant="to another tenant's site",
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/connectors",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/connectors"),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/messages",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/messages", limit=5),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/commands/{action}",
        permission("commands:send", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/commands/GetConfiguration", {}, wait=5),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/commands",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/commands"),
        check=all_rows_of(A_STATION),
    ),
    Case(
        "GET",
        "/api/v1/commands/{command_id}",
        permission("stations:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/commands/{w.rows['command_a']}"),
    ),
    # ---- transactions -------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/transactions",
        permission("transactions:read", own=200, other=200),
        at("/api/v1/transactions", **PAGE),
        check=station_rows("transactions", "charge_point_id"),
    ),
    Case(
        "GET",
        "/api/v1/transactions",
        permission("transactions:read", own=404, other=200, platform=200),
        at("/api/v1/transactions", station=B_STATION),
        variant="?station= another tenant's",
        check=station_rows("transactions", "charge_point_id"),
    ),
    Case(
        "GET",
        "/api/v1/transactions/{transaction_id}",
        permission("transactions:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/transactions/{w.rows['tx_a']}"),
    ),
    # ---- tokens (operators) -------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/tokens",
        permission("tokens:read", own=200, other=200),
        at("/api/v1/tokens", **PAGE),
        check=tenant_rows("tokens"),
    ),
    Case(
        "GET",
        "/api/v1/tokens",
        permission("tokens:read", own=404, other=200, platform=200),
        at("/api/v1/tokens", tenant="bolt", **PAGE),
        variant="?tenant= another tenant",
        check=tenant_rows("tokens"),
    ),
    Case(
        "POST",
        "/api/v1/tokens",
        permission("tokens:write", own=201, other=404),
        lambda w, c: Call(
            "/api/v1/tokens", {"id_tag": w.unique("SEC-T"), "tenant": w.tenants["a"]}
        ),
    ),
    Case(
        "POST",
        "/api/v1/tokens",
        # b_admin gives a card of its own tenant to its own driver: fine.
        permission("tokens:write", own=404, other=201, platform=404),
        lambda w, c: Call(
            "/api/v1/tokens", {"id_tag": w.unique("SEC-T"), "user_id": w.user_ids["b_driver"]}
        ),
        variant="owned by another tenant's driver",
    ),
    Case(
        "GET",
        "/api/v1/tokens/{id_tag}",
        permission("tokens:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/tokens/{w.rows['fleet_card']}"),
    ),
    Case(
        "PATCH",
        "/api/v1/tokens/{id_tag}",
        permission("tokens:write", own=200, other=404),
        lambda w, c: Call(
            f"/api/v1/tokens/{w.rows['fleet_card']}", {"max_concurrent_transactions": 1}
        ),
    ),
    Case(
        "PATCH",
        "/api/v1/tokens/{id_tag}",
        permission("tokens:write", own=404, other=404),
        lambda w, c: Call(
            f"/api/v1/tokens/{w.rows['fleet_card']}", {"user_id": w.user_ids["b_driver"]}
        ),
        variant="give to another tenant's driver",
    ),
    # ---- a driver's own cards -----------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/me/tokens",
        drivers(owner=200, driver2=200, b_driver=200),
        at("/api/v1/me/tokens", **PAGE),
        check=check_cards,
    ),
    Case(
        "POST",
        "/api/v1/me/tokens",
        drivers(owner=201, driver2=201, b_driver=201),
        lambda w, c: Call("/api/v1/me/tokens", {"id_tag": w.unique("SEC-M")}),
    ),
    Case(
        "POST",
        "/api/v1/me/tokens/{id_tag}/block",
        drivers(owner=200, driver2=404, b_driver=404),
        lambda w, c: _own_card_call(w, "/api/v1/me/tokens/{}/block"),
    ),
    Case(
        "POST",
        "/api/v1/me/tokens/{id_tag}/unblock",
        drivers(owner=200, driver2=404, b_driver=404),
        lambda w, c: _own_card_call(w, "/api/v1/me/tokens/{}/unblock"),
    ),
    Case(
        "DELETE",
        "/api/v1/me/tokens/{id_tag}",
        drivers(owner=204, driver2=404, b_driver=404),
        lambda w, c: _own_card_call(w, "/api/v1/me/tokens/{}"),
    ),
    # ---- the seed's driver API ------------------------------------------------------------------
    Case(
        "POST",
        "/api/ChargingSession/start-charging-session",
        drivers(owner=200, driver2=200, b_driver=404),
        _seed_start,
    ),
    Case(
        "POST",
        "/api/ChargingSession/start-charging-session",
        drivers(owner=404, driver2=404, b_driver=404),
        lambda w, c: _seed_start(w, c, card_of=_someone_elses_card(c)),
        variant="with another driver's card",
    ),
    Case(
        "POST",
        "/api/ChargingSession/end-charging-session",
        drivers(owner=200, driver2=404, b_driver=404),
        lambda w, c: _fresh_session_call(w, "/api/ChargingSession/end-charging-session", seed=True),
    ),
    Case(
        "POST",
        "/api/ChargingSession/unlock-connector",
        drivers(owner=200, driver2=403, b_driver=404),
        at(
            "/api/ChargingSession/unlock-connector",
            {"ChargingStationId": A_STATION, "ConnectorId": 1},
        ),
    ),
    Case("GET", "/api/ChargingSession/charging-gun-status/{gun_id}", public(200), _gun),
    Case(
        "GET",
        "/api/ChargingSession/charging-session-details/{session_id}",
        drivers(owner=200, driver2=404, b_driver=404),
        lambda w, c: Call(f"/api/ChargingSession/charging-session-details/{w.rows['session_a']}"),
    ),
    Case(
        "GET",
        "/api/ChargingSession/charging-sessions",
        drivers(owner=200, driver2=200, b_driver=200),
        at("/api/ChargingSession/charging-sessions", pageSize=100),
        check=check_sessions,
    ),
    # ---- sessions and connectors (versioned API) ---------------------------------------------
    Case(
        "GET",
        "/api/v1/connectors/{ref}",
        public(200),
        lambda w, c: Call(f"/api/v1/connectors/{_evse(w)}"),
    ),
    Case(
        "GET",
        "/api/v1/connectors/{ref}/qr.svg",
        public(200),
        lambda w, c: Call(f"/api/v1/connectors/{_evse(w)}/qr.svg"),
    ),
    Case(
        "GET",
        "/api/v1/connectors/{ref}/qr.png",
        public(200),
        lambda w, c: Call(f"/api/v1/connectors/{_evse(w)}/qr.png"),
    ),
    Case(
        "POST",
        "/api/v1/connectors/{ref}/unlock",
        drivers_or("commands:send", owner=200, driver2=403, b_driver=404, own=200, other=404),
        lambda w, c: Call(f"/api/v1/connectors/{_evse(w)}/unlock"),
    ),
    Case(
        "POST",
        "/api/v1/sessions",
        drivers_or("sessions:write", owner=201, driver2=201, b_driver=404, own=201, other=404),
        _v1_start,
    ),
    Case(
        "POST",
        "/api/v1/sessions",
        # operators start for any card of their tenant; a driver only with their own
        drivers_or("sessions:write", owner=404, driver2=404, b_driver=404, own=201, other=404),
        lambda w, c: _v1_start(w, c, card_of=_someone_elses_card(c)),
        variant="with another driver's card",
    ),
    Case(
        "POST",
        "/api/v1/sessions/{session_id}/end",
        drivers_or("sessions:write", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: _fresh_session_call(w, "/api/v1/sessions/{}/end"),
    ),
    Case(
        "GET",
        "/api/v1/sessions/{session_id}",
        drivers_or("sessions:read", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: Call(f"/api/v1/sessions/{w.rows['session_a']}"),
    ),
    Case(
        "GET",
        "/api/v1/sessions",
        drivers_or("sessions:read", owner=200, driver2=200, b_driver=200, own=200, other=200),
        at("/api/v1/sessions", **PAGE),
        check=check_sessions,
    ),
    # ---- OCPP.Core-compatible API ---------------------------------------------------------------
    Case(
        "GET",
        "/API/Status",
        permission("ocpp_api", own=200, other=200),
        at("/API/Status"),
        check=station_rows("charge points", "id"),
    ),
    Case(
        "GET",
        "/API/Reset/{charge_point_id}",
        permission("ocpp_api", own=200, other=404),
        at(f"/API/Reset/{A_STATION}"),
    ),
    Case(
        "GET",
        "/API/UnlockConnector/{charge_point_id}/{connector_id}",
        permission("ocpp_api", own=200, other=404),
        at(f"/API/UnlockConnector/{A_STATION}/1"),
    ),
    Case(
        "GET",
        "/API/StartTransaction/{charge_point_id}/{connector_id}/{charge_tag_id}",
        permission("ocpp_api", own=200, other=404),
        lambda w, c: _api_start(w, c, "StartTransaction"),
    ),
    Case(
        "GET",
        "/API/RemoteStartTransaction/{charge_point_id}/{connector_id}/{charge_tag_id}",
        permission("ocpp_api", own=200, other=404),
        lambda w, c: _api_start(w, c, "RemoteStartTransaction"),
    ),
    Case(
        "GET",
        "/API/StopTransaction/{charge_point_id}/{connector_id}",
        permission("ocpp_api", own=200, other=404),
        at(f"/API/StopTransaction/{A_STATION}/1"),
    ),
    Case(
        "GET",
        "/API/RemoteStopTransaction/{charge_point_id}/{connector_id}",
        permission("ocpp_api", own=200, other=404),
        at(f"/API/RemoteStopTransaction/{A_STATION}/1"),
    ),
    # ---- sites ----------------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/sites",
        permission("stations:read", own=200, other=200),
        at("/api/v1/sites", **PAGE),
        check=tenant_rows("sites"),
    ),
    Case(
        "POST",
        "/api/v1/sites",
        permission("stations:write", own=201, other=404),
        lambda w, c: Call("/api/v1/sites", {"name": w.unique("Site "), "tenant": w.tenants["a"]}),
    ),
    Case(
        "GET",
        "/api/v1/sites/{site_id}",
        permission("stations:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/sites/{w.rows['site_a']}"),
    ),
    Case(
        "PATCH",
        "/api/v1/sites/{site_id}",
        permission("stations:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/sites/{w.rows['site_a']}", {"name": "Site A"}),
    ),
    Case(
        "DELETE",
        "/api/v1/sites/{site_id}",
        permission("stations:write", own=204, other=404),
        lambda w, c: _fresh_site_call(w),
    ),
    # ---- site load management -------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/sites/{site_id}/load",
        permission("stations:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/sites/{w.rows['load_site_a']}/load"),
    ),
    Case(
        "PUT",
        "/api/v1/sites/{site_id}/load",
        permission("stations:write", own=200, other=404),
        lambda w, c: Call(
            f"/api/v1/sites/{w.rows['load_site_a']}/load",
            {"enabled": False, "limit": {"unit": "A", "value": 63}},
        ),
    ),
    Case(
        "GET",
        "/api/v1/sites/{site_id}/load/windows",
        permission("stations:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/sites/{w.rows['load_site_a']}/load/windows"),
    ),
    Case(
        "POST",
        "/api/v1/sites/{site_id}/load/windows",
        permission("stations:write", own=201, other=404),
        lambda w, c: Call(
            f"/api/v1/sites/{w.rows['load_site_a']}/load/windows",
            {
                "starts_at": "2099-01-01T00:00:00Z",
                "ends_at": "2099-01-01T01:00:00Z",
                "limit": {"unit": "kW", "value": 20},
            },
        ),
    ),
    Case(
        "DELETE",
        "/api/v1/sites/{site_id}/load/windows/{window_id}",
        permission("stations:write", own=204, other=404),
        lambda w, c: _fresh_window_call(w),
    ),
    Case(
        "GET",
        "/api/v1/sites/{site_id}/load/allocations",
        permission("stations:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/sites/{w.rows['load_site_a']}/load/allocations", params=PAGE),
    ),
    # ---- tariffs --------------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/tariffs",
        permission("tariffs:read", own=200, other=200),
        at("/api/v1/tariffs", **PAGE),
        check=tenant_rows("tariffs"),
    ),
    Case(
        "GET",
        "/api/v1/tariffs",
        permission("tariffs:read", own=404, other=200, platform=200),
        at("/api/v1/tariffs", tenant="bolt", **PAGE),
        variant="?tenant= another tenant",
        check=tenant_rows("tariffs"),
    ),
    Case(
        "POST",
        "/api/v1/tariffs",
        permission("tariffs:write", own=201, other=404),
        lambda w, c: Call(
            "/api/v1/tariffs",
            {"name": w.unique("Tariff "), "tariff": TARIFF, "tenant": w.tenants["a"]},
        ),
    ),
    Case(
        "GET",
        "/api/v1/tariffs/{tariff_id}",
        permission("tariffs:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/tariffs/{w.rows['tariff_a']}"),
    ),
    Case(
        "PUT",
        "/api/v1/tariffs/{tariff_id}",
        permission("tariffs:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/tariffs/{w.rows['tariff_a']}", {"name": "A", "tariff": TARIFF}),
    ),
    Case(
        "DELETE",
        "/api/v1/tariffs/{tariff_id}",
        permission("tariffs:write", own=204, other=404),
        lambda w, c: _fresh_tariff_call(w),
    ),
    Case(
        "GET",
        "/api/v1/tariffs/{tariff_id}/assignments",
        permission("tariffs:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/tariffs/{w.rows['tariff_a']}/assignments", params=PAGE),
    ),
    Case(
        "POST",
        "/api/v1/tariffs/{tariff_id}/assignments",
        permission("tariffs:write", own=201, other=404),
        lambda w, c: Call(
            f"/api/v1/tariffs/{w.rows['tariff_a']}/assignments",
            {"station_id": A_STATION, "token_group": w.unique("SEC-G")},
        ),
    ),
    Case(
        "POST",
        "/api/v1/tariffs/{tariff_id}/assignments",
        # a's tariff at b's station: a's callers do not see the station, b's not the tariff
        permission("tariffs:write", own=404, other=404),
        lambda w, c: Call(
            f"/api/v1/tariffs/{w.rows['tariff_a']}/assignments",
            {"station_id": B_STATION, "token_group": w.unique("SEC-G")},
        ),
        variant="at another tenant's station",
    ),
    Case(
        "DELETE",
        "/api/v1/tariff-assignments/{assignment_id}",
        permission("tariffs:write", own=204, other=404),
        lambda w, c: _fresh_assignment_call(w),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/connectors/{connector_id}/tariff",
        permission("tariffs:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/connectors/2/tariff"),
    ),
    Case(
        "PATCH",
        "/api/v1/stations/{charge_point_id}/connectors/{connector_id}",
        permission("stations:write", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/connectors/2", {"max_power_w": 22_000}),
    ),
    # ---- billing: receipts, the export, refunds and review decisions ----------------------------
    # session_done: the owner driver's completed, free session (a receipt, no payment, no review).
    # Operators need sessions:read or billing:read: no caller of the roster holds one without the
    # other.
    Case(
        "GET",
        "/api/v1/sessions/{session_id}/receipt",
        drivers_or("sessions:read", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: Call(f"/api/v1/sessions/{w.rows['session_done']}/receipt"),
    ),
    Case(
        "GET",
        "/api/v1/sessions/{session_id}/receipt",
        # the running session: no receipt yet, for whoever may see it
        drivers_or("sessions:read", owner=409, driver2=404, b_driver=404, own=409, other=404),
        lambda w, c: Call(f"/api/v1/sessions/{w.rows['session_a']}/receipt"),
        variant="of a running session",
    ),
    Case(
        "GET",
        "/api/v1/sessions/{session_id}/receipt.html",
        drivers_or("sessions:read", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: Call(f"/api/v1/sessions/{w.rows['session_done']}/receipt.html"),
    ),
    Case(
        "GET",
        "/api/v1/billing/sessions.csv",
        permission("billing:read", own=200, other=200),
        at("/api/v1/billing/sessions.csv", **EXPORT_PERIOD),
        check=check_export,
    ),
    Case(
        "POST",
        "/api/v1/sessions/{session_id}/refunds",
        # with the node's payment provider "none" nothing was captured: 409 "Nothing to refund"
        permission("billing:refund", own=409, other=404),
        lambda w, c: Call(f"/api/v1/sessions/{w.rows['session_done']}/refunds", {"amount": "1.00"}),
    ),
    Case(
        "POST",
        "/api/v1/sessions/{session_id}/billing-review",
        # session_done is not held for review: 409 "Not under review"
        permission("billing:refund", own=409, other=404),
        lambda w, c: Call(
            f"/api/v1/sessions/{w.rows['session_done']}/billing-review", {"decision": "waive"}
        ),
    ),
    # ---- a driver's card (the node's payment provider is "none") -------------------------------
    Case(
        "GET",
        "/api/v1/me/payment-method",
        drivers(owner=200, driver2=200, b_driver=200),
        at("/api/v1/me/payment-method"),
    ),
    Case(
        "POST",
        "/api/v1/me/payment-method/setup",
        # 409 "No card needed"
        drivers(owner=409, driver2=409, b_driver=409),
        at("/api/v1/me/payment-method/setup"),
    ),
    Case(
        "PUT",
        "/api/v1/me/payment-method",
        # 409 "No payment account"
        drivers(owner=409, driver2=409, b_driver=409),
        at("/api/v1/me/payment-method", {"paymentMethodId": "pm_x"}),
    ),
    Case(
        "DELETE",
        "/api/v1/me/payment-method",
        # 404 "No card"
        drivers(owner=404, driver2=404, b_driver=404),
        at("/api/v1/me/payment-method"),
    ),
    # ---- payment provider webhooks --------------------------------------------------------------
    # Authenticated by the provider's signature, not by a login: a header is not read there.
    Case(
        "POST",
        "/api/v1/payments/webhooks/{provider}",
        # the node's provider, "none", sends no webhooks: every event is invalid (400)
        public(400, credentials="ignored"),
        at("/api/v1/payments/webhooks/none", {"id": "evt_sec", "type": "payment_intent.canceled"}),
    ),
    Case(
        "POST",
        "/api/v1/payments/webhooks/{provider}",
        public(404, credentials="ignored"),
        at(
            "/api/v1/payments/webhooks/stripe", {"id": "evt_sec", "type": "payment_intent.canceled"}
        ),
        variant="a provider the node does not use",
    ),
    # ---- metrics (issue 5) ----------------------------------------------------------------------
    # Every tenant's figures: platform admins and the node key. Prometheus's own credential,
    # KILOWATT_METRICS_TOKEN, is not set on this node (tests/metrics covers it).
    Case("GET", "/metrics", platform_admins(200), at("/metrics")),
    # ---- analytics and troubleshooting (issue 5) ------------------------------------------------
    # The summary and time series need sessions:read and stations:read (no caller of the roster
    # holds one without the other); a tenant's caller gets their tenant's figures, not a 404.
    Case(
        "GET",
        "/api/v1/analytics/summary",
        permission("sessions:read", own=200, other=200),
        at("/api/v1/analytics/summary"),
    ),
    Case(
        "GET",
        "/api/v1/analytics/summary",
        permission("sessions:read", own=404, other=200, platform=200),
        at("/api/v1/analytics/summary", tenant="bolt"),
        variant="?tenant= another tenant",
    ),
    Case(
        "GET",
        "/api/v1/analytics/summary",
        permission("sessions:read", own=200, other=404),
        at("/api/v1/analytics/summary", station=A_STATION),
        variant="?station= of tenant a",
    ),
    Case(
        "GET",
        "/api/v1/analytics/timeseries",
        permission("sessions:read", own=200, other=200),
        at("/api/v1/analytics/timeseries", metric="sessions", bucket="day"),
    ),
    Case(
        "GET",
        "/api/v1/analytics/timeseries",
        permission("sessions:read", own=200, other=404),
        at("/api/v1/analytics/timeseries", metric="unlocks", station=A_STATION),
        variant="?station= of tenant a",
    ),
    Case(
        "GET",
        "/api/v1/analytics/uptime",
        permission("stations:read", own=200, other=200),
        at("/api/v1/analytics/uptime", **PAGE),
        check=station_rows("connectors", "charge_point_id"),
    ),
    Case(
        "GET",
        "/api/v1/analytics/uptime",
        permission("stations:read", own=200, other=404),
        at("/api/v1/analytics/uptime", station=A_STATION, limit=5),
        variant="?station= of tenant a",
        check=all_rows_of(A_STATION),
    ),
    Case(
        "GET",
        "/api/v1/analytics/uptime",
        permission("stations:read", own=404, other=200, platform=200),
        at("/api/v1/analytics/uptime", tenant="bolt", **PAGE),
        variant="?tenant= another tenant",
        check=station_rows("connectors", "charge_point_id"),
    ),
    Case(
        "POST",
        "/api/v1/analytics/exclusions",
        permission("stations:write", own=201, other=404),
        at(
            "/api/v1/analytics/exclusions",
            {
                "station": A_STATION,
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-01-01T01:00:00Z",
                "reason": "utility",
            },
        ),
    ),
    Case(
        "GET",
        "/api/v1/analytics/exclusions",
        permission("stations:read", own=200, other=200),
        lambda w, c: _exclusions_call(w),
        check=station_rows("exclusions", "station"),
    ),
    Case(
        "DELETE",
        "/api/v1/analytics/exclusions/{exclusion_id}",
        permission("stations:write", own=204, other=404),
        lambda w, c: _fresh_exclusion_call(w),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/health",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/health"),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/messages",
        permission("stations:read", own=200, other=404),
        at(
            f"/api/v1/stations/{A_STATION}/messages",
            action="StartTransaction",
            transaction_id=1,
            errors=False,
            limit=5,
        ),
        variant="searched",
    ),
    # ---- webhooks (issue 5) ---------------------------------------------------------------------
    # The world's subscriptions point at the node itself (404 at once): test-fires and
    # redeliveries answer 200 with a failed outcome; viewers do not see webhooks.
    Case(
        "GET",
        "/api/v1/webhooks",
        permission("webhooks:read", own=200, other=200),
        at("/api/v1/webhooks", **PAGE),
        check=tenant_rows("webhooks"),
    ),
    Case(
        "GET",
        "/api/v1/webhooks",
        permission("webhooks:read", own=404, other=200, platform=200),
        at("/api/v1/webhooks", tenant="bolt", **PAGE),
        variant="?tenant= another tenant",
        check=tenant_rows("webhooks"),
    ),
    Case(
        "POST",
        "/api/v1/webhooks",
        permission("webhooks:write", own=201, other=404),
        lambda w, c: Call(
            "/api/v1/webhooks",
            {"url": w.webhook_sink, "event_types": ["security.none"], "tenant": w.tenants["a"]},
        ),
    ),
    Case(
        "GET",
        "/api/v1/webhooks/{webhook_id}",
        permission("webhooks:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/{w.rows['webhook_a']}"),
    ),
    Case(
        "PATCH",
        "/api/v1/webhooks/{webhook_id}",
        permission("webhooks:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/{w.rows['webhook_a']}", {"description": "A"}),
    ),
    Case(
        "DELETE",
        "/api/v1/webhooks/{webhook_id}",
        permission("webhooks:write", own=204, other=404),
        lambda w, c: _fresh_webhook_call(w),
    ),
    Case(
        "POST",
        "/api/v1/webhooks/{webhook_id}/rotate-secret",
        permission("webhooks:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/{w.rows['webhook_a']}/rotate-secret"),
    ),
    Case(
        "GET",
        "/api/v1/webhooks/{webhook_id}/deliveries",
        permission("webhooks:read", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/{w.rows['webhook_a']}/deliveries", params=PAGE),
    ),
    Case(
        "POST",
        "/api/v1/webhooks/{webhook_id}/test",
        permission("webhooks:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/{w.rows['webhook_a']}/test"),
    ),
    Case(
        "POST",
        "/api/v1/webhooks/deliveries/{delivery_id}/retry",
        permission("webhooks:write", own=200, other=404),
        lambda w, c: Call(f"/api/v1/webhooks/deliveries/{w.rows['delivery_a']}/retry"),
    ),
    # ---- firmware and diagnostics (issue 7) ------------------------------------------------------
    # Files and campaigns: reading stations:read, changing stations:write; diagnostics requests
    # and their files commands:send. Chargers' routes are public: the signed link is the
    # credential, so a header is not read there.
    Case(
        "POST",
        "/api/v1/firmware",
        permission("stations:write", own=201, other=201),
        at("/api/v1/firmware", {"image": "bytes"}, name="matrix.bin"),
    ),
    Case(
        "GET",
        "/api/v1/firmware",
        permission("stations:read", own=200, other=200),
        firmware_rows.files_call,
        check=tenant_rows("firmware files"),
    ),
    Case(
        "GET",
        "/api/v1/firmware/{file_id}",
        permission("stations:read", own=200, other=404),
        lambda w, c: _firmware_file_call(w),
    ),
    Case(
        "DELETE",
        "/api/v1/firmware/{file_id}",
        permission("stations:write", own=204, other=404),
        lambda w, c: _fresh_firmware_call(w),
    ),
    Case(
        "POST",
        "/api/v1/firmware/campaigns",
        permission("stations:write", own=201, other=404),
        firmware_rows.campaign_body,
    ),
    Case(
        "GET",
        "/api/v1/firmware/campaigns",
        permission("stations:read", own=200, other=200),
        firmware_rows.campaigns_call,
        check=tenant_rows("firmware campaigns"),
    ),
    Case(
        "GET",
        "/api/v1/firmware/campaigns/{campaign_id}",
        permission("stations:read", own=200, other=404),
        lambda w, c: _campaign_call(w, ""),
    ),
    Case(
        "POST",
        "/api/v1/firmware/campaigns/{campaign_id}/close",
        permission("stations:write", own=200, other=404),
        lambda w, c: _campaign_call(w, "/close"),
    ),
    Case("GET", "/firmware/{file_id}/{name}", INFRA, firmware_rows.download_call),
    Case(
        "PUT",
        "/diagnostics/{token}",
        public(201, credentials="ignored"),
        firmware_rows.upload_call("/diagnostics/{}"),
    ),
    Case(
        "POST",
        "/diagnostics/{token}",
        public(201, credentials="ignored"),
        firmware_rows.upload_call("/diagnostics/{}"),
    ),
    Case(
        "PUT",
        "/diagnostics/{token}/{filename}",
        public(201, credentials="ignored"),
        firmware_rows.upload_call("/diagnostics/{}/diag.log"),
    ),
    Case(
        "POST",
        "/diagnostics/{token}/{filename}",
        public(201, credentials="ignored"),
        firmware_rows.upload_call("/diagnostics/{}/diag.log"),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/diagnostics",
        permission("commands:send", own=201, other=404),
        lambda w, c: firmware_rows.diagnostics_call(json={}),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/diagnostics",
        permission("stations:read", own=200, other=404),
        lambda w, c: firmware_rows.diagnostics_call(),
    ),
    Case(
        "GET",
        "/api/v1/diagnostics/{request_id}/file",
        permission("commands:send", own=200, other=404),
        firmware_rows.received_file_call,
    ),
    # ---- security whitepaper: logs, signed firmware, events, certificates, keys (issue 8) -------
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/logs",
        permission("commands:send", own=201, other=404),
        lambda w, c: firmware_rows.logs_call(json={"log_type": "SecurityLog"}),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/logs",
        permission("stations:read", own=200, other=404),
        lambda w, c: firmware_rows.logs_call(),
    ),
    Case(
        "GET",
        "/api/v1/logs/{request_id}",
        permission("stations:read", own=200, other=404),
        firmware_rows.log_call,
    ),
    Case(
        "GET",
        "/api/v1/logs/{request_id}/file",
        permission("commands:send", own=200, other=404),
        firmware_rows.log_file_call,
    ),
    Case(
        "PUT",
        "/logs/{token}",
        public(201, credentials="ignored"),
        firmware_rows.log_upload_call("/logs/{}"),
    ),
    Case(
        "POST",
        "/logs/{token}",
        public(201, credentials="ignored"),
        firmware_rows.log_upload_call("/logs/{}"),
    ),
    Case(
        "PUT",
        "/logs/{token}/{filename}",
        public(201, credentials="ignored"),
        firmware_rows.log_upload_call("/logs/{}/security.log"),
    ),
    Case(
        "POST",
        "/logs/{token}/{filename}",
        public(201, credentials="ignored"),
        firmware_rows.log_upload_call("/logs/{}/security.log"),
    ),
    Case(
        "PUT",
        "/api/v1/firmware/{file_id}/signature",
        # the signature does not match the file: refused after the caller was let in
        permission("stations:write", own=422, other=404),
        lambda w, c: _firmware_signature_call(w),
    ),
    Case(
        "GET",
        "/api/v1/security-events",
        permission("stations:read", own=200, other=200),
        at("/api/v1/security-events"),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/security-events",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/security-events"),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/certificates",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/certificates"),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/rotate-key",
        permission("stations:write", own=202, other=404),
        at(f"/api/v1/stations/{A_SPARE}/rotate-key", wait=0),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/security-profile",
        # this node serves no TLS: raising a station to profile 2 cannot be done here
        permission("stations:write", own=409, other=404),
        at(f"/api/v1/stations/{A_SPARE}/security-profile", {"security_profile": 2}, wait=0),
    ),
    # ---- live events (issue 5) ------------------------------------------------------------------
    # Endless streams, which this table's one-shot requests cannot call: tests/live/test_events.py
    # checks who sees which events, and that a missing or bad credential is a 401 / 1008.
    Case(
        "GET",
        "/api/v1/events",
        None,
        covered_by="tests/live/test_events.py::test_the_stream_needs_valid_credentials",
    ),
    Case(
        "WEBSOCKET",
        "/api/v1/events",
        None,
        covered_by="tests/live/test_events.py::test_websocket_authenticates_with_a_first_message",
    ),
    # ---- reservations (issue 7) -----------------------------------------------------------------
    Case(
        "POST",
        "/api/v1/reservations",
        # drivers reserve with their own card; other tenants do not see SEC-A-CP1 (404)
        drivers_or("reservations:write", owner=201, driver2=201, b_driver=404, own=201, other=404),
        lambda w, c: _reservation_call(w, c),
    ),
    Case(
        "GET",
        "/api/v1/reservations",
        drivers_or("reservations:read", owner=200, driver2=200, b_driver=200, own=200, other=200),
        lambda w, c: _reservations_list(w),
        check=reservation_rows.check_reservations,
    ),
    Case(
        "GET",
        "/api/v1/reservations/{reservation_id}",
        drivers_or("reservations:read", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: _reservation_a(w),
    ),
    Case(
        "DELETE",
        "/api/v1/reservations/{reservation_id}",
        drivers_or("reservations:write", owner=200, driver2=404, b_driver=404, own=200, other=404),
        lambda w, c: _fresh_reservation_call(w),
    ),
    # ---- local authorization lists (issue 7) ----------------------------------------------------
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/local-list",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/local-list"),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/local-list/entries",
        permission("tokens:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/local-list/entries"),
    ),
    Case(
        "PATCH",
        "/api/v1/stations/{charge_point_id}/local-list",
        permission("stations:write", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/local-list", {"token_group": None}),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/local-list/sync",
        permission("commands:send", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/local-list/sync", {}),
    ),
    # ---- smart charging (issue 7) -----------------------------------------------------------------
    # Reading stations:read (the composite schedule too: it changes nothing on the station);
    # setting, clearing and limiting commands:send. The lib charge point answers these calls
    # with a CALLERROR, which is a 200 with the outcome, like the commands API.
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/charging-profiles",
        permission("commands:send", own=200, other=404),
        at(
            f"/api/v1/stations/{A_STATION}/charging-profiles",
            {"connector_id": 1, "profile": SMART_CHARGING_PROFILE},
            wait=5,
        ),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/charging-profiles",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/charging-profiles"),
    ),
    Case(
        "DELETE",
        "/api/v1/stations/{charge_point_id}/charging-profiles/{profile_id}",
        permission("commands:send", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/charging-profiles/1", wait=5),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/charging-profiles/clear",
        permission("commands:send", own=200, other=404),
        at(
            f"/api/v1/stations/{A_STATION}/charging-profiles/clear",
            {"purpose": "TxProfile"},
            wait=5,
        ),
    ),
    Case(
        "POST",
        "/api/v1/stations/{charge_point_id}/limit",
        permission("commands:send", own=200, other=404),
        at(
            f"/api/v1/stations/{A_STATION}/limit",
            {"connector_id": 0, "limit": 32, "unit": "A"},
            wait=5,
        ),
    ),
    Case(
        "GET",
        "/api/v1/stations/{charge_point_id}/composite-schedule",
        permission("stations:read", own=200, other=404),
        at(f"/api/v1/stations/{A_STATION}/composite-schedule", connector=1, duration=60, wait=5),
    ),
)


async def _refresh_call(world: World, path: str) -> Call:
    return Call(path, {"refresh_token": await world.fresh_refresh_token("driver")})


async def _firmware_file_call(world: World) -> Call:
    return Call(f"/api/v1/firmware/{await firmware_rows.file_of(world)}")


async def _firmware_signature_call(world: World) -> Call:
    body = {"signing_certificate": "not a certificate", "signature": "AAAA"}
    return Call(f"/api/v1/firmware/{await firmware_rows.file_of(world)}/signature", body)


async def _fresh_firmware_call(world: World) -> Call:
    return Call(f"/api/v1/firmware/{await firmware_rows.fresh_file(world)}")


async def _campaign_call(world: World, suffix: str) -> Call:
    return Call(f"/api/v1/firmware/campaigns/{await firmware_rows.campaign_of(world)}{suffix}")


async def _fresh_key_call(world: World) -> Call:
    return Call(f"/api/v1/api-keys/{await world.fresh_api_key('a')}")


async def _fresh_site_call(world: World) -> Call:
    return Call(f"/api/v1/sites/{await world.fresh_site('a')}")


async def _fresh_window_call(world: World) -> Call:
    site_id = world.rows["load_site_a"]
    return Call(f"/api/v1/sites/{site_id}/load/windows/{await world.fresh_window(site_id)}")


async def _fresh_tariff_call(world: World) -> Call:
    return Call(f"/api/v1/tariffs/{await world.fresh_tariff('a')}")


async def _fresh_webhook_call(world: World) -> Call:
    return Call(f"/api/v1/webhooks/{await world.fresh_webhook('a')}")


async def _fresh_assignment_call(world: World) -> Call:
    return Call(f"/api/v1/tariff-assignments/{await world.fresh_assignment('a')}")


async def _fresh_exclusion(world: World, station: str) -> int:
    """A new outage exclusion (an hour of maintenance) at ``station``."""
    from datetime import timedelta

    from kilowatt.analytics.models import OutageExclusion
    from security.world import now

    async with world.node.sessions() as db:
        row = OutageExclusion(
            station_id=world.stations[station],
            starts_at=now() - timedelta(hours=2),
            ends_at=now() - timedelta(hours=1),
            reason="maintenance",
            created_at=now(),
        )
        db.add(row)
        await db.commit()
        return int(row.id)


async def _fresh_exclusion_call(world: World) -> Call:
    return Call(f"/api/v1/analytics/exclusions/{await _fresh_exclusion(world, A_STATION)}")


async def _exclusions_call(world: World) -> Call:
    """The exclusions list, with one of each tenant's in it (so that each caller sees some)."""
    for station in (A_STATION, B_STATION):
        await _fresh_exclusion(world, station)
    return Call("/api/v1/analytics/exclusions", params=PAGE)


def _tenant_call(world: World) -> Call:
    slug = world.unique("tenant-")
    return Call("/api/v1/tenants", {"name": f"Tenant {slug}", "slug": slug})


async def _own_card_call(world: World, template: str) -> Call:
    """A new card of the owner driver, at ``template`` (``{}`` is its id tag)."""
    return Call(template.format(await world.fresh_card("driver")))


async def _fresh_session_call(world: World, template: str, *, seed: bool = False) -> Call:
    """A new pending session of the owner driver: ended through ``template``."""
    session_id = await world.fresh_session("driver")
    if seed:
        return Call(template, {"ChargingSessionId": session_id})
    return Call(template.format(session_id))


async def _reservation_call(world: World, caller: Caller) -> Call:
    return Call("/api/v1/reservations", await reservation_rows.reservation_body(world, caller))


async def _reservations_list(world: World) -> Call:
    await reservation_rows.ensure_reservations(world)
    return Call("/api/v1/reservations", params=PAGE)


async def _reservation_a(world: World) -> Call:
    await reservation_rows.ensure_reservations(world)
    return Call(f"/api/v1/reservations/{world.rows['reservation_a']}")


async def _fresh_reservation_call(world: World) -> Call:
    return Call(f"/api/v1/reservations/{await reservation_rows.fresh_reservation(world)}")


def expected_statuses(case: Case) -> dict[str, int]:
    assert case.access is not None
    return {caller.name: case.access.expected(caller) for caller in CALLERS}


def render() -> str:
    """The whole matrix as a Markdown table (for reviews and docs)."""
    names = [c.name for c in CALLERS]
    lines = [
        "| endpoint | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for case in TABLE:
        if case.access is None:
            lines.append(f"| {case.id} | see `{case.covered_by}` |" + " |" * (len(names) - 1))
            continue
        statuses = expected_statuses(case)
        lines.append(f"| {case.id} | " + " | ".join(str(statuses[n]) for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
