"""The Sites page's "Load management" panel, driven through the browser against two of
Kilowatt's simulated chargers at one site: the limit set on the page really reaches the
chargers (the 0 A guard, then each session's TxProfile), the allocation follows live, and a
window lowers the limit in force."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from playwright.async_api import Locator, Page, expect

from api.api_kit import World
from kilowatt.load_management.manager import DEFAULT_PROFILE_ID, tx_profile_id
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.simulator.ev import Ev

from support.a11y import audit
from support.browser import Web, shot

BOUND = 180  # seconds the whole scenario with the simulated chargers may take
STATIONS = ("LOAD-A", "LOAD-B")
CARDS = {"LOAD-A": ("LOAD-CARD-A", "fleet"), "LOAD-B": ("LOAD-CARD-B", None)}


@dataclass
class Depot:
    site_id: int
    sims: dict[str, SimulatedStation]


async def _ok(response: Any) -> Any:
    assert response.is_success, response.text
    return response.json()


@asynccontextmanager
async def depot(world: World) -> AsyncIterator[Depot]:
    """Acme's site "Depot" with two one-connector stations, connected and booted as Kilowatt's
    simulated chargers, and a card for each (the first of the "fleet" group)."""
    admin = await world.client("a_admin")
    site = await _ok(await admin.post("/api/v1/sites", json={"name": "Depot"}))
    for cp in STATIONS:
        await _ok(
            await admin.post(
                "/api/v1/stations",
                json={"charge_point_id": cp, "connectors": 1, "site_id": site["id"]},
            )
        )
        card, group = CARDS[cp]
        await _ok(await admin.post("/api/v1/tokens", json={"id_tag": card, "token_group": group}))
    async with asyncio.timeout(BOUND), AsyncExitStack() as stack:
        sims = {}
        for n, cp in enumerate(STATIONS):
            config = SimulatorConfig(
                url=f"ws://127.0.0.1:{world.server.port}/ocpp",
                auto_sessions=False,
                connectors=1,
                meter_interval=0.5,
                max_power_w=22_000.0,
                reconnect_min=0.05,
                reconnect_max=0.2,
                seed=n,
            )
            sim = await stack.enter_async_context(SimulatedStation(config, cp))
            await sim.connect()
            await sim.boot()
            sims[cp] = sim
        yield Depot(site["id"], sims)


def _held(sim: SimulatedStation, profile_id: int) -> list[Decimal]:
    return [
        h.profile.charging_schedule.charging_schedule_period[0].limit
        for h in sim.profiles.held
        if h.profile.charging_profile_id == profile_id
    ]


async def _open_panel(page: Page, site_id: int) -> Locator:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    panel = page.get_by_test_id(f"site-load-{site_id}")
    await panel.locator("summary").click()
    return panel


async def test_load_management_is_set_up_from_the_page_and_followed_live(
    web: Web, world: World
) -> None:
    admin = await world.client("a_admin")
    async with depot(world) as site:
        page = await web.operator("a_admin")
        panel = await _open_panel(page, site.site_id)
        await expect(panel.get_by_test_id("load-in-force")).to_contain_text("Not load-managed")

        # The settings: 40 A on each phase, at most 16 A a session, the fleet first
        form = panel.get_by_role("form", name="Load management settings")
        await expect(form.get_by_label("Load management on")).to_be_checked()
        await form.get_by_label("Limit", exact=True).fill("40")
        await form.get_by_label("Maximum current (A)").fill("16")
        await form.get_by_role("button", name="Add a group").click()
        await form.get_by_label("Token group").fill("fleet")
        await form.get_by_label("Priority", exact=True).fill("3")
        await form.get_by_role("button", name="Save settings").click()
        in_force = panel.get_by_test_id("limit-in-force")
        await expect(in_force.locator(".tile-value")).to_have_text("40 A")
        await expect(in_force).to_contain_text("on each phase · the site's own limit")
        saved = await _ok(await admin.get(f"/api/v1/sites/{site.site_id}/load"))
        assert saved["enabled"] is True
        assert (Decimal(saved["limit_a"]["l3"]), Decimal(saved["max_current_a"])) == (40, 16)
        assert saved["priorities"] == {"fleet": 3}
        # Saved, the chargers get the 0 A guard for new sessions
        for sim in site.sims.values():
            await sim.wait_until(lambda sim=sim: _held(sim, DEFAULT_PROFILE_ID) == [Decimal(0)])

        # A car charges at each: both shares appear live, each the 16 A maximum (32 A fit in 40)
        for cp, sim in site.sims.items():
            await sim.plug_in(1, Ev(capacity_wh=80_000.0, soc=0.2, max_power_w=22_000.0))
            await sim.swipe(1, CARDS[cp][0])
        for sim in site.sims.values():
            await sim.wait_until(lambda sim=sim: _held(sim, tx_profile_id(1)) == [Decimal(16)])
        shares = panel.get_by_test_id("load-allocation").locator("tbody tr")
        await expect(shares).to_have_count(2)
        fleet = shares.filter(has_text="LOAD-A")
        await expect(fleet).to_contain_text("16 A")
        await expect(fleet).to_contain_text("fleet · priority 3")
        await expect(fleet).to_contain_text("Steered")
        other = shares.filter(has_text="LOAD-B")
        await expect(other).to_contain_text("16 A")
        await expect(other).to_contain_text("priority 1")
        await expect(panel.get_by_test_id("load-now")).to_contain_text("32 A on each phase")

        # The allocation over time: load per phase against the limit
        chart = panel.get_by_test_id("load-chart")
        await expect(chart.locator("svg.chart-svg path.chart-line")).to_have_count(4)
        await expect(chart.locator(".chart-legend")).to_contain_text("Load L1")
        await expect(chart.locator(".chart-legend")).to_contain_text("Limit")
        assert [str(v) for v in await audit(page)] == []
        await shot(page, "operator-site-load")

        # A window of 20 A from now: the limit in force drops, and the shares with it
        windows = panel.get_by_role("form", name="Add a window")
        await windows.get_by_label("Limit", exact=True).fill("20")
        await windows.get_by_label("Source").fill("grid-operator")
        await windows.get_by_role("button", name="Add window").click()
        await expect(in_force.locator(".tile-value")).to_have_text("20 A")
        await expect(in_force).to_contain_text("on each phase · lowered by grid-operator")
        window_rows = panel.get_by_test_id("load-windows").locator("tbody tr")
        await expect(window_rows).to_have_count(1)
        await expect(window_rows).to_contain_text("In force")
        await expect(panel.get_by_test_id("load-now")).to_contain_text("of 20 A on each phase")

        def within_20() -> bool:
            held = [_held(sim, tx_profile_id(1)) for sim in site.sims.values()]
            return all(len(h) == 1 for h in held) and sum(h[0] for h in held) <= 20

        for sim in site.sims.values():
            await sim.wait_until(within_20)

        # Deleted: the site's own limit is back
        await window_rows.get_by_role("button", name="Delete").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete window").click()
        await expect(in_force.locator(".tile-value")).to_have_text("40 A")
        await expect(in_force).to_contain_text("the site's own limit")
        await expect(window_rows).to_have_count(0)
        assert await _ok(await admin.get(f"/api/v1/sites/{site.site_id}/load/windows")) == []

        # Per phase: L3 is the weak one; the chart then draws each phase's own limit
        form = panel.get_by_role("form", name="Load management settings")
        await form.get_by_label("Limit given").select_option("phases")
        await expect(form.get_by_label("Limit", exact=True)).to_be_hidden()
        for phase, value in (("L1", "40"), ("L2", "40"), ("L3", "20")):
            await form.get_by_label(phase, exact=True).fill(value)
        await form.get_by_role("button", name="Save settings").click()
        await expect(in_force.locator(".tile-value")).to_have_text("40 / 40 / 20 A")
        await expect(chart.locator("svg.chart-svg path.chart-line")).to_have_count(6)
        await expect(chart.locator(".chart-legend")).to_contain_text("Limit L3")
        await expect(panel.get_by_test_id("load-now")).to_contain_text("L3 20 A")
        phases = (await _ok(await admin.get(f"/api/v1/sites/{site.site_id}/load")))["limit_a"]
        assert [Decimal(phases[p]) for p in ("l1", "l2", "l3")] == [40, 40, 20]

        # A viewer reads it all, and may change nothing
        viewer = await web.operator("a_viewer")
        seen = await _open_panel(viewer, site.site_id)
        await expect(seen.get_by_test_id("limit-in-force").locator(".tile-value")).to_have_text(
            "40 / 40 / 20 A"
        )
        await expect(seen.get_by_test_id("load-allocation").locator("tbody tr")).to_have_count(2)
        await expect(seen.locator("dl.facts")).to_contain_text("fleet: 3")
        await expect(seen.locator("form")).to_have_count(0)
        await expect(seen.get_by_role("button")).to_have_count(0)
        await expect(seen.locator("input")).to_have_count(0)
