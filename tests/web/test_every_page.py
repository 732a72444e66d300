"""Every page of both apps, on a small realistic network, at laptop and phone widths: each renders
its heading (no error state, no endless spinner), every request stays on Kilowatt's origin, and
nothing is logged as an error (uncaught or on the console).

The operator pages are read from the NAV of ``operator/app.js`` and a station's tabs from the
TABS of ``operator/pages/station.js``, so a new page or tab cannot be missed. The same tour
(``network``, ``operator_pages``, ``driver_pages``, ``Visitor``) drives the accessibility checks
of ``test_accessibility.py``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from playwright.async_api import ConsoleMessage, Page, Request, expect

from api.api_kit import PASSWORD, World

from support.browser import Web
from support.ocpp_client import LibChargePoint, lib_charge_point
from support.steps import boot, status

STATIC = Path(__file__).parents[2] / "src" / "kilowatt" / "dashboard" / "static"
SITE = "Harbour Car Park"
CHARGING = "TOUR-1"  # connected, a session running on connector 1
OFFLINE = "TOUR-2"  # registered, never connected
CARD = "TOUR-CARD-1"  # the driver's card
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.40", "step_size": 1},
                {"type": "FLAT", "price": "1.00"},
            ]
        }
    ],
}
SIZES = {"laptop": False, "phone": True}


# ---- the network ------------------------------------------------------------------------------
@dataclass
class Network:
    cp: LibChargePoint
    evse: str  # the charging station's free connector 2, as its QR code names it
    finished: int  # a completed session (the driver's card)
    running: int  # a charging session (the driver's card)


def _at(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


async def _meter(cp: LibChargePoint, tx: int, wh: int, w: int, minutes_ago: int) -> None:
    await cp.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=tx,
            meter_value=[
                {
                    "timestamp": _at(minutes_ago),
                    "sampledValue": [
                        {"value": str(wh), "measurand": "Energy.Active.Import.Register"},
                        {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"},
                        {"value": "52", "measurand": "SoC", "unit": "Percent"},
                    ],
                }
            ],
        )
    )


async def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@contextlib.asynccontextmanager
async def network(world: World) -> AsyncIterator[Network]:
    """Acme's network: a site with two stations (one connected and charging, one never
    connected), a tariff for the network, the driver's card with a finished and a running
    session, and a (paused) webhook. The charging station stays connected until the end."""
    admin = await world.client("a_admin")
    site = await _created(
        await admin.post("/api/v1/sites", json={"name": SITE, "address": "1 Quay Street"})
    )
    await _created(
        await admin.post(
            "/api/v1/stations",
            json={"charge_point_id": CHARGING, "site_id": site["id"], "connectors": 2},
        )
    )
    await _created(
        await admin.post(
            "/api/v1/stations", json={"charge_point_id": OFFLINE, "site_id": site["id"]}
        )
    )
    tariff = await _created(
        await admin.post("/api/v1/tariffs", json={"name": "Public AC", "tariff": TARIFF})
    )
    await _created(await admin.post(f"/api/v1/tariffs/{tariff['id']}/assignments", json={}))
    driver = await world.user_id("driver")
    await _created(await admin.post("/api/v1/tokens", json={"id_tag": CARD, "user_id": driver}))
    await _created(
        await admin.post(
            "/api/v1/webhooks",
            json={
                "url": "https://erp.example.com/kilowatt",
                "event_types": ["session.*"],
                "description": "ERP: sessions",
                "active": False,
            },
        )
    )
    async with lib_charge_point(world.server.ws_url(CHARGING), CHARGING) as cp:
        await boot(cp)
        first = await cp.call(
            call.StartTransaction(connector_id=1, id_tag=CARD, meter_start=0, timestamp=_at(180))
        )
        await _meter(cp, first.transaction_id, 8000, 11000, 150)
        await cp.call(
            call.StopTransaction(
                transaction_id=first.transaction_id, meter_stop=12000, timestamp=_at(120)
            )
        )
        second = await cp.call(
            call.StartTransaction(connector_id=1, id_tag=CARD, meter_start=12000, timestamp=_at(30))
        )
        await status(cp, 1, "Charging")
        await _meter(cp, second.transaction_id, 15500, 7200, 10)
        sessions = (await admin.get("/api/v1/sessions")).json()["items"]
        by_state = {s["state"]: s for s in sessions}
        assert set(by_state) == {"completed", "active"}, sessions
        yield Network(
            cp=cp,
            evse=by_state["active"]["evseId"].removesuffix("*1") + "*2",
            finished=by_state["completed"]["sessionId"],
            running=by_state["active"]["sessionId"],
        )


# ---- the pages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    """A page to open: its address, the h1 it must show, the API answers it expects to fail."""

    name: str
    path: str
    h1: str | re.Pattern[str]
    expected_statuses: frozenset[int] = frozenset()


def _js_entries(source: Path, constant: str, pattern: str) -> list[tuple[str, ...]]:
    text = source.read_text()
    block = re.search(rf"const {constant} = \[(.*?)\n\];", text, re.S)
    assert block, f"no {constant} in {source}"
    return re.findall(pattern, block.group(1))


def operator_nav() -> list[tuple[str, str]]:
    """(path, label) of every link of the dashboard's navigation."""
    found = _js_entries(
        STATIC / "operator" / "app.js", "NAV", r'\{ path: "([^"]+)", label: "([^"]+)" \}'
    )
    assert len(found) >= 10, found
    return [(path, label) for path, label in found]


