"""``kilowatt limit CP CONNECTOR VALUE``: hold a connector (0: the whole station) to a limit,
over HTTP with the node's admin key (like ``kilowatt cmd``). VALUE is a number and a unit:
``16A`` (amperes per phase), ``11000W`` or ``11kW``."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from kilowatt.config import Settings

_VALUE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(A|W|kW)\s*$", re.IGNORECASE)


def parse_limit(text: str) -> tuple[Decimal, str]:
    """``16A`` -> (16, "A"); ``11kW`` -> (11000, "W"); SystemExit for anything else."""
    match = _VALUE.match(text)
    if match is None:
        raise SystemExit(f"expected a limit like 16A, 11000W or 11kW, got {text!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise SystemExit(f"not a number: {match.group(1)!r}") from None
    unit = match.group(2).lower()
    if unit == "kw":
        return number * 1000, "W"
    return number, unit.upper()


def add_parser(
    sub: Any,
    server_opts: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], Settings],
) -> None:
    sp = sub.add_parser(
        "limit", help="limit a connector (0: the whole station) now, e.g. limit CP-1 1 16A"
    )
    sp.add_argument("charge_point_id")
    sp.add_argument("connector_id", type=int, help="0: the whole station")
    sp.add_argument("value", help="16A (per phase), 11000W or 11kW")
    sp.add_argument("--until", help="when the limit ends (ISO-8601 with time zone)")
    sp.add_argument("--phases", type=int, choices=(1, 2, 3), help="numberPhases of the limit")
    sp.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the answer")
    sp.add_argument("--url", help="server base URL (default: from settings)")
    server_opts(sp)

    def run(args: argparse.Namespace) -> int:
        return cmd_limit(args, settings(args))

    sp.set_defaults(func=run)


def cmd_limit(args: argparse.Namespace, settings: Settings) -> int:
    limit, unit = parse_limit(args.value)
    body: dict[str, Any] = {"connector_id": args.connector_id, "limit": str(limit), "unit": unit}
    if args.until:
        body["until"] = args.until
    if args.phases:
        body["number_phases"] = args.phases
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=args.wait + 10) as client:
        response = client.post(
            f"/api/v1/stations/{args.charge_point_id}/limit",
            params={"wait": args.wait},
            json=body,
        )
    answer = response.json()
    print(json.dumps(answer, indent=2))
    if response.status_code >= 400:
        return 2
    if response.status_code == 202:
        return 3  # no answer yet
    return 0 if answer.get("status") == "Accepted" else 1
