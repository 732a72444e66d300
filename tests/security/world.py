"""A running node with two tenants, everybody who calls its API, and rows of each of them.

Used by the authorization matrix (``tests/security``) and the OpenAPI fuzz run
(``tests/api_fuzz``). ``build_world`` serves a migrated database and sets up:

* tenants ``a`` (``acme``) and ``b`` (``bolt``); the users, API keys and forged credentials of
  ``security.callers.CALLERS``, each with the headers it presents (``world.headers[name]``);
* in ``a``: station ``SEC-A-CP1``, connected as an ``ocpp``-library charge point with 150
  available connectors, a running transaction of ``driver``'s card on connector 1 (so an RFID
  session of ``driver``), a finished one of ``driver2`` on connector 2, a command; an offline
  station ``SEC-A-SPARE`` where fresh sessions are made, and a completed, free session of
  ``driver`` there (``session_done``: it has a receipt); a site; a tariff, which applies on
  connector 2 of ``SEC-A-CP1`` only (from after its transaction there);
* in ``b``: station ``SEC-B-CP1``, connected, with a running transaction of ``b_driver``'s card,
  a command, a site and a tariff.

Rows that a request uses up (a session to end, a key to revoke, ...) are made fresh per call by
the ``fresh_*`` helpers, so that the callers of one endpoint do not depend on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from ocpp.v16 import call
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from kilowatt.app import Kilowatt, Server, create_app, uvicorn_config
from kilowatt.auth import api_keys
from kilowatt.auth import jwt as kw_jwt
from kilowatt.auth import service as auth
from kilowatt.auth.principal import Role
from kilowatt.billing import tariff_admin
from kilowatt.commands.models import Command
from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.events import Event
from kilowatt.load_management.models import SiteLimitWindow, SiteLoadConfig
from kilowatt.migrate import upgrade
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations import service as stations
from kilowatt.stations.models import Connector, Station
from kilowatt.tenants.models import Site
from kilowatt.tokens import service as tokens
from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction
from kilowatt.users import service as users
from kilowatt.users.models import User
from kilowatt.webhooks import service as webhooks
from kilowatt.webhooks.models import WebhookDelivery
from security import callers as forge
from security.callers import API_KEY, BY_NAME, CALLERS, USER

from support.ocpp_client import LibChargePoint, lib_charge_point
from support.server import API_KEY as NODE_KEY
from support.server import RELAXED_LIMITS, RunningServer

PASSWORD = "correct horse battery"
SLUGS = {"a": "acme", "b": "bolt"}
A_STATION, A_SPARE, B_STATION = "SEC-A-CP1", "SEC-A-SPARE", "SEC-B-CP1"
A_CONNECTORS = 250
CARDS = {"driver": "SEC-DRV-1", "driver2": "SEC-DRV2-1", "b_driver": "SEC-BDRV-1"}
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.35"}]}],
}


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return now().isoformat().replace("+00:00", "Z")


# ---- the database of one module -------------------------------------------------------------
@contextlib.asynccontextmanager
async def module_database(backend: str, template_url: str, directory: Path) -> AsyncIterator[str]:
    """A migrated, empty database for one test module, removed afterwards.

    SQLite: a copy of the session's migrated template. PostgreSQL: a new database next to the
    session's (``KILOWATT_TEST_DATABASE_URL``), migrated, and dropped at the end.
    """
    if backend == "sqlite":
        path = directory / "kilowatt.db"
        shutil.copyfile(make_url(template_url).database or "", path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    base = make_url(template_url)
    name = f"kw_security_{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql", database="postgres").render_as_string(False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = base.set(database=name).render_as_string(False)
    try:
        await upgrade(url)
        yield url
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# ---- the node ---------------------------------------------------------------------------------
def routes(app: FastAPI) -> list[Any]:
    """Every route the app serves, with routers included (FastAPI >= 0.165 nests them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "admin_api_key": NODE_KEY,
        "unknown_station_policy": UnknownStationPolicy.REJECT,
        "call_timeout": 5.0,
        "start_timeout": 5.0,
        "log_level": "warning",
        # The matrix tries many handshakes for one station id in a row: no connection limits.
        **RELAXED_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)


def make_app(settings: Settings) -> FastAPI:
    return create_app(settings, migrate=False)


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[RunningServer]:
    app = make_app(settings)
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


