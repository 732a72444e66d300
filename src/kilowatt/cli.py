"""``kilowatt serve | migrate | simulate | demo | cmd | station | token | user``."""

from __future__ import annotations

import argparse
import asyncio
import importlib.resources
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from kilowatt.config import Settings, UnknownStationPolicy, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if getattr(args, "unknown_stations", None):
        overrides["unknown_station_policy"] = UnknownStationPolicy(args.unknown_stations)
    return settings.with_overrides(**overrides) if overrides else settings


def _logging(settings: Settings) -> None:
    from kilowatt import logs

    logs.configure(settings.log_level, settings.log_format)


# ---- serve / migrate ---------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from kilowatt.app import serve

    settings = _settings(args)
    _logging(settings)
    asyncio.run(serve(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from kilowatt import migrate

    settings = _settings(args)
    url = settings.effective_database_url
    if args.downgrade:
        asyncio.run(migrate.downgrade(url, args.downgrade))
        print(f"downgraded to {args.downgrade}")
    else:
        asyncio.run(migrate.upgrade(url, args.revision))
        print(f"upgraded to {args.revision}")
    return 0


# ---- simulate / demo ---------------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from kilowatt.simulator import SimulatorConfig, run

    logging.basicConfig(level=logging.WARNING if not args.verbose else logging.INFO)
    config = SimulatorConfig(
        url=args.url,
        stations=args.stations,
        connectors=args.connectors,
        id_prefix=args.id_prefix,
        id_tags=tuple(args.id_tags.split(",")) if args.id_tags else SimulatorConfig.id_tags,
        duration=args.duration,
        meter_interval=args.meter_interval,
        time_scale=args.time_scale,
        mean_idle_time=args.mean_idle,
        mean_session_duration=args.mean_session,
        connect_stagger=args.stagger,
        basic_auth_password=args.password,
        seed=args.seed,
        auto_sessions=not args.manual,
        phase_rotation=tuple(args.phase_rotation.split(",")) if args.phase_rotation else (),
    )

    async def simulate() -> Any:
        # Ctrl-C / SIGTERM end the run cleanly: running transactions are stopped first.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run(config, stop=stop)

    stats = asyncio.run(simulate())
    print(json.dumps(stats.as_dict(), indent=2, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from kilowatt.demo import run_demo

    settings = _settings(args).with_overrides(
        unknown_station_policy=UnknownStationPolicy.AUTO_REGISTER
    )
    if args.port is None and settings.port == 8180:
        settings = settings.with_overrides(port=8180)
    from kilowatt import logs

    logs.configure("warning", settings.log_format)  # the demo prints its own summary
    return asyncio.run(run_demo(settings, stations=args.stations, duration=args.duration))


# ---- cmd: send an OCPP command through a running server -----------------------------------------
def _request_schema(action: str) -> dict[str, Any]:
    try:
        text = importlib.resources.files("ocpp.v16.schemas").joinpath(f"{action}.json").read_text()
    except FileNotFoundError:
        raise SystemExit(f"unknown OCPP 1.6 action {action!r}") from None
    schema: dict[str, Any] = json.loads(text)
    return schema


def _coerce(value: str, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value.lower() in ("1", "true", "yes")
    if kind in ("array", "object"):
        return json.loads(value)
    return value


def build_payload(action: str, pairs: Sequence[str], raw_json: str | None) -> dict[str, Any]:
    """``key=value`` pairs typed by the action's official schema, merged over ``--json``."""
    payload: dict[str, Any] = json.loads(raw_json) if raw_json else {}
    properties = _request_schema(action).get("properties", {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected key=value, got {pair!r}")
        payload[key] = _coerce(value, properties.get(key, {}))
    return payload


def cmd_cmd(args: argparse.Namespace) -> int:
    settings = _settings(args)
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=args.wait + 10) as client:
        if args.get:
            response = client.get(f"/api/v1/commands/{args.get}", params={"wait": args.wait})
        else:
            if not args.charge_point_id or not args.action:
                raise SystemExit("usage: kilowatt cmd CHARGE_POINT_ID ACTION [key=value ...]")
            payload = build_payload(args.action, args.pairs, args.json)
            response = client.post(
                f"/api/v1/stations/{args.charge_point_id}/commands/{args.action}",
                params={"wait": args.wait},
                json=payload,
            )
    body = response.json()
    print(json.dumps(body, indent=2))
    if response.status_code >= 400:
        return 2
    state = body.get("state")
    return 0 if state == "completed" else (3 if state in ("sent", "pending") else 1)


# ---- station / token: direct database administration --------------------------------------------
async def _with_db(settings: Settings, work: Any) -> Any:
    from kilowatt.db import create_engine, session_factory
    from kilowatt.migrate import upgrade

    url = settings.effective_database_url
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            result = await work(db)
            await db.commit()
            return result
    finally:
        await engine.dispose()


def cmd_station(args: argparse.Namespace) -> int:
    from kilowatt.stations import repository, service

    settings = _settings(args)

    async def add(db: Any) -> str:
        station = await service.register(
            db,
            args.charge_point_id,
            registration_status=args.status,
            password=args.password,
            allow_missing_subprotocol=args.allow_missing_subprotocol,
            connectors=args.connectors,
            security_profile=args.security_profile,
        )
        return station.charge_point_id

    async def list_(db: Any) -> list[dict[str, Any]]:
        return [
            {
                "charge_point_id": s.charge_point_id,
                "registration_status": s.registration_status,
                "online": s.online,
                "vendor": s.vendor,
                "model": s.model,
                "basic_auth": s.auth_password_hash is not None,
                "security_profile": s.security_profile,
            }
            for s in await repository.list_stations(db)
        ]

    if args.station_cmd in ("rotate-key", "security-profile"):
        return _station_security(args, settings)
    if args.station_cmd == "add":
        if args.password is not None and not 16 <= len(args.password.encode()) <= 40:
            raise SystemExit("a station password must be 16 to 40 bytes (OCPP security profile 1)")
        if args.security_profile in (1, 2) and args.password is None:
            raise SystemExit(f"security profile {args.security_profile} needs --password")
        print(asyncio.run(_with_db(settings, add)), "registered")
    else:
        print(json.dumps(asyncio.run(_with_db(settings, list_)), indent=2))
    return 0


def _station_security(args: argparse.Namespace, settings: Settings) -> int:
    """Rotate a station's key or raise its profile through the running server's API (the
    station must be connected to answer)."""
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    station = args.charge_point_id
    with httpx.Client(base_url=base, headers=headers, timeout=args.wait + 10) as client:
        if args.station_cmd == "rotate-key":
            # The key is read from the environment, not the command line (shell history, ps).
            key = os.environ.get("KILOWATT_NEW_STATION_KEY") or None
            response = client.post(
                f"/api/v1/stations/{station}/rotate-key",
                params={"wait": args.wait},
                json={"key": key},
            )
        else:
            response = client.post(
                f"/api/v1/stations/{station}/security-profile",
                params={"wait": args.wait},
                json={"security_profile": args.profile, "reset": not args.no_reset},
            )
    body = response.json()
    print(json.dumps(body, indent=2))
    if response.status_code >= 400:
        return 2
    return 0 if body.get("state") == "completed" else 3


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import datetime

    from kilowatt.tenants import service as tenants
    from kilowatt.tokens import service

    settings = _settings(args)

    async def add(db: Any) -> str:
        tenant = await tenants.default_tenant(db)
        expiry = datetime.fromisoformat(args.expiry) if args.expiry else None
        if expiry is not None and expiry.tzinfo is None:
            raise SystemExit("--expiry needs a timezone, e.g. 2027-01-01T00:00:00+00:00")
        token = await service.create(
            db,
            tenant.id,
            args.id_tag,
            status=args.status,
            expiry_date=expiry,
            parent_id_tag=args.parent,
        )
        return token.id_tag

    async def list_(db: Any) -> list[dict[str, Any]]:
        tenant = await tenants.default_tenant(db)
        return [
            {
                "id_tag": t.id_tag,
                "status": t.status,
                "expiry_date": t.expiry_date,
                "parent_id_tag": t.parent_id_tag,
            }
            for t in await service.list_tokens(db, tenant.id)
        ]

    if args.token_cmd == "add":
        print(asyncio.run(_with_db(settings, add)), "added")
    else:
        print(json.dumps(asyncio.run(_with_db(settings, list_)), indent=2, default=str))
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from kilowatt.auth.principal import Role
    from kilowatt.tenants import service as tenants
    from kilowatt.users import repository
    from kilowatt.users import service as users

    settings = _settings(args)

    async def create(db: Any) -> dict[str, Any]:
        role = Role(args.role)
        tenant_id = None
        if role is not Role.PLATFORM_ADMIN and args.tenant == tenants.DEFAULT_TENANT:
            tenant_id = (await tenants.default_tenant(db)).id  # a fresh database has none yet
        elif role is not Role.PLATFORM_ADMIN:
            tenant_id = (await users.tenant_for_slug(db, args.tenant)).id
        user = await users.create_user(
            db,
            email=args.email,
            password=args.password,
            role=role,
            tenant_id=tenant_id,
            name=args.name or "",
        )
        return {"id": user.id, "email": user.email, "role": user.role, "tenant_id": tenant_id}

    async def list_(db: Any) -> list[dict[str, Any]]:
        tenant_id = None
        if args.tenant:
            tenant_id = (await users.tenant_for_slug(db, args.tenant)).id
        found, _ = await repository.list_users(db, tenant_id, limit=10_000, offset=0)
        return [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "tenant_id": u.tenant_id,
                "disabled": u.disabled_at is not None,
            }
            for u in found
        ]

    try:
        if args.user_cmd == "create":
            print(json.dumps(asyncio.run(_with_db(settings, create))))
        else:
            print(json.dumps(asyncio.run(_with_db(settings, list_)), indent=2))
    except users.AccountError as exc:
        raise SystemExit(f"{exc.title}: {exc.detail}") from None
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from kilowatt.bench import main as bench_main

    return bench_main(args)


# ---- parser ------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kilowatt", description="Kilowatt charging station management system"
    )
    sub = p.add_subparsers(dest="command", required=True)

    def server_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--host")
        sp.add_argument("--port", type=int)
        sp.add_argument("--unknown-stations", choices=[p.value for p in UnknownStationPolicy])

    sp = sub.add_parser("serve", help="run the central system (OCPP + API on one port)")
    server_opts(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    sp.add_argument("--revision", default="head")
    sp.add_argument("--downgrade", metavar="REVISION")
    sp.set_defaults(func=cmd_migrate)

    sp = sub.add_parser("simulate", help="run simulated charge points against a central system")
    sp.add_argument("--url", default="ws://127.0.0.1:8180/ocpp")
    sp.add_argument("--stations", type=int, default=5)
    sp.add_argument("--connectors", type=int, default=2)
    sp.add_argument("--id-prefix", default="SIM")
    sp.add_argument("--id-tags", help="comma-separated idTags the drivers use")
    sp.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    sp.add_argument(
        "--meter-interval", type=float, default=10.0, help="seconds between MeterValues"
    )
    sp.add_argument(
        "--time-scale", type=float, default=1.0, help="speed up drivers and EVs (not the meter)"
    )
    sp.add_argument(
        "--mean-idle", type=float, default=1800.0, help="mean seconds a connector stays free"
    )
    sp.add_argument(
        "--mean-session", type=float, default=3600.0, help="mean seconds a car stays plugged in"
    )
    sp.add_argument(
        "--stagger", type=float, default=0.0, help="spread the first connections over N seconds"
    )
    sp.add_argument("--seed", type=int, help="random seed, for reproducible runs")
    sp.add_argument(
        "--manual",
        action="store_true",
        help="no drivers of their own: only commands start sessions",
    )
    sp.add_argument("--password", help="HTTP Basic password (security profile 1)")
    sp.add_argument(
        "--phase-rotation", help="ConnectorPhaseRotation of connectors 1, 2, …: e.g. RST,STR"
    )
    sp.add_argument("-v", "--verbose", action="store_true")
    sp.set_defaults(func=cmd_simulate)

    sp = sub.add_parser("demo", help="serve on embedded defaults with simulated stations charging")
    server_opts(sp)
    sp.add_argument("--stations", type=int, default=5)
    sp.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser(
        "cmd", help="send an OCPP command to a connected station and print its outcome"
    )
    sp.add_argument("charge_point_id", nargs="?")
    sp.add_argument(
        "action", nargs="?", help="e.g. Reset, RemoteStartTransaction, GetConfiguration"
    )
    sp.add_argument(
        "pairs", nargs="*", metavar="key=value", help="request fields, typed by the schema"
    )
    sp.add_argument("--json", help="the request payload as JSON (merged under key=value pairs)")
    sp.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the outcome")
    sp.add_argument("--get", metavar="COMMAND_ID", help="read the outcome of an earlier command")
    sp.add_argument("--url", help="server base URL (default: from settings)")
    server_opts(sp)
    sp.set_defaults(func=cmd_cmd)

    sp = sub.add_parser("station", help="register and list stations")
    ssub = sp.add_subparsers(dest="station_cmd", required=True)
    add = ssub.add_parser("add")
    add.add_argument("charge_point_id")
    add.add_argument("--status", default="Accepted", choices=["Accepted", "Pending", "Rejected"])
    add.add_argument(
        "--password", help="enable HTTP Basic auth (security profile 1) with this password"
    )
    add.add_argument("--allow-missing-subprotocol", action="store_true")
    add.add_argument("--connectors", type=int, default=0)
    add.add_argument(
        "--security-profile",
        type=int,
        choices=[0, 1, 2, 3],
        help="0 none, 1 Basic, 2 TLS + Basic, 3 client certificate (default: 1 with a password)",
    )
    ssub.add_parser("list")
    rotate = ssub.add_parser(
        "rotate-key",
        help="send a new AuthorizationKey (KILOWATT_NEW_STATION_KEY, else generated)",
    )
    rotate.add_argument("charge_point_id")
    raise_ = ssub.add_parser(
        "security-profile", help="raise a connected station's security profile over OCPP"
    )
    raise_.add_argument("charge_point_id")
    raise_.add_argument("profile", type=int, choices=[1, 2, 3])
    raise_.add_argument("--no-reset", action="store_true", help="no Hard reset after Accepted")
    for sec in (rotate, raise_):
        sec.add_argument("--wait", type=float, default=15.0, help="seconds to wait")
        sec.add_argument("--url", help="server base URL (default: from settings)")
    sp.set_defaults(func=cmd_station)

    sp = sub.add_parser("token", help="add and list tokens (idTags)")
    tsub = sp.add_subparsers(dest="token_cmd", required=True)
    add = tsub.add_parser("add")
    add.add_argument("id_tag")
    add.add_argument(
        "--status", default="Accepted", choices=["Accepted", "Blocked", "Expired", "Invalid"]
    )
    add.add_argument("--expiry", help="ISO-8601 with timezone")
    add.add_argument("--parent", help="parent idTag (group)")
    tsub.add_parser("list")
    sp.set_defaults(func=cmd_token)

    sp = sub.add_parser("user", help="create and list users (e.g. the first admin)")
    usub = sp.add_subparsers(dest="user_cmd", required=True)
    add = usub.add_parser("create")
    add.add_argument("--email", required=True)
    add.add_argument("--password", required=True, help="at least 10 characters")
    add.add_argument(
        "--role", required=True, choices=["admin", "operator", "viewer", "driver", "platform_admin"]
    )
    add.add_argument("--tenant", default="default", help="tenant slug (not for platform_admin)")
    add.add_argument("--name")
    lst = usub.add_parser("list")
    lst.add_argument("--tenant", help="only this tenant's users (slug)")
    sp.set_defaults(func=cmd_user)

    from kilowatt.firmware import cli as firmware_cli

    firmware_cli.add_parser(sub, server_opts, _settings)

    from kilowatt.smart_charging import cli as smart_charging_cli

    smart_charging_cli.add_parser(sub, server_opts, _settings)

    from kilowatt.local_lists import cli as local_lists_cli

    local_lists_cli.add_parser(sub, server_opts, _settings)

    from kilowatt.reservations import cli as reservations_cli

    reservations_cli.add_parser(sub, server_opts, _settings)

    from kilowatt.load_management import cli as load_management_cli

    load_management_cli.add_parser(sub, server_opts, _settings)

    sp = sub.add_parser("bench", help="measure OCPP throughput of this machine")
    sp.add_argument("--stations", type=int, default=200)
    sp.add_argument("--seconds", type=float, default=10.0)
    sp.add_argument(
        "--database-url", help="benchmark against this database (default: a temp SQLite file)"
    )
    sp.add_argument(
        "--profile",
        metavar="FILE",
        help="record the server under load with py-spy into FILE (collapsed stacks; needs py-spy)",
    )
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