def station_tabs() -> list[tuple[str, str]]:
    found = _js_entries(
        STATIC / "operator" / "pages" / "station.js", "TABS", r'\["([^"]+)", "([^"]+)"\]'
    )
    assert len(found) >= 3, found
    return [(tab, label) for tab, label in found]


def operator_pages(net: Network) -> list[Visit]:
    pages = [
        Visit(label, "/dashboard/" if path == "/" else f"/dashboard{path}", label)
        for path, label in operator_nav()
    ]
    for tab, label in station_tabs():
        pages.append(
            Visit(
                f"station {label}",
                f"/dashboard/stations/{CHARGING}?tab={tab}",
                re.compile(f"^{CHARGING}"),
            )
        )
    pages += [
        Visit("offline station", f"/dashboard/stations/{OFFLINE}", re.compile(f"^{OFFLINE}")),
        Visit(
            "finished session",
            f"/dashboard/sessions/{net.finished}",
            re.compile(f"^Session #{net.finished} Completed"),
        ),
        Visit(
            "running session",
            f"/dashboard/sessions/{net.running}",
            re.compile(f"^Session #{net.running} Charging"),
        ),
        Visit("unknown page", "/dashboard/no-such-page", "Not found"),
    ]
    return pages


def driver_pages(net: Network) -> tuple[list[Visit], list[Visit]]:
    """The driver app's pages signed out, then signed in."""
    unknown_evse = Visit(
        "unknown charger", "/app/start?evse=DE*KWT*E999*1", "Charger not found", frozenset({404})
    )
    signed_out = [
        Visit("home", "/app/", "Charge your car"),
        Visit("start", f"/app/start?evse={net.evse}", SITE),
        unknown_evse,
        Visit("ask for a charger", "/app/start", "Start charging"),
        Visit("sign-in", "/app/signin", "Sign in to charge"),
        Visit("register", "/app/signin?mode=register", "Create your account"),
        Visit("unknown page", "/app/no-such-page", "Page not found"),
    ]
    signed_in = [
        Visit("home, signed in", "/app/", "Hello, driver"),
        Visit("start, signed in", f"/app/start?evse={net.evse}", SITE),
        unknown_evse,
        Visit("sessions", "/app/sessions", "My sessions"),
        Visit("finished session", f"/app/sessions/{net.finished}", "Charging complete"),
        Visit("running session", f"/app/sessions/{net.running}", "Charging"),
        Visit("cards", "/app/cards", "Cards"),
        Visit("unknown page", "/app/no-such-page", "Page not found"),
    ]
    return signed_out, signed_in