# ---- the world ----------------------------------------------------------------------------------
@dataclass
class World:
    server: RunningServer
    tenants: dict[str, int]  # "a" / "b" -> tenant id
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # caller -> its headers
    user_ids: dict[str, int] = field(default_factory=dict)  # user caller -> user id
    key_ids: dict[str, int] = field(default_factory=dict)  # API key caller -> key id
    stations: dict[str, int] = field(default_factory=dict)  # charge point id -> station id
    charge_points: dict[str, LibChargePoint] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)  # named rows (see build_world)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _connectors: itertools.count[int] = field(default_factory=lambda: itertools.count(3))
    _spare_connectors: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def node(self) -> Kilowatt:
        return self.server.node

    def slug(self, tenant: str) -> str:
        return SLUGS[tenant]

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial)}"

    def evse_id(self, charge_point_id: str, connector_id: int) -> str:
        operator = self.node.settings.evse_operator_id
        return f"{operator}*E{self.stations[charge_point_id]}*{connector_id}"

    def free_connector(self) -> int:
        """A connector of ``SEC-A-CP1`` that is Available and that no session has used."""
        number = next(self._connectors)
        assert number <= A_CONNECTORS, "SEC-A-CP1 ran out of free connectors: raise A_CONNECTORS"
        return number

    # ---- fresh rows ------------------------------------------------------------------------
    async def fresh_card(self, owner: str | None, tenant: str = "a") -> str:
        """A new Accepted card of ``tenant`` owned by the user caller ``owner`` (or nobody)."""
        id_tag = self.unique("SEC-C")
        async with self.node.sessions() as db:
            token = await tokens.create(
                db,
                self.tenants[tenant] if owner is None else await self._tenant_of(db, owner),
                id_tag,
            )
            if owner is not None:
                token.user_id = self.user_ids[owner]
            await db.commit()
        return id_tag

    async def _tenant_of(self, db: Any, caller: str) -> int:
        user = await db.get(User, self.user_ids[caller])
        assert user is not None and user.tenant_id is not None
        return int(user.tenant_id)

    async def fresh_session(self, owner: str = "driver") -> int:
        """A pending session of ``owner`` on the offline spare station (no transaction yet)."""
        id_tag = await self.fresh_card(owner)
        async with self.node.sessions() as db:
            token = await db.scalar(select(Token).where(Token.id_tag == id_tag))
            assert token is not None
            session = ChargingSession(
                tenant_id=token.tenant_id,
                user_id=self.user_ids[owner],
                token_id=token.id,
                id_tag=id_tag,
                station_id=self.stations[A_SPARE],
                connector_id=next(self._spare_connectors),
                origin="app",
                state="pending",
                start_status="Accepted",
                requested_at=now(),
            )
            db.add(session)
            await db.commit()
            return int(session.id)

    async def completed_session(self, owner: str = "driver") -> int:
        """A completed, free session of ``owner`` on the spare station (so it has a receipt)."""
        id_tag = await self.fresh_card(owner)
        ended = now()
        async with self.node.sessions() as db:
            token = await db.scalar(select(Token).where(Token.id_tag == id_tag))
            assert token is not None
            session = ChargingSession(
                tenant_id=token.tenant_id,
                user_id=self.user_ids[owner],
                token_id=token.id,
                id_tag=id_tag,
                station_id=self.stations[A_SPARE],
                connector_id=1,
                origin="app",
                state="completed",
                start_status="Accepted",
                requested_at=ended - timedelta(hours=1),
                started_at=ended - timedelta(minutes=59),
                ended_at=ended,
                meter_start_wh=1000,
                meter_stop_wh=3500,
                energy_wh=2500,
                reconciled=True,
                cost_status="none",
            )
            db.add(session)
            await db.commit()
            return int(session.id)

    async def fresh_api_key(self, tenant: str = "a") -> int:
        async with self.node.sessions() as db:
            row, _ = await auth.create_api_key(
                db,
                auth.node_principal(),
                name=self.unique("throwaway "),
                permissions=["stations:read"],
                tenant_slug=SLUGS[tenant],
            )
            await db.commit()
            return int(row.id)

    async def fresh_site(self, tenant: str = "a") -> int:
        async with self.node.sessions() as db:
            site = Site(tenant_id=self.tenants[tenant], name=self.unique("Site "))
            db.add(site)
            await db.commit()
            return int(site.id)

    async def fresh_load_site(self, tenant: str = "a") -> int:
        """A site with load management set up (and off: no station of the world is steered)."""
        site_id = await self.fresh_site(tenant)
        amps = Decimal(63)
        async with self.node.sessions() as db:
            db.add(
                SiteLoadConfig(
                    site_id=site_id,
                    enabled=False,
                    limit_l1_a=amps,
                    limit_l2_a=amps,
                    limit_l3_a=amps,
                    priorities={},
                )
            )
            await db.commit()
        return site_id

    async def fresh_window(self, site_id: int) -> int:
        now = datetime.now(UTC)
        async with self.node.sessions() as db:
            window = SiteLimitWindow(
                site_id=site_id,
                starts_at=now + timedelta(hours=1),
                ends_at=now + timedelta(hours=2),
                limit_l1_a=Decimal(32),
                limit_l2_a=Decimal(32),
                limit_l3_a=Decimal(32),
            )
            db.add(window)
            await db.commit()
            return int(window.id)

    async def fresh_tariff(self, tenant: str = "a") -> int:
        async with self.node.sessions() as db:
            tariff = await tariff_admin.create_tariff(
                db, self.tenants[tenant], name=self.unique("Tariff "), data=TARIFF
            )
            await db.commit()
            return int(tariff.id)

    async def fresh_assignment(self, tenant: str = "a") -> int:
        """A new assignment of ``tariff_<tenant>``, tenant-wide for a group of nobody's tokens."""
        async with self.node.sessions() as db:
            tariff = await tariff_admin.visible_tariff(db, self.rows[f"tariff_{tenant}"], None)
            assignment, _, _ = await tariff_admin.assign(
                db, tariff, token_group=self.unique("SEC-G")
            )
            await db.commit()
            return int(assignment.id)

    @property
    def webhook_sink(self) -> str:
        """Where the world's webhooks point: the node itself, which answers 404 at once."""
        return f"{self.server.http_url}/webhook-sink"

    async def fresh_webhook(self, tenant: str = "a") -> int:
        """A subscription of ``tenant`` to no event of the world (only test-fires reach it)."""
        async with self.node.sessions() as db:
            subscription = await webhooks.create_subscription(
                db, self.tenants[tenant], url=self.webhook_sink, event_types=["security.none"]
            )
            await db.commit()
            return int(subscription.id)

    async def failed_delivery(self, tenant: str = "a") -> int:
        """A failed delivery of ``webhook_<tenant>`` (a redelivery fails again: 404 at the sink)."""
        async with self.node.sessions() as db:
            event = Event("security.none", {}, tenant_id=self.tenants[tenant], id="sec-1", at=now())
            row = webhooks.delivery_row(
                self.rows[f"webhook_{tenant}"], event, webhooks.body_of(event), now()
            )
            delivery = WebhookDelivery(**row | {"state": "failed", "next_attempt_at": None})
            db.add(delivery)
            await db.commit()
            return int(delivery.id)

    async def fresh_refresh_token(self, user: str = "driver") -> str:
        async with self.node.sessions() as db:
            row = await db.get(User, self.user_ids[user])
            assert row is not None
            pair = await auth.issue_pair(db, self.node.settings, row, now=now())
            await db.commit()
            return str(pair.refresh_token)

    # ---- ground truth for the list checks ----------------------------------------------------
    async def session_owners(self, session_ids: list[int]) -> dict[int, tuple[int, int | None]]:
        """session id -> (tenant id, user id), read from the database."""
        if not session_ids:
            return {}
        async with self.node.sessions() as db:
            rows = await db.execute(
                select(
                    ChargingSession.id, ChargingSession.tenant_id, ChargingSession.user_id
                ).where(ChargingSession.id.in_(session_ids))
            )
            return {r.id: (r.tenant_id, r.user_id) for r in rows}

    async def station_tenants(self) -> dict[str, int]:
        """charge point id -> tenant id, of every station."""
        async with self.node.sessions() as db:
            rows = await db.execute(select(Station.charge_point_id, Station.tenant_id))
            return {r.charge_point_id: r.tenant_id for r in rows}

    async def cards_of(self, caller: str) -> set[str]:
        async with self.node.sessions() as db:
            rows = await db.scalars(
                select(Token.id_tag).where(Token.user_id == self.user_ids[caller])
            )
            return set(rows)


