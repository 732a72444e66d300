"""A station page's Smart charging and Local list tabs, driven in the browser against Kilowatt's
simulated charger (``kilowatt.simulator``), which holds profiles and a local list as a charger
does: what the page shows is checked against what the station really holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from playwright.async_api import Locator, Page, expect

from api.api_kit import World
from kilowatt.simulator import SimulatedStation, SimulatorConfig

from support.a11y import audit, audit_focus
from support.browser import Web, shot

BOUND = 60  # seconds the simulated station may live in one test


async def _register(world: World, cp: str) -> None:
    admin = await world.client("a_admin")
    response = await admin.post("/api/v1/stations", json={"charge_point_id": cp, "connectors": 2})
    assert response.status_code == 201, response.text


@asynccontextmanager
async def _simulated(world: World, cp: str) -> AsyncIterator[SimulatedStation]:
    """Acme's station ``cp``, registered, connected and booted."""
    await _register(world, cp)
    async with _connected(world, cp) as sim:
        yield sim


@asynccontextmanager
async def _connected(world: World, cp: str) -> AsyncIterator[SimulatedStation]:
    """The simulated charger ``cp`` (registered already), connected and booted; it drives no
    session by itself."""
    config = SimulatorConfig(
        url=f"ws://127.0.0.1:{world.server.port}/ocpp",
        auto_sessions=False,
        reconnect_min=0.05,
        reconnect_max=0.2,
        seed=1,
        max_power_w=22_000.0,
    )
    sim = SimulatedStation(config, cp)
    async with asyncio.timeout(BOUND), sim:
        await sim.connect()
        await sim.boot()
        yield sim


def _held(sim: SimulatedStation) -> list[tuple[int, str, Decimal]]:
    """(connector, purpose, first period's limit) of every profile the station holds."""
    return sorted(
        (
            h.connector_id,
            str(h.profile.charging_profile_purpose),
            Decimal(str(h.profile.charging_schedule.charging_schedule_period[0].limit)),
        )
        for h in sim.profiles.held
    )


def _cells(row: Locator) -> Locator:
    return row.locator("td")


async def _accessible(page: Page) -> None:
    """The page as it is now (answers and dialogs the page tour does not open) passes the
    checks of test_accessibility.py."""
    violations = [str(v) for v in await audit(page) + await audit_focus(page)]
    assert not violations, violations


async def _ask_composite(page: Page, connector: str) -> Locator:
    """Ask for the composite schedule of ``connector`` for an hour; its rows (the visible
    table's, not the chart's hidden one)."""
    form = page.get_by_role("form", name="Composite schedule")
    await form.get_by_label("Connector").select_option(connector)
    await form.get_by_label("Duration").select_option("3600")
    await form.get_by_label("Unit").select_option("A")
    result = page.get_by_test_id("composite")
    await result.evaluate("element => element.replaceChildren()")  # no stale answer counts
    await form.get_by_role("button", name="Ask the station").click()
    await expect(result.get_by_test_id("composite-status")).to_contain_text("Accepted")
    return result.locator(".table-wrap tbody tr")