# ---- visiting -----------------------------------------------------------------------------------
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Visitor:
    """One browser window that opens pages and records what each did: every request, every API
    answer of 400 or more, every console error."""

    web: Web
    page: Page
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, web: Web, *, phone: bool) -> Visitor:
        page = await web.page(phone=phone)
        visitor = cls(web, page)
        page.on("request", visitor._request)
        page.on("response", visitor._response)
        page.on("console", visitor._console)
        return visitor

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append((response.status, response.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append(message.text)

    async def sign_in(self, path: str, name: str) -> None:
        await self.web.world.user_id(name)
        await self.page.goto(path)
        await self.page.get_by_label("E-mail").fill(f"{name}@example.com")
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Sign in").click()

    async def visit(self, visit: Visit) -> None:
        """Open ``visit`` and wait until it has rendered; fail if it did anything wrong."""
        self.requests.clear()
        self.failed.clear()
        self.console.clear()
        page = self.page
        where = f"{visit.name} ({visit.path})"
        await page.goto(visit.path)
        h1 = page.get_by_role("heading", level=1)
        await expect(h1, where).to_have_count(1)
        await expect(h1, where).to_have_text(visit.h1)
        await expect(
            page.locator(".state-loading:visible"), f"{where}: still loading"
        ).to_have_count(0)
        await expect(
            page.locator(".state-error:visible"), f"{where}: an error state"
        ).to_have_count(0)
        await expect(page, where).to_have_title(re.compile(r"\S.* · Kilowatt$"))

    def check(self, visit: Visit) -> None:
        """What the page did since it was opened: every request to the node, only the API
        answers it expects to fail, no console errors but the expected failed loads."""
        where = f"{visit.name} ({visit.path})"
        origin = self.web.guard.origin
        assert self.requests, where
        offsite = [url for url in self.requests if not url.startswith(f"{origin}/")]
        assert not offsite, f"{where}: requests beyond Kilowatt: {offsite}"
        unexpected = [(s, u) for s, u in self.failed if s not in visit.expected_statuses]
        assert not unexpected, f"{where}: failed requests: {unexpected}"
        errors = [
            text
            for text in self.console
            if not ((m := _FAILED_LOAD.match(text)) and int(m.group(1)) in visit.expected_statuses)
        ]
        assert not errors, f"{where}: console errors: {errors}"
        assert not self.web.guard.errors, f"{where}: uncaught errors: {self.web.guard.errors}"
        assert not self.web.guard.offsite, f"{where}: beyond Kilowatt: {self.web.guard.offsite}"


Check = Callable[[Visitor, Visit], Awaitable[None]]


async def tour_operator(web: Web, net: Network, *, phone: bool, check: Check) -> int:
    """Every operator page, signed in as Acme's admin; ``check`` runs on each. How many."""
    visitor = await Visitor.open(web, phone=phone)
    signing_in = Visit("sign-in", "/dashboard/", "Operator sign-in")
    await visitor.visit(signing_in)
    await check(visitor, signing_in)
    await visitor.sign_in("/dashboard/", "a_admin")
    await visitor.page.locator("nav[aria-label=Main]").wait_for(state="attached")
    pages = operator_pages(net)
    for visit in pages:
        await visitor.visit(visit)
        await check(visitor, visit)
    return 1 + len(pages)


async def tour_driver(web: Web, net: Network, *, phone: bool, check: Check) -> int:
    """Every driver page, signed out and then signed in as the driver. How many."""
    visitor = await Visitor.open(web, phone=phone)
    signed_out, signed_in = driver_pages(net)
    for visit in signed_out:
        await visitor.visit(visit)
        await check(visitor, visit)
    await visitor.sign_in("/app/signin", "driver")
    await expect(visitor.page.get_by_test_id("account-name")).to_have_text("driver")
    for visit in signed_in:
        await visitor.visit(visit)
        await check(visitor, visit)
    return len(signed_out) + len(signed_in)


async def _only_kilowatt(visitor: Visitor, visit: Visit) -> None:
    visitor.check(visit)


# ---- the tests ----------------------------------------------------------------------------------
def test_the_tour_finds_every_page() -> None:
    nav = operator_nav()
    labels = [label for _, label in nav]
    assert labels[:2] == ["Overview", "Stations"] and "Webhooks" in labels
    routes = (STATIC / "operator" / "app.js").read_text()
    # every page module the router can load is reached: from the nav, or as a detail page
    modules = set(re.findall(r'\[/\^.*?/, "([a-z-]+)"\]', routes))
    assert modules, routes
    net = Network(cp=None, evse="E", finished=1, running=2)  # type: ignore[arg-type]
    reached = {path.strip("/") or "overview" for path, _ in nav} | {"station", "session"}
    assert modules <= reached, modules - reached
    driver = (STATIC / "driver" / "app.js").read_text()
    driver_modules = set(re.findall(r'\[/\^.*?/, "([a-z-]+)", (?:true|false)\]', driver))
    signed_out, signed_in = driver_pages(net)
    visited = {
        (v.path.split("?")[0].removeprefix("/app/").split("/")[0] or "home")
        for v in signed_out + signed_in
    }
    visited |= {"session"} if any(re.search(r"/sessions/\d", v.path) for v in signed_in) else set()
    assert driver_modules <= visited, driver_modules - visited


@pytest.mark.parametrize("size", SIZES)
async def test_every_operator_page_works_with_only_kilowatt(web: Web, size: str) -> None:
    async with network(web.world) as net:
        count = await tour_operator(web, net, phone=SIZES[size], check=_only_kilowatt)
    assert count == 1 + len(operator_nav()) + len(station_tabs()) + 4


@pytest.mark.parametrize("size", SIZES)
async def test_every_driver_page_works_with_only_kilowatt(web: Web, size: str) -> None:
    async with network(web.world) as net:
        count = await tour_driver(web, net, phone=SIZES[size], check=_only_kilowatt)
    assert count == sum(len(pages) for pages in driver_pages(net))