async def _make_user(world: World, name: str, role: Role, tenant: str | None) -> User:
    async with world.node.sessions() as db:
        user = await users.create_user(
            db,
            email=f"{name}@security.example",
            password=PASSWORD,
            role=role,
            tenant_id=None if tenant is None else world.tenants[tenant],
            name=name,
        )
        await db.commit()
        return user


async def _access_token(world: World, user_id: int) -> str:
    async with world.node.sessions() as db:
        user = await db.get(User, user_id)
        assert user is not None
        pair = await auth.issue_pair(db, world.node.settings, user, now=now())
        await db.commit()
        return str(pair.access_token)


async def _credentials(world: World) -> None:
    """Users, API keys and forged credentials of every caller of the roster."""
    for caller in CALLERS:
        if caller.kind == USER:
            assert caller.role is not None
            user = await _make_user(world, caller.name, caller.role, caller.tenant)
            world.user_ids[caller.name] = user.id
            token = await _access_token(world, user.id)
            world.headers[caller.name] = {"Authorization": f"Bearer {token}"}
        elif caller.kind == API_KEY:
            assert caller.tenant is not None
            async with world.node.sessions() as db:
                row, key = await auth.create_api_key(
                    db,
                    auth.node_principal(),
                    name=caller.name,
                    permissions=sorted(caller.permissions),
                    tenant_slug=SLUGS[caller.tenant],
                )
                await db.commit()
            world.key_ids[caller.name] = row.id
            world.headers[caller.name] = {"X-API-Key": key}
    world.headers["node"] = {"X-API-Key": NODE_KEY}
    world.headers["anonymous"] = {}

    secret = kw_jwt.signing_key(world.node.settings)
    platform = BY_NAME["platform"]
    claims = forge.access_claims(world.user_ids["platform"], None, str(platform.role))
    driver_token = world.headers["driver"]["Authorization"].removeprefix("Bearer ")
    disabled = await _make_user(world, "disabled_admin", Role.ADMIN, "a")
    disabled_token = await _access_token(world, disabled.id)
    async with world.node.sessions() as db:
        await db.execute(update(User).where(User.id == disabled.id).values(disabled_at=now()))
        revoked, revoked_key = await auth.create_api_key(
            db,
            auth.node_principal(),
            name="revoked",
            permissions=sorted(BY_NAME["a_key_all"].permissions),
            tenant_slug="acme",
        )
        revoked.revoked_at = now()
        await db.commit()
    _, prefix, _ = api_keys.generate()
    bearer = {
        "expired": forge.expired(claims, secret),
        "tampered": forge.tampered(
            driver_token, sub=str(world.user_ids["platform"]), role="platform_admin", tid=None
        ),
        "alg_none": forge.alg_none(claims),
        "other_secret": forge.other_secret(claims),
        "refresh_as_access": await world.fresh_refresh_token("platform"),
        "disabled_user": disabled_token,
    }
    for name, token in bearer.items():
        world.headers[name] = {"Authorization": f"Bearer {token}"}
    world.headers["revoked_key"] = {"X-API-Key": revoked_key}
    world.headers["unknown_key"] = {"X-API-Key": f"kw_{prefix}_{secrets.token_urlsafe(32)}"}
    world.headers["basic_scheme"] = {"Authorization": "Basic ZHJpdmVyOnBhc3N3b3Jk"}
    missing = {c.name for c in CALLERS} - set(world.headers)
    assert not missing, f"no credentials for {missing}"


