"""Composition root: database, message log, gateway, services and API — the only place that wires."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kilowatt import __version__, metrics
from kilowatt.analytics import api as analytics_api
from kilowatt.api import body_limit, problems
from kilowatt.auth import api as auth_api
from kilowatt.billing import api as billing_api
from kilowatt.billing import tariff_api
from kilowatt.billing.payment_service import Payments
from kilowatt.billing.payments.base import PaymentProvider
from kilowatt.billing.payments.none import NoPaymentProvider
from kilowatt.billing.payments.stripe_provider import StripeProvider
from kilowatt.billing.service import BillingPolicy
from kilowatt.commands import api as commands_api
from kilowatt.commands.service import CommandService
from kilowatt.config import Settings
from kilowatt.dashboard import web
from kilowatt.db import create_engine, session_factory
from kilowatt.events import EventBus
from kilowatt.firmware import api as firmware_api
from kilowatt.firmware import security_api as firmware_security_api
from kilowatt.firmware.manager import FirmwareManager
from kilowatt.gateway import tls
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.gateway.server import Gateway
from kilowatt.journal import reconcile
from kilowatt.journal.durability import Durability
from kilowatt.live import api as live_api
from kilowatt.live.capture import EventSession, session_info
from kilowatt.live.progress import SessionProgress
from kilowatt.load_management import api as load_api
from kilowatt.load_management.manager import LoadManager
from kilowatt.local_lists import api as local_lists_api
from kilowatt.local_lists.worker import LocalLists
from kilowatt.logs import RequestIds
from kilowatt.messagelog import repository as message_log_repository
from kilowatt.messagelog.writer import MessageLogWriter
from kilowatt.metrics import Metrics
from kilowatt.migrate import upgrade
from kilowatt.reservations import api as reservations_api
from kilowatt.reservations.controller import expire_reservations
from kilowatt.security import api as security_api
from kilowatt.security import ca as station_ca
from kilowatt.security.signer import CertificateSigner
from kilowatt.sessions import api as sessions_api
from kilowatt.sessions import ocpp_core_api, seed_api
from kilowatt.sessions.controller import ChargingSessions
from kilowatt.sites import api as sites_api
from kilowatt.smart_charging import api as smart_charging_api
from kilowatt.smart_charging.service import SmartCharging
from kilowatt.stations import api as stations_api
from kilowatt.stations import repository as station_repository
from kilowatt.stations.service import VendorHook
from kilowatt.tenants import api as tenants_api
from kilowatt.tenants import service as tenants
from kilowatt.tokens import api as tokens_api
from kilowatt.transactions import api as transactions_api
from kilowatt.users import api as users_api
from kilowatt.webhooks import api as webhooks_api
from kilowatt.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)


@dataclass
class Kilowatt:
    """Everything a running node holds; reachable from requests as ``app.state.kilowatt``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: ConnectionRegistry
    message_log: MessageLogWriter
    gateway: Gateway
    commands: CommandService
    charging_sessions: ChargingSessions
    bus: EventBus
    payments: Payments
    webhooks: WebhookDispatcher
    metrics: Metrics
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    vendor_hooks: dict[str, VendorHook] | None = None,
) -> FastAPI:
    """The node's ASGI app; ``vendor_hooks`` answer incoming DataTransfer by vendorId."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        if migrate:
            await upgrade(url)
        engine = create_engine(url)
        bus = EventBus()
        node_metrics = Metrics()
        bus.observer = node_metrics.bus_publish_seconds.observe
        directory: dict[int, tuple[str, int]] = {}
        sessions = session_factory(
            engine, sync_session_class=EventSession, info=session_info(bus, directory)
        )
        registry = ConnectionRegistry()
        message_log = MessageLogWriter(sessions)
        commands = CommandService(sessions, registry, metrics=node_metrics)
        payments = Payments(
            sessions,
            payment_provider(settings),
            bus,
            hold_amount=settings.payment_hold_amount,
            retry_delays=settings.payment_retry_delays,
        )
        node = Kilowatt(
            settings=settings,
            engine=engine,
            sessions=sessions,
            registry=registry,
            message_log=message_log,
            gateway=Gateway(
                settings, sessions, registry, message_log, vendor_hooks, bus, metrics=node_metrics
            ),
            commands=commands,
            charging_sessions=ChargingSessions(
                sessions,
                commands,
                registry,
                evse_operator_id=settings.evse_operator_id,
                start_timeout=settings.start_timeout,
                connection_timeout=settings.connection_timeout,
                payments=payments,
                bus=bus,
                policy=BillingPolicy(settings.payment_provider, settings.billing_max_power_w),
                finalise_after=settings.billing_finalise_after,
            ),
            bus=bus,
            payments=payments,
            webhooks=WebhookDispatcher(sessions, bus, settings),
            metrics=node_metrics,
        )
        node.gateway.directory = directory
        started_at = datetime.now(UTC)
        async with sessions() as db:
            await station_repository.mark_all_offline(db, datetime.now(UTC))
            await tenants.default_tenant(db)
            await db.commit()
        # Durability (docs/durability.md): replay a journal left by the last run before any
        # station is served, then resolve sessions that run left half-way.
        durability = Durability(settings, sessions, bus, node_metrics, vendor_hooks or {})
        await durability.open()
        node.gateway.durability = durability
        await reconcile.after_restart(
            sessions,
            started_at=started_at,
            policy=BillingPolicy(settings.payment_provider, settings.billing_max_power_w),
        )
        node._tasks.append(asyncio.create_task(durability.run(), name="journal"))
        node._tasks.append(asyncio.create_task(message_log.run(), name="message-log"))
        node._tasks.append(
            asyncio.create_task(_prune_message_log(node), name="message-log-retention")
        )
        node._tasks.append(asyncio.create_task(_expire_sessions(node), name="session-expiry"))
        node._tasks.append(asyncio.create_task(payments.run(), name="payments"))
        node._tasks.append(asyncio.create_task(node.webhooks.run(), name="webhooks"))
        progress = SessionProgress(sessions, bus)
        node._tasks.append(asyncio.create_task(progress.run(), name="session-progress"))
        node._tasks.append(
            asyncio.create_task(expire_reservations(sessions), name="reservation-expiry")
        )
        local_lists = LocalLists(
            sessions,
            commands,
            registry,
            bus,
            wait=settings.call_timeout + 5,
            auto_enrol=settings.local_list_auto_enrol,
        )
        app.state.local_lists = local_lists
        node._tasks.append(asyncio.create_task(local_lists.worker.run(), name="local-lists"))
        load_manager = LoadManager(
            sessions,
            SmartCharging(sessions, commands),
            registry,
            bus,
            wait=settings.call_timeout + 5,
        )
        app.state.load_manager = load_manager
        node._tasks.append(asyncio.create_task(load_manager.run(), name="load-management"))
        firmware = FirmwareManager(sessions, commands, bus, settings)
        app.state.firmware = firmware
        node._tasks.append(asyncio.create_task(firmware.run(), name="firmware"))
        # The station CA: the configured one, or a development CA made on first run; a
        # configured one that cannot be read stops the start-up (docs/security-messages.md).
        station_ca.load(settings.data_dir, settings.station_ca_cert, settings.station_ca_key)
        signer = CertificateSigner(sessions, commands, bus, settings)
        node._tasks.append(asyncio.create_task(signer.run(), name="certificate-signer"))
        app.state.kilowatt = node
        try:
            yield
        finally:
            await node.gateway.shutdown()
            await node.gateway.group_commit.close()
            await node.commands.close()
            await node.webhooks.close()
            await message_log.close()
            for task in node._tasks:
                task.cancel()
            await asyncio.gather(*node._tasks, return_exceptions=True)
            durability.close()
            async with sessions() as db:
                await station_repository.mark_all_offline(db, datetime.now(UTC))
                await db.commit()
            await payments.provider.aclose()
            await engine.dispose()

    app = FastAPI(title="Kilowatt", version=__version__, lifespan=lifespan)
    problems.install(app)
    body_limit.install(app, settings.max_body_bytes)
    app.add_middleware(RequestIds)

    @app.websocket("/ocpp/{charge_point_id}")
    async def ocpp(websocket: WebSocket, charge_point_id: str) -> None:
        await app.state.kilowatt.gateway.serve(websocket, charge_point_id)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        node: Kilowatt = app.state.kilowatt
        return {"status": "ok", "version": __version__, "connected_stations": len(node.registry)}

    app.include_router(auth_api.router)
    app.include_router(auth_api.api_keys_router)
    app.include_router(users_api.router)
    app.include_router(tenants_api.router)
    app.include_router(stations_api.router)
    app.include_router(sites_api.router)
    app.include_router(load_api.router)
    app.include_router(commands_api.router)
    app.include_router(smart_charging_api.router)
    app.include_router(transactions_api.router)
    app.include_router(tokens_api.router)
    app.include_router(local_lists_api.router)
    app.include_router(tariff_api.router)
    app.include_router(billing_api.router)
    app.include_router(seed_api.router)
    app.include_router(sessions_api.router)
    app.include_router(ocpp_core_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(analytics_api.router)
    app.include_router(metrics.router)
    app.include_router(live_api.router)
    app.include_router(firmware_api.router)
    app.include_router(firmware_security_api.router)
    app.include_router(reservations_api.router)
    app.include_router(security_api.router)
    app.include_router(web.router)
    app.mount("/static", web.assets(), name="static")
    return app


def payment_provider(settings: Settings) -> PaymentProvider:
    if settings.payment_provider == "stripe":
        return StripeProvider(
            settings.stripe_api_key,
            webhook_secret=settings.stripe_webhook_secret or None,
            api_base=settings.stripe_api_base,
        )
    return NoPaymentProvider()


async def _prune_message_log(node: Kilowatt, every: float = 3600.0) -> None:
    """Keep the OCPP message log to its retention period (``KILOWATT_MESSAGE_LOG_RETENTION_DAYS``)."""
    retention = timedelta(days=node.settings.message_log_retention_days)
    while True:
        try:
            cutoff, removed, batch = datetime.now(UTC) - retention, 0, 10_000
            while True:  # in batches, so that SQLite's write lock is never held for long
                async with node.sessions() as db:
                    count = await message_log_repository.prune(db, cutoff, limit=batch)
                    await db.commit()
                removed += count
                if count < batch:
                    break
            if removed:
                log.info("message log: pruned %d frames older than %s", removed, retention)
        except Exception:
            log.exception("message log pruning failed; retrying later")
        await asyncio.sleep(every)


async def _expire_sessions(node: Kilowatt) -> None:
    """Accepted starts whose StartTransaction never came expire after the connection timeout."""
    every = max(1.0, min(30.0, node.settings.connection_timeout / 4))
    while True:
        await asyncio.sleep(every)
        try:
            expired = await node.charging_sessions.expire_stale()
            if expired:
                log.info("expired %d pending charging sessions", expired)
        except Exception:
            log.exception("session expiry failed; retrying later")


def uvicorn_config(app: FastAPI, settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port if port is None else port,
        # uvicorn's sans-I/O protocol, plus the client certificate in the scope with TLS.
        ws=tls.WebSocketProtocol,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        # The largest message a station may send, checked by the websockets protocol as the frame
        # arrives and again while inflating permessage-deflate (a deflate bomb stops at the limit);
        # over it the station is closed with 1009 (docs/connection-limits.md).
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=True,
        log_level=settings.log_level,
        log_config=None,  # kilowatt.logs configures the root logger; uvicorn's propagate to it
        lifespan="on",
        timeout_graceful_shutdown=10,
        **tls.uvicorn_options(settings),  # security profiles 2 and 3 (docs/security-profiles.md)
    )


class Server(uvicorn.Server):
    """uvicorn, but shutting down first closes every station with 1001 (going away).

    uvicorn's own shutdown would close them with 1012 before the app's lifespan runs.
    """

    started_at: float = 0.0
    handle_signals: bool = True

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.started_at = asyncio.get_running_loop().time()
        self.ready.set()

    @functools.cached_property
    def ready(self) -> asyncio.Event:
        """Set once the server listens (tests and the demo wait on it)."""
        return asyncio.Event()

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        port: int = self.servers[0].sockets[0].getsockname()[1]
        return port

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield

    async def shutdown(self, sockets: Any = None) -> None:
        node: Kilowatt | None = getattr(getattr(self.config.app, "state", None), "kilowatt", None)
        if node is not None:
            await node.gateway.shutdown()
        await super().shutdown(sockets=sockets)


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    await Server(uvicorn_config(app, settings)).serve()
