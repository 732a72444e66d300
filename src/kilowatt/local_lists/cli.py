"""``kilowatt local-list show | entries | sync``: a station's local authorization list from
the command line, over HTTP with the node's admin key (like ``kilowatt cmd``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import httpx

from kilowatt.config import Settings


def add_parser(
    sub: Any,
    server_opts: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], Settings],
) -> None:
    sp = sub.add_parser("local-list", help="show and synchronise stations' local auth lists")
    lsub = sp.add_subparsers(dest="local_list_cmd", required=True)
    show = lsub.add_parser("show", help="version, state, size and what is pending")
    entries = lsub.add_parser("entries", help="every id tag on the list or due to be")
    sync = lsub.add_parser("sync", help="synchronise now (Differential if possible, else Full)")
    kind = sync.add_mutually_exclusive_group()
    kind.add_argument("--full", action="store_const", const="Full", dest="update_type")
    kind.add_argument(
        "--differential", action="store_const", const="Differential", dest="update_type"
    )
    for parser in (show, entries, sync):
        parser.add_argument("charge_point_id")
        parser.add_argument("--url", help="server base URL (default: from settings)")
        server_opts(parser)
    sp.set_defaults(func=lambda args: run(args, settings(args)))


def run(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or f"http://{settings.host}:{settings.port}"
    path = f"/api/v1/stations/{args.charge_point_id}/local-list"
    headers = {"X-API-Key": settings.admin_api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        if args.local_list_cmd == "show":
            response = client.get(path)
        elif args.local_list_cmd == "entries":
            response = client.get(f"{path}/entries")
        else:
            response = client.post(f"{path}/sync", json={"update_type": args.update_type})
    print(json.dumps(response.json(), indent=2))
    if response.status_code >= 400:
        return 2
    if args.local_list_cmd == "sync":
        return 0 if response.json()["outcome"] in ("Accepted", "InSync") else 1
    return 0