async def _station(world: World, charge_point_id: str, tenant: str, connectors: int) -> None:
    async with world.node.sessions() as db:
        station = await stations.register(
            db, charge_point_id, tenant_id=world.tenants[tenant], connectors=connectors
        )
        await db.commit()
        world.stations[charge_point_id] = station.id


async def _boot(cp: LibChargePoint, connectors: tuple[int, ...]) -> None:
    await cp.call(call.BootNotification(charge_point_model="Sec-1", charge_point_vendor="Kilowatt"))
    for connector_id in (0, *connectors):
        await cp.call(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status="Available"
            )
        )


async def _start(cp: LibChargePoint, connector_id: int, id_tag: str, meter: int = 1000) -> int:
    started = await cp.call(
        call.StartTransaction(
            connector_id=connector_id, id_tag=id_tag, meter_start=meter, timestamp=now_iso()
        )
    )
    assert started.id_tag_info["status"] == "Accepted", started
    await cp.call(
        call.MeterValues(
            connector_id=connector_id,
            transaction_id=started.transaction_id,
            meter_value=[
                {
                    "timestamp": now_iso(),
                    "sampledValue": [
                        {"value": str(meter + 1500), "measurand": "Energy.Active.Import.Register"},
                        {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        )
    )
    return int(started.transaction_id)


async def _command(world: World, charge_point_id: str) -> str:
    command = await world.node.commands.send(
        charge_point_id, "GetConfiguration", {}, wait=30.0, requested_by="node"
    )
    assert command.state == "completed", command.state
    return str(command.id)


@contextlib.asynccontextmanager
async def build_world(
    database_url: str, data_dir: Path, *, charge_points: bool = True, **overrides: Any
) -> AsyncIterator[World]:
    """Serve ``database_url`` (migrated, empty) and fill it as the module docstring says."""
    async with serve(settings_for(database_url, data_dir, **overrides)) as server:
        async with server.node.sessions() as db:
            acme = await users.create_tenant(db, name="Acme Charging", slug="acme")
            bolt = await users.create_tenant(db, name="Bolt Energy", slug="bolt")
            await db.commit()
        world = World(server, {"a": acme.id, "b": bolt.id})
        await _credentials(world)
        for owner, id_tag in CARDS.items():
            async with server.node.sessions() as db:
                tenant = await world._tenant_of(db, owner)
                token = await tokens.create(db, tenant, id_tag)
                token.user_id = world.user_ids[owner]
                await db.commit()
        world.rows["a_staff"] = (await _make_user(world, "a_staff", Role.VIEWER, "a")).id
        world.rows["a_admin2"] = (await _make_user(world, "a_admin2", Role.ADMIN, "a")).id
        world.rows["fleet_card"] = await world.fresh_card(None, "a")
        world.rows["key_a"] = await world.fresh_api_key("a")
        world.rows["key_b"] = await world.fresh_api_key("b")
        world.rows["site_a"] = await world.fresh_site("a")
        world.rows["site_b"] = await world.fresh_site("b")
        world.rows["load_site_a"] = await world.fresh_load_site("a")
        world.rows["tariff_a"] = await world.fresh_tariff("a")
        world.rows["tariff_b"] = await world.fresh_tariff("b")
        world.rows["webhook_a"] = await world.fresh_webhook("a")
        world.rows["webhook_b"] = await world.fresh_webhook("b")
        world.rows["delivery_a"] = await world.failed_delivery("a")
        await _station(world, A_STATION, "a", A_CONNECTORS)
        await _station(world, A_SPARE, "a", 1)
        await _station(world, B_STATION, "b", 2)
        world.rows["session_done"] = await world.completed_session("driver")
        async with contextlib.AsyncExitStack() as stack:
            if charge_points:
                a_cp = await stack.enter_async_context(
                    lib_charge_point(server.ws_url(A_STATION), A_STATION)
                )
                b_cp = await stack.enter_async_context(
                    lib_charge_point(server.ws_url(B_STATION), B_STATION)
                )
                world.charge_points = {A_STATION: a_cp, B_STATION: b_cp}
                await _boot(a_cp, (1, 2))
                await _boot(b_cp, (1, 2))
                world.rows["tx_a"] = await _start(a_cp, 1, CARDS["driver"])
                tx_done = await _start(a_cp, 2, CARDS["driver2"])
                await a_cp.call(
                    call.StopTransaction(
                        meter_stop=4000, timestamp=now_iso(), transaction_id=tx_done
                    )
                )
                world.rows["tx_a_done"] = tx_done
                world.rows["tx_b"] = await _start(b_cp, 1, CARDS["b_driver"])
                world.rows["command_a"] = await _command(world, A_STATION)
                world.rows["command_b"] = await _command(world, B_STATION)
                async with server.node.sessions() as db:
                    # The rest of SEC-A-CP1's connectors: free for the starts of the matrix.
                    await db.execute(
                        update(Connector)
                        .where(
                            Connector.station_id == world.stations[A_STATION],
                            Connector.connector_id > 2,
                        )
                        .values(status="Available", status_at=now())
                    )
                    session = await db.scalar(
                        select(ChargingSession).where(
                            ChargingSession.transaction_id == world.rows["tx_a"]
                        )
                    )
                    assert session is not None and session.user_id == world.user_ids["driver"]
                    world.rows["session_a"] = session.id
                    assert await db.scalar(
                        select(Transaction.id).where(Transaction.id == world.rows["tx_b"])
                    )
                    assert await db.scalar(
                        select(Command.id).where(Command.id == world.rows["command_a"])
                    )
                    await db.commit()
            # tariff_a applies on SEC-A-CP1's connector 2 (after its transaction there: the
            # sessions of the world and of the matrix's starts stay free of charge).
            async with server.node.sessions() as db:
                tariff = await tariff_admin.visible_tariff(db, world.rows["tariff_a"], None)
                await tariff_admin.assign(
                    db, tariff, station_ref=world.stations[A_STATION], connector_id=2
                )
                await db.commit()
            try:
                yield world
            finally:
                world.charge_points = {}


__all__ = ["A_SPARE", "A_STATION", "B_STATION", "CARDS", "World", "build_world", "module_database"]
