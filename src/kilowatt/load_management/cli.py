"""``kilowatt load show|set|window|windows|allocations``: a site's load management from the
command line, over HTTP with the node's admin key (like ``kilowatt limit``). Prints the API's
JSON; exit code 0 on a 2xx, 2 otherwise. Bad input is refused by the parser (exit code 2)
before anything is sent."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from kilowatt.config import Settings

_LIMIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(A|W|kW)?\s*$", re.IGNORECASE)
_UNITS = {"a": "A", "kw": "kW", "w": "W"}


def _number_and_unit(text: str) -> tuple[Decimal, str | None]:
    match = _LIMIT.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a limit like 63A or 40kW, got {text!r}")
    unit = match.group(2)
    return Decimal(match.group(1)), None if unit is None else _UNITS[unit.lower()]


def _in_api_units(number: Decimal, unit: str) -> tuple[Decimal, str]:
    # The API takes A or kW; watts are given as kW so that "40000W" means what it says.
    return (number / 1000, "kW") if unit == "W" else (number, unit)


def parse_limit(text: str) -> dict[str, Any]:
    """``63A`` -> {"unit": "A", "value": "63"}; ``40kW`` (or ``40000W``) -> kW."""
    number, unit = _number_and_unit(text)
    if unit is None:
        raise argparse.ArgumentTypeError(f"a limit needs a unit (A or kW): {text!r}")
    value, unit = _in_api_units(number, unit)
    return {"unit": unit, "value": str(value)}


def parse_per_phase(text: str) -> dict[str, Any]:
    """``63,63,40`` (A) or ``13,13,10kW`` -> {"unit": …, "l1": …, "l2": …, "l3": …}; a unit
    given on any value holds for all three, and they may not differ."""
    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"expected three values L1,L2,L3 (e.g. 63,63,40), got {text!r}"
        )
    parsed = [_number_and_unit(part) for part in parts]
    units = {unit for _, unit in parsed if unit is not None}
    if len(units) > 1:
        raise argparse.ArgumentTypeError(f"one unit for all three phases, got {text!r}")
    unit = units.pop() if units else "A"
    phases = [_in_api_units(number, unit) for number, _ in parsed]
    return {"unit": phases[0][1], **{f"l{n}": str(v) for n, (v, _) in enumerate(phases, 1)}}


def parse_priority(text: str) -> tuple[str, int]:
    """``fleet=3`` -> ("fleet", 3)."""
    group, sep, value = text.partition("=")
    if not sep or not group.strip() or not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected GROUP=PRIORITY (e.g. fleet=3), got {text!r}")
    return group.strip(), int(value)


def parse_time(text: str) -> str:
    """An ISO-8601 time with its offset (``2026-05-01T17:00:00Z``), normalised."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"a time needs its offset (e.g. Z or +02:00): {text!r}")
    return moment.isoformat()


def _amperes(text: str) -> str:
    number, unit = _number_and_unit(text)
    if unit not in (None, "A"):
        raise argparse.ArgumentTypeError(f"expected amperes (e.g. 6 or 6A), got {text!r}")
    return str(number)


def _volts(text: str) -> str:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*V?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected volts (e.g. 230), got {text!r}")
    return match.group(1)


# ---- the parser ---------------------------------------------------------------------------------
def add_parser(
    sub: Any,
    server_opts: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], Settings],
) -> None:
    sp = sub.add_parser("load", help="a site's load management: limit, windows, allocations")
    lsub = sp.add_subparsers(dest="load_cmd", required=True)

    show = lsub.add_parser("show", help="settings, the limit in force now, the latest allocation")
    show.add_argument("site_id", type=int, metavar="SITE_ID")

    put = lsub.add_parser("set", help="set the site's grid limit (replaces the settings)")
    put.add_argument("site_id", type=int, metavar="SITE_ID")
    put.add_argument(
        "limit", nargs="?", type=parse_limit, metavar="LIMIT", help="63A (each phase) or 40kW"
    )
    put.add_argument(
        "--per-phase", type=parse_per_phase, metavar="L1,L2,L3", help="63,63,40 (A) or 13,13,10kW"
    )
    put.add_argument(
        "--min", dest="min_a", type=_amperes, help="A a session gets at least, else it pauses (6)"
    )
    put.add_argument(
        "--max",
        dest="max_a",
        type=_amperes,
        help="A per session where its connector sets none (32)",
    )
    put.add_argument("--voltage", type=_volts, help="phase to neutral, to turn kW into A (230)")
    put.add_argument(
        "--priority",
        type=parse_priority,
        action="append",
        default=[],
        metavar="GROUP=N",
        help="token group priority; repeat",
    )
    put.add_argument(
        "--off", action="store_true", help="turn load management off (alone: keep the settings)"
    )

    window = lsub.add_parser("window", help="add a window that lowers the limit, or delete one")
    window.add_argument("site_id", type=int, metavar="SITE_ID")
    window.add_argument(
        "limit", nargs="?", type=parse_limit, metavar="LIMIT", help="32A (each phase) or 20kW"
    )
    window.add_argument("--per-phase", type=parse_per_phase, metavar="L1,L2,L3")
    window.add_argument("--from", dest="starts_at", type=parse_time, metavar="ISO")
    window.add_argument("--to", dest="ends_at", type=parse_time, metavar="ISO")
    window.add_argument(
        "--source", help="who asked for it: operator (default), grid-operator, tariff …"
    )
    window.add_argument(
        "--delete", type=int, metavar="WINDOW_ID", help="remove this window instead"
    )

    windows = lsub.add_parser("windows", help="the windows not over yet")
    windows.add_argument("site_id", type=int, metavar="SITE_ID")

    allocations = lsub.add_parser("allocations", help="the allocations made, newest first")
    allocations.add_argument("site_id", type=int, metavar="SITE_ID")
    allocations.add_argument("--since", type=parse_time, metavar="ISO")
    allocations.add_argument("--limit", type=int, default=50, help="how many (at most 200)")

    for parser in (show, put, window, windows, allocations):
        parser.add_argument("--url", help="server base URL (default: from settings)")
        server_opts(parser)

    def run(args: argparse.Namespace) -> int:
        # Checks across arguments, made before anything is sent: argparse's exit code 2.
        if args.load_cmd == "set":
            _check_set(args, put)
        elif args.load_cmd == "window":
            _check_window(args, window)
        elif args.load_cmd == "allocations" and not 1 <= args.limit <= 200:
            allocations.error("--limit is 1 to 200")
        return cmd_load(args, settings(args))

    sp.set_defaults(func=run)


