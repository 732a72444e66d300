"""``kilowatt demo``: a node on embedded defaults with simulated stations charging through it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from kilowatt.app import Server, create_app, uvicorn_config
from kilowatt.auth.passwords import hash_password_async
from kilowatt.auth.principal import Role
from kilowatt.billing.models import Tariff, TariffAssignment
from kilowatt.billing.service import scope_key
from kilowatt.config import Settings
from kilowatt.sessions.controller import evse_id
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations import repository as station_repository
from kilowatt.stations.models import Connector, Station
from kilowatt.tenants import service as tenants
from kilowatt.tokens import service as tokens
from kilowatt.transactions.models import Transaction
from kilowatt.users import repository as user_repository
from kilowatt.users import service as users


def demo_tags(stations: int) -> list[str]:
    """One card per connector, so that drivers never meet ConcurrentTx."""
    return [f"DEMO-TAG-{n:04d}" for n in range(1, 2 * stations + 1)]


APP_STATION = "DEMO-APP-0001"
DEMO_ADMIN = "admin@kilowatt.local"
DEMO_DRIVER = "driver@kilowatt.local"

# What the demo network charges (OCPI 2.2.1 shape; docs/billing.md): day and night energy
# prices, a session fee, and idle time after an hour's grace. Prices exclude VAT.
DEMO_TARIFF = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 60,
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.42", "step_size": 1},
                {"type": "FLAT", "price": "0.84"},
                {"type": "PARKING_TIME", "price": "5.04", "step_size": 60},
            ],
            "restrictions": {"start_time": "07:00", "end_time": "22:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.34", "step_size": 1},
                {"type": "FLAT", "price": "0.84"},
            ]
        },
    ],
}


def _logins_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-logins.json"


def _remembered_logins(settings: Settings) -> dict[str, str]:
    """The demo users' generated passwords, kept (owner-readable only) in the data directory so
    that every run of the demo can say how to sign in to the dashboard and the driver app."""
    try:
        found = json.loads(_logins_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _remember_logins(settings: Settings, logins: dict[str, str]) -> None:
    path = _logins_file(settings)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(logins, indent=2) + "\n")


async def _seed(node: Any, tags: list[str], known: dict[str, str]) -> dict[str, str]:
    """Demo cards owned by a demo driver, and an admin; the passwords generated for them (a
    demo user whose password is not ``known`` gets a new one)."""
    created: dict[str, str] = {}
    async with node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        for email, role in ((DEMO_ADMIN, Role.ADMIN), (DEMO_DRIVER, Role.DRIVER)):
            user = await user_repository.user_by_email(db, email)
            if user is None:
                password = secrets.token_urlsafe(12)
                await users.create_user(
                    db, email=email, password=password, role=role, tenant_id=tenant.id
                )
                created[email] = password
            elif email not in known:
                created[email] = secrets.token_urlsafe(12)
                user.password_hash = await hash_password_async(created[email])
        driver = await user_repository.user_by_email(db, DEMO_DRIVER)
        assert driver is not None
        for tag in tags:
            token = await tokens.find(db, tenant.id, tag)
            if token is None:
                token = await tokens.create(db, tenant.id, tag)
            token.user_id = token.user_id or driver.id
        if await db.scalar(select(func.count()).select_from(Tariff)) == 0:
            tariff = Tariff(
                tenant_id=tenant.id, name="Demo public tariff", currency="EUR", spec=DEMO_TARIFF
            )
            db.add(tariff)
            await db.flush()
            db.add(
                TariffAssignment(tenant_id=tenant.id, tariff_id=tariff.id, scope_key=scope_key())
            )
        await db.commit()
    return created


async def _summary(node: Any) -> str:
    async with node.sessions() as db:
        stations = await db.scalar(select(func.count()).select_from(Station)) or 0
        charging = (
            await db.scalar(
                select(func.count()).select_from(Connector).where(Connector.status == "Charging")
            )
            or 0
        )
        running = (
            await db.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.stop_received_at.is_(None))
            )
            or 0
        )
        done = (
            await db.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.stop_received_at.is_not(None))
            )
            or 0
        )
        energy = (
            await db.scalar(
                select(
                    func.coalesce(func.sum(Transaction.last_meter_wh - Transaction.meter_start), 0)
                )
            )
            or 0
        )
        billed = await db.scalar(
            select(func.coalesce(func.sum(ChargingSession.cost_total), 0)).where(
                ChargingSession.cost_status == "final"
            )
        )
    return (
        f"stations online {len(node.registry)}/{stations} · connectors charging {charging} · "
        f"transactions running {running}, finished {done} · energy delivered {int(energy) / 1000:.2f} kWh"
        f" · billed {float(billed or 0):.2f} EUR"
    )


async def _simulator(url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kilowatt", "simulate", "--url", url, *args
    )


async def _evse_ids(node: Any, charge_point_id: str, connectors: int = 2) -> list[str]:
    async with node.sessions() as db:
        station = await station_repository.by_charge_point_id(db, charge_point_id)
        assert station is not None
    return [evse_id(node.settings.evse_operator_id, station, n) for n in range(1, connectors + 1)]


async def run_demo(settings: Settings, *, stations: int, duration: float | None) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    server = Server(uvicorn_config(app, settings))
    server.handle_signals = False  # the demo handles Ctrl-C itself, to stop the simulator too
    serving = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        print(f"Kilowatt could not start on {settings.host}:{settings.port}", file=sys.stderr)
        return 1
    port = server.port
    node = app.state.kilowatt
    tags = demo_tags(stations)
    known = _remembered_logins(settings)
    logins = {**known, **await _seed(node, tags, known)}
    _remember_logins(settings, logins)
    credentials = "".join(
        f"  {'operator' if email == DEMO_ADMIN else 'driver  '} login  {email} / {logins[email]}\n"
        for email in (DEMO_ADMIN, DEMO_DRIVER)
    )
    base = f"http://{settings.host}:{port}"
    print(
        "\nKilowatt is running.\n"
        f"  dashboard       {base}/dashboard/   (operator login below)\n"
        f"  OCPP endpoint   ws://{settings.host}:{port}/ocpp/<charge_point_id>  (ocpp1.6)\n"
        f"  API             {base}/docs   (X-API-Key: {settings.admin_api_key})\n"
        f"  database        {settings.effective_database_url}\n"
        f"{credentials}"
        f"  try             .venv/bin/kilowatt cmd DEMO-0001 GetConfiguration\n"
        f"                  .venv/bin/kilowatt cmd DEMO-0001 TriggerMessage requestedMessage=MeterValues connectorId=1\n"
        f"  {stations} simulated stations (DEMO-0001…) are charging; Ctrl-C stops.\n",
        flush=True,
    )
    url = f"ws://{settings.host}:{port}/ocpp"
    # One station is left to the driver API (README): no simulated driver ever uses it.
    app_station = await _simulator(url, "--stations", "1", "--id-prefix", "DEMO-APP-", "--manual")
    await asyncio.wait_for(node.registry.wait_for(APP_STATION), 30)
    simulator = await _simulator(
        url,
        "--stations",
        str(stations),
        "--id-prefix",
        "DEMO-",
        "--id-tags",
        ",".join(tags),
        "--meter-interval",
        "5",
        "--time-scale",
        "10",
        "--mean-idle",
        "60",
        "--mean-session",
        "600",
        "--stagger",
        "2",
    )
    evse = await _evse_ids(node, APP_STATION)
    print(
        f"  driver API      {APP_STATION} is left free for you: EVSE ids {', '.join(evse)}\n"
        f"  driver web app  {base}/app/start?evse={quote(evse[0], safe='')}   (its QR code's link;"
        " driver login above)\n",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
            print(await _summary(node), flush=True)
            if duration is not None and loop.time() - server.started_at >= duration:
                stop.set()
    finally:
        for process in (simulator, app_station):
            if process.returncode is None:
                process.terminate()  # the simulator stops its transactions, then disconnects
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
        print(await _summary(node), flush=True)
        server.should_exit = True
        await serving
    return 0