async def test_an_operator_limits_a_connector_to_16_a_sees_the_schedule_and_clears_it(
    web: Web,
) -> None:
    world = web.world
    async with _simulated(world, "WEB-SC") as sim:
        page = await web.operator("a_operator")
        await page.goto("/dashboard/stations/WEB-SC?tab=charging")
        installed = page.get_by_test_id("installed-profiles")
        await expect(installed).to_contain_text("No charging profile installed")

        form = page.get_by_role("form", name="Apply a limit")
        await form.get_by_label("Apply to").select_option("1")
        await form.get_by_label("Limit").fill("16")
        await form.get_by_label("Unit").select_option("A")
        await form.get_by_role("button", name="Apply limit").click()
        await expect(page.get_by_test_id("limit-outcome")).to_contain_text(
            "Accepted Connector 1 is limited to 16 A."
        )
        rows = installed.locator("tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("TxDefaultProfile")
        await expect(rows.first).to_contain_text("from the start: 16 A")
        assert _held(sim) == [(1, "TxDefaultProfile", Decimal(16))]
        history = page.get_by_test_id("profile-history").locator("tbody tr")
        await expect(history).to_have_count(1)
        await expect(history.first).to_contain_text("set")
        await expect(history.first).to_contain_text("Accepted")

        # a limit set elsewhere (the API, a load manager) shows up live
        admin = await world.client("a_admin")
        response = await admin.post(
            "/api/v1/stations/WEB-SC/limit", json={"connector_id": 0, "limit": "32", "unit": "A"}
        )
        assert response.json()["status"] == "Accepted", response.text
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("ChargePointMaxProfile")
        await expect(history).to_have_count(2)

        # the station's composite for connector 1 holds it at 16 A, as Kilowatt expects
        periods = await _ask_composite(page, "1")
        await expect(periods).to_have_count(1)
        await expect(_cells(periods.first).nth(2)).to_have_text("16 A")
        await expect(_cells(periods.first).nth(3)).to_have_text("16 A")
        await expect(_cells(periods.first).nth(4)).to_have_text("matches")
        chart = page.get_by_role("img", name="Composite schedule of connector 1")
        await expect(chart).to_be_visible()
        await _accessible(page)
        await shot(page, "operator-station-charging")

        # clear the 16 A profile: only the station's 32 A maximum is left
        await installed.get_by_role("button", name="Clear profile 901001").click()
        confirm = page.get_by_role("dialog", name="Clear profile 901001?")
        await expect(confirm).to_be_visible()
        await _accessible(page)
        await confirm.get_by_role("button", name="Clear profile").click()
        await expect(page.get_by_test_id("clear-outcome")).to_contain_text("Profile 901001 cleared")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("ChargePointMaxProfile")
        assert _held(sim) == [(0, "ChargePointMaxProfile", Decimal(32))]
        await expect(history).to_have_count(3)
        await expect(history.first).to_contain_text("clear")

        periods = await _ask_composite(page, "1")
        await expect(periods).to_have_count(1)
        await expect(_cells(periods.first).nth(3)).to_have_text("32 A")
        await expect(_cells(periods.first).nth(4)).to_have_text("matches")


async def test_an_admin_synchronises_a_stations_local_list_and_narrows_it_to_a_group(
    web: Web,
) -> None:
    world = web.world
    admin = await world.client("a_admin")
    for body in (
        {"id_tag": "LL-CARD-1"},
        {"id_tag": "LL-CARD-2", "token_group": "fleet"},
        {"id_tag": "LL-CARD-3", "status": "Blocked"},
    ):
        response = await admin.post("/api/v1/tokens", json=body)
        assert response.status_code == 201, response.text

    # before the station first connects: nothing sent, every card waiting to be added
    await _register(world, "WEB-LL")
    page = await web.operator("a_admin")
    await page.goto("/dashboard/stations/WEB-LL?tab=local-list")
    await expect(page.get_by_test_id("local-list-state")).to_have_text("Never synchronised")
    await expect(page.get_by_test_id("local-list-version")).to_have_text("none acknowledged")
    await expect(page.get_by_test_id("local-list-pending")).to_have_text(
        "3 to add or change, 0 to remove"
    )
    entries = page.get_by_test_id("local-list-entries").locator("tbody tr")
    await expect(entries).to_have_count(3)
    blocked = entries.filter(has_text="LL-CARD-3")
    await expect(blocked).to_contain_text("Blocked")
    await expect(blocked.locator("td").nth(4)).to_have_text("No")
    await expect(blocked.locator("td").nth(5)).to_have_text("add")

    # connected, the operator forces a Full list (Kilowatt may have sent one by itself on
    # connection already: a Full is sent whatever the station holds)
    async with _connected(world, "WEB-LL") as sim:
        sync = page.get_by_role("form", name="Synchronise the local list")
        await sync.get_by_label("Full: replace the whole list").check()
        await sync.get_by_role("button", name="Synchronise now").click()
        outcome = page.get_by_test_id("sync-outcome")
        await expect(outcome).to_contain_text("Accepted Full update")
        assert sorted(sim.local_list.entries) == ["LL-CARD-1", "LL-CARD-2", "LL-CARD-3"]
        version = str(sim.local_list.version)
        await expect(outcome).to_contain_text(f"version {version}")
        await expect(page.get_by_test_id("local-list-version")).to_have_text(version)
        await expect(page.get_by_test_id("local-list-state")).to_have_text("In sync")
        await expect(page.get_by_test_id("local-list-size")).to_have_text("3 (3 wanted)")
        await expect(page.get_by_test_id("local-list-pending")).to_have_text("nothing")
        await expect(entries.locator("td:nth-child(5)")).to_have_text(["Yes", "Yes", "Yes"])
        await _accessible(page)
        await shot(page, "operator-station-local-list")

        # only the fleet: the station is brought in step in the background, the page follows
        await page.get_by_role("button", name="Change token group").click()
        dialog = page.get_by_role("dialog", name="Token group of WEB-LL's list")
        await dialog.get_by_label("Token group").fill("fleet")
        await _accessible(page)
        await dialog.get_by_role("button", name="Save").click()
        await expect(page.get_by_test_id("local-list-group")).to_have_text("fleet")
        await expect(page.get_by_test_id("local-list-size")).to_have_text("1 (1 wanted)")
        await expect(entries).to_have_count(1)
        await expect(entries.first).to_contain_text("LL-CARD-2")
        assert list(sim.local_list.entries) == ["LL-CARD-2"]
        await expect(page.get_by_test_id("local-list-version")).to_have_text(
            str(sim.local_list.version)
        )
        assert sim.local_list.version > int(version)

    # offline: the page says why nothing was sent
    await expect(page.locator(".station-header")).to_contain_text("Offline")
    await sync.get_by_role("button", name="Synchronise now").click()
    await expect(outcome.get_by_role("alert")).to_contain_text("Station offline")
    await _accessible(page)


async def test_a_viewer_reads_profiles_and_the_list_but_changes_nothing(web: Web) -> None:
    await _register(web.world, "WEB-RO")
    page = await web.operator("a_viewer")
    await page.goto("/dashboard/stations/WEB-RO?tab=charging")
    await expect(page.get_by_test_id("installed-profiles")).to_contain_text(
        "No charging profile installed"
    )
    await expect(
        page.get_by_text("can see this station's charging profiles but not")
    ).to_be_visible()
    await expect(page.get_by_role("form", name="Apply a limit")).to_have_count(0)
    await expect(page.get_by_role("button", name="Clear all profiles")).to_have_count(0)
    # reading the composite schedule changes nothing on the station: viewers may ask
    await expect(page.get_by_role("button", name="Ask the station")).to_be_visible()

    await page.get_by_role("tab", name="Local list").click()
    await expect(page.get_by_test_id("local-list-state")).to_have_text("Never synchronised")
    await expect(page.get_by_text("can see this station's local list but not")).to_be_visible()
    await expect(page.get_by_role("button", name="Synchronise now")).to_have_count(0)
    await expect(page.get_by_role("button", name="Change token group")).to_have_count(0)
    await expect(page.get_by_test_id("local-list-entries")).to_contain_text("No entries")
