"""``kilowatt reservation list|create|cancel``: reservations from the command line, over HTTP
with the node's admin key (like ``kilowatt cmd`` and ``kilowatt limit``)."""

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
    sp = sub.add_parser("reservation", help="list, create and cancel reservations")
    rsub = sp.add_subparsers(dest="reservation_cmd", required=True)

    lst = rsub.add_parser("list", help="the reservations, newest first")
    lst.add_argument("--station", help="only this station's (charge point id)")
    lst.add_argument("--active", action="store_true", help="only the active ones")
    create = rsub.add_parser("create", help="reserve a connector (0: any of the station's)")
    create.add_argument("charge_point_id")
    create.add_argument("connector_number", type=int, help="0: any connector of the station")
    create.add_argument("id_tag", help="the card the reservation is for")
    create.add_argument("--minutes", type=int, help="default KILOWATT_RESERVATION_MINUTES")
    cancel = rsub.add_parser("cancel", help="cancel a reservation (CancelReservation)")
    cancel.add_argument("reservation_id", type=int)
    for parser in (lst, create, cancel):
        parser.add_argument("--url", help="server base URL (default: from settings)")
        server_opts(parser)

    def run(args: argparse.Namespace) -> int:
        return cmd_reservation(args, settings(args))

    sp.set_defaults(func=run)


def cmd_reservation(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        if args.reservation_cmd == "list":
            params: dict[str, Any] = {"limit": 200}
            if args.station:
                params["station"] = args.station
            if args.active:
                params["active"] = "true"
            response = client.get("/api/v1/reservations", params=params)
        elif args.reservation_cmd == "create":
            body: dict[str, Any] = {
                "station": args.charge_point_id,
                "connector_number": args.connector_number,
                "id_tag": args.id_tag,
            }
            if args.minutes:
                body["minutes"] = args.minutes
            response = client.post("/api/v1/reservations", json=body)
        else:
            response = client.delete(f"/api/v1/reservations/{args.reservation_id}")
    print(json.dumps(response.json(), indent=2))
    return 0 if response.status_code < 400 else 2
