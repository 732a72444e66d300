"""``kilowatt firmware upload | sign | campaign | status | diagnostics | log``: the firmware API from the
command line, over HTTP with the node's admin key (like ``kilowatt cmd``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from kilowatt.config import Settings

CHUNK = 1 << 20


def add_parser(
    sub: Any,
    server_opts: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], Settings],
) -> None:
    sp = sub.add_parser("firmware", help="upload firmware, run update campaigns, get diagnostics")
    fsub = sp.add_subparsers(dest="firmware_cmd", required=True)

    up = fsub.add_parser("upload", help="upload a firmware image")
    up.add_argument("path", type=Path)
    up.add_argument("--name", help="file name chargers see (default: the file's)")
    up.add_argument("--version", dest="fw_version", help="the firmware version")
    up.add_argument("--tenant", help="platform admins: the tenant's slug or id")

    cp = fsub.add_parser("campaign", help="send a firmware file to stations")
    cp.add_argument("file_id", type=int)
    target = cp.add_mutually_exclusive_group(required=True)
    target.add_argument("--stations", nargs="+", metavar="CHARGE_POINT_ID")
    target.add_argument("--site", type=int, metavar="SITE_ID")
    target.add_argument("--all", action="store_true", help="every station of the file's tenant")
    cp.add_argument("--retrieve-date", help="ISO-8601 with time zone (default: now)")
    cp.add_argument("--retries", type=int)
    cp.add_argument("--retry-interval", type=int)
    cp.add_argument("--batch-size", type=int, help="at most this many stations updating at once")
    cp.add_argument("--window-start", metavar="HH:MM", help="daily maintenance window: from")
    cp.add_argument("--window-end", metavar="HH:MM", help="daily maintenance window: until")
    cp.add_argument("--window-timezone", metavar="ZONE", help="e.g. Europe/Berlin (default: UTC)")
    cp.add_argument("--signed", action="store_true", help="SignedUpdateFirmware, the file's keys")
    cp.add_argument("--signing-certificate", type=Path, metavar="PEM_FILE")
    cp.add_argument("--signature", metavar="BASE64", help="signature over the whole file")
    cp.add_argument("--install-date", help="signed: when to install (ISO-8601 with time zone)")

    sg = fsub.add_parser("sign", help="attach a signing certificate and signature to a file")
    sg.add_argument("file_id", type=int)
    sg.add_argument("--signing-certificate", type=Path, metavar="PEM_FILE", required=True)
    sg.add_argument("--signature", metavar="BASE64", required=True)

    st = fsub.add_parser("status", help="a campaign's progress (or the list of campaigns)")
    st.add_argument("campaign_id", type=int, nargs="?")

    dg = fsub.add_parser("diagnostics", help="ask a station for its diagnostics")
    dg.add_argument("charge_point_id")
    dg.add_argument("--start-time")
    dg.add_argument("--stop-time")

    lg = fsub.add_parser("log", help="ask a station for its diagnostics or security log")
    lg.add_argument("charge_point_id")
    lg.add_argument("--type", dest="log_type", choices=["DiagnosticsLog", "SecurityLog"])
    lg.add_argument("--oldest", help="oldest timestamp (ISO-8601 with time zone)")
    lg.add_argument("--latest", help="latest timestamp (ISO-8601 with time zone)")

    for parser in (up, cp, st, dg, sg, lg):
        parser.add_argument("--url", help="server base URL (default: from settings)")
        server_opts(parser)
    sp.set_defaults(func=lambda args: run(args, settings(args)))


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def run(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or f"http://{settings.host}:{settings.port}"
    headers = {"X-API-Key": settings.admin_api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        response = _call(client, args)
    print(json.dumps(response.json(), indent=2))
    return 2 if response.status_code >= 400 else 0


def _call(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    if args.firmware_cmd == "upload":
        params = {"name": args.name or args.path.name}
        if args.fw_version:
            params["version"] = args.fw_version
        if args.tenant:
            params["tenant"] = args.tenant
        return client.post(
            "/api/v1/firmware",
            params=params,
            content=_read(args.path),  # streamed: the image is never read whole
            headers={"content-type": "application/octet-stream"},
        )
    if args.firmware_cmd == "campaign":
        body: dict[str, Any] = {"file_id": args.file_id}
        if args.stations:
            body["stations"] = args.stations
        elif args.site:
            body["site_id"] = args.site
        else:
            body["all"] = True
        for key, value in (
            ("retrieve_date", args.retrieve_date),
            ("retries", args.retries),
            ("retry_interval", args.retry_interval),
            ("batch_size", args.batch_size),
            ("window_start", args.window_start),
            ("window_end", args.window_end),
            ("window_timezone", args.window_timezone),
            ("signature", args.signature),
            ("install_date", args.install_date),
        ):
            if value is not None:
                body[key] = value
        if args.signed:
            body["signed"] = True
        if args.signing_certificate is not None:
            body["signing_certificate"] = args.signing_certificate.read_text()
        return client.post("/api/v1/firmware/campaigns", json=body)
    if args.firmware_cmd == "sign":
        return client.put(
            f"/api/v1/firmware/{args.file_id}/signature",
            json={
                "signing_certificate": args.signing_certificate.read_text(),
                "signature": args.signature,
            },
        )
    if args.firmware_cmd == "log":
        body = {}
        for key, value in (
            ("log_type", args.log_type),
            ("oldest_timestamp", args.oldest),
            ("latest_timestamp", args.latest),
        ):
            if value is not None:
                body[key] = value
        return client.post(f"/api/v1/stations/{args.charge_point_id}/logs", json=body)
    if args.firmware_cmd == "status":
        if args.campaign_id is None:
            return client.get("/api/v1/firmware/campaigns")
        return client.get(f"/api/v1/firmware/campaigns/{args.campaign_id}")
    body = {}
    if args.start_time:
        body["startTime"] = args.start_time
    if args.stop_time:
        body["stopTime"] = args.stop_time
    return client.post(f"/api/v1/stations/{args.charge_point_id}/diagnostics", json=body)