def _check_set(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.limit is not None and args.per_phase is not None:
        parser.error("give a limit or --per-phase, not both")
    if args.limit is None and args.per_phase is None and not args.off:
        parser.error("give a limit (63A, 40kW) or --per-phase L1,L2,L3")


def _check_window(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    given = [args.limit, args.per_phase, args.starts_at, args.ends_at, args.source]
    if args.delete is not None:
        if any(v is not None for v in given):
            parser.error("--delete takes no limit, --from, --to or --source")
        return
    if args.limit is not None and args.per_phase is not None:
        parser.error("give a limit or --per-phase, not both")
    if args.limit is None and args.per_phase is None:
        parser.error("give the window's limit (32A, 20kW) or --per-phase L1,L2,L3")
    if args.starts_at is None or args.ends_at is None:
        parser.error("a window needs --from and --to")


# ---- the requests -------------------------------------------------------------------------------
def _settings_body(args: argparse.Namespace, current: dict[str, Any] | None) -> dict[str, Any]:
    """The PUT body: what was given, over the current settings when only --off was given."""
    if current is not None:
        body: dict[str, Any] = {
            "limit": _current_limit(current),
            "min_current_a": current["min_current_a"],
            "max_current_a": current["max_current_a"],
            "voltage": current["voltage"],
            "priorities": current["priorities"],
        }
    else:
        body = {"limit": args.limit or args.per_phase}
    body["enabled"] = not args.off
    if args.min_a is not None:
        body["min_current_a"] = args.min_a
    if args.max_a is not None:
        body["max_current_a"] = args.max_a
    if args.voltage is not None:
        body["voltage"] = args.voltage
    if args.priority:
        body["priorities"] = dict(args.priority)
    return body


def _current_limit(current: dict[str, Any]) -> dict[str, Any]:
    # A kW limit is kept as kW only where it was one three-phase value (equal phases);
    # otherwise the amperes the manager holds are the exact limit.
    amps = current["limit_a"]
    if current.get("limit_kw") is not None and amps["l1"] == amps["l2"] == amps["l3"]:
        return {"unit": "kW", "value": current["limit_kw"]}
    if amps["l1"] == amps["l2"] == amps["l3"]:
        return {"unit": "A", "value": amps["l1"]}
    return {"unit": "A", **amps}


def _request(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    base = f"/api/v1/sites/{args.site_id}/load"
    match args.load_cmd:
        case "show":
            return client.get(base)
        case "set":
            current = None
            if args.limit is None and args.per_phase is None:  # --off alone keeps the settings
                shown = client.get(base)
                if not shown.is_success:
                    return shown
                current = shown.json()
            return client.put(base, json=_settings_body(args, current))
        case "window" if args.delete is not None:
            return client.delete(f"{base}/windows/{args.delete}")
        case "window":
            body: dict[str, Any] = {
                "starts_at": args.starts_at,
                "ends_at": args.ends_at,
                "limit": args.limit or args.per_phase,
            }
            if args.source:
                body["source"] = args.source
            return client.post(f"{base}/windows", json=body)
        case "windows":
            return client.get(f"{base}/windows")
        case _:
            params: dict[str, Any] = {"limit": args.limit}
            if args.since:
                params["since"] = args.since
            return client.get(f"{base}/allocations", params=params)


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            response = _request(client, args)
    except httpx.HTTPError as exc:
        print(f"kilowatt load: cannot reach {base}: {exc}", file=sys.stderr)
        return 2
    if response.content:  # a deleted window answers 204, with nothing to print
        try:
            print(json.dumps(response.json(), indent=2))
        except ValueError:
            print(response.text)
    return 0 if response.is_success else 2
