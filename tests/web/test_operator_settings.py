"""The operator dashboard's settings: a station's registration, password, site and connectors'
maximum power, the sites page, and outage exclusions on the analytics page."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from playwright.async_api import Page, expect

from analytics import scenario
from api.api_kit import World

from support.browser import Web, shot
from support.ocpp_client import lib_charge_point
from support.steps import boot


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _pending_station(world: World, cp: str) -> None:
    admin = await world.client("a_admin")
    response = await admin.post(
        "/api/v1/stations",
        json={"charge_point_id": cp, "connectors": 2, "registration_status": "Pending"},
    )
    assert response.status_code == 201, response.text


async def _nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def _no_toasts(page: Page) -> None:
    """Clear the passing notices before a screenshot (they fade by themselves after 6 s)."""
    await page.locator(".toasts").evaluate("host => host.replaceChildren()")


def _local(at: datetime) -> str:
    """A datetime-local input's value (the test browser runs in UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


async def test_an_admin_accepts_secures_places_and_limits_a_station(web: Web) -> None:
    world = web.world
    await _pending_station(world, "SET-1")
    admin = await world.client("a_admin")

    async with lib_charge_point(world.server.ws_url("SET-1"), "SET-1") as cp:
        assert (await boot(cp)).status == "Pending"
        page = await web.operator("a_admin")
        await page.goto("/dashboard/stations/SET-1")
        banner = page.get_by_test_id("registration-banner")
        await expect(banner).to_contain_text("waiting to be accepted")
        settings = page.locator("#settings")
        await expect(settings).to_contain_text("Pending")

        # accept it, and ask it to boot again: the next boot is answered Accepted
        await banner.get_by_role("button", name="Accept").click()
        dialog = page.get_by_role("dialog", name="Accept SET-1")
        await expect(dialog.get_by_label("Ask it to boot again now")).to_be_checked()
        await dialog.get_by_role("button", name="Accept station").click()
        assert await cp.next_command() == (
            "TriggerMessage",
            {"requested_message": "BootNotification"},
        )
        await expect(banner).to_be_hidden()
        await expect(page.locator("#details")).to_contain_text("Accepted")
        assert (await boot(cp)).status == "Accepted"

        # a generated password, shown once
        await settings.get_by_role("button", name="Set password…").click()
        dialog = page.get_by_role("dialog", name="Set a password for SET-1")
        await expect(dialog.get_by_label("Generate a random key")).to_be_checked()
        await dialog.get_by_role("button", name="Set password").click()
        secret = page.get_by_role("dialog", name="Password of SET-1").get_by_test_id("secret")
        password = await secret.input_value()
        assert re.fullmatch(r"[A-Za-z0-9]{24}", password), password
        await page.get_by_role("button", name="I have saved it").click()
        await expect(settings).to_contain_text("The station must authenticate to connect.")
        await expect(settings.get_by_role("button", name="Rotate password…")).to_be_visible()

    # without it, or with a wrong one, the station is refused; with it, it connects
    for headers in (None, _basic("SET-1", "not-the-right-password")):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with lib_charge_point(world.server.ws_url("SET-1"), "SET-1", headers=headers):
                pass
        assert refused.value.response.status_code == 401
    async with lib_charge_point(
        world.server.ws_url("SET-1"), "SET-1", headers=_basic("SET-1", password)
    ) as cp:
        assert (await boot(cp)).status == "Accepted"
        await expect(page.locator(".station-header")).to_contain_text("Online")

        # a connector's maximum power: kW in the page, W in the API; the API's limit is shown
        connector = page.get_by_test_id("connector-1")
        await connector.get_by_role("button", name="Max power of connector 1").click()
        dialog = page.get_by_role("dialog", name="Max power · connector 1")
        await dialog.get_by_label("Max power (kW)").fill("2500")
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog.get_by_role("alert")).to_contain_text("max_power_w")
        await dialog.get_by_label("Max power (kW)").fill("22")
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog).to_have_count(0)
        await expect(connector).to_contain_text("max 22.0 kW")
        response = await admin.get("/api/v1/stations/SET-1/connectors")
        limits = {c["connector_id"]: c["max_power_w"] for c in response.json()["items"]}
        assert limits[1] == 22_000 and limits[2] is None
        await _no_toasts(page)
        await shot(page, "operator-station-settings")

        # a site, created on the sites page, with the station placed at it
        response = await admin.post(
            "/api/v1/sites", json={"name": "Depot North", "address": "Unit 4, Lakeside Estate"}
        )
        assert response.status_code == 201, response.text
        response = await admin.post("/api/v1/stations", json={"charge_point_id": "SET-2"})
        assert response.status_code == 201, response.text
        await _nav(page, "Sites")
        await expect(page.locator("section.st-site", has_text="Depot North")).to_contain_text(
            "0 stations"
        )
        await page.get_by_role("button", name="New site").click()
        dialog = page.get_by_role("dialog", name="New site")
        await dialog.get_by_label("Name").fill("Harbour car park")
        await dialog.get_by_label("Address").fill("1 Quay Street, Portsmouth")
        await dialog.get_by_role("button", name="Create site").click()
        site = page.locator("section.st-site", has_text="Harbour car park")
        await expect(site.get_by_test_id("site-counts")).to_contain_text("0 stations")
        await expect(page.get_by_test_id("unplaced")).to_contain_text("SET-1")
        await site.get_by_role("button", name="Stations…").click()
        dialog = page.get_by_role("dialog", name="Stations at Harbour car park")
        await dialog.get_by_label("SET-1").check()
        await dialog.get_by_role("button", name="Save").click()
        await expect(site.get_by_test_id("site-counts")).to_contain_text("1 station · 1 online")
        await expect(site.get_by_role("link", name="SET-1")).to_be_visible()
        await expect(page.get_by_test_id("unplaced")).not_to_contain_text("SET-1")
        await expect(page.get_by_test_id("unplaced")).to_contain_text("SET-2")
        station = (await admin.get("/api/v1/stations/SET-1")).json()
        sites = (await admin.get("/api/v1/sites")).json()["items"]
        (harbour,) = (s for s in sites if s["name"] == "Harbour car park")
        assert station["site_id"] == harbour["id"]
        await _no_toasts(page)
        await shot(page, "operator-sites")

        # a site with stations is not deleted: the API's refusal is shown
        await site.get_by_role("button", name="Delete").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete site").click()
        refusal = page.get_by_role("dialog", name="Harbour car park was not deleted")
        await expect(refusal).to_contain_text("Site in use")
        await refusal.get_by_role("button", name="Close").click()
        await expect(site).to_be_visible()

        # an edit
        await site.get_by_role("button", name="Edit").click()
        dialog = page.get_by_role("dialog", name="Edit Harbour car park")
        await dialog.get_by_label("Address").fill("2 Quay Street, Portsmouth")
        await dialog.get_by_role("button", name="Save").click()
        await expect(site).to_contain_text("2 Quay Street, Portsmouth")

        # the station's page names its site
        await site.get_by_role("link", name="SET-1").click()
        await expect(page.locator("#settings")).to_contain_text("Harbour car park")


async def test_an_outage_exclusion_changes_uptime(web: Web) -> None:
    world = web.world
    registered = datetime.now(UTC) - timedelta(days=2)
    # never connected since its registration: down the whole time
    await scenario.station(world, world.a, "EXC-1", created_at=registered, online=False)
    page = await web.operator("a_admin")
    await _nav(page, "Analytics")
    row = page.get_by_test_id("uptime").get_by_role("row").filter(has_text="EXC-1").first
    await expect(row).to_contain_text("0.00 %")
    await expect(page.get_by_text("No exclusions in this period.")).to_be_visible()

    await page.get_by_role("button", name="Add exclusion").click()
    dialog = page.get_by_role("dialog", name="Add an outage exclusion")
    await dialog.get_by_label("Station").select_option("EXC-1")
    await dialog.get_by_label("From", exact=True).fill(_local(registered - timedelta(hours=1)))
    await dialog.get_by_label("To", exact=True).fill(_local(datetime.now(UTC) + timedelta(days=1)))
    await dialog.get_by_label("Reason").select_option("vehicle_fault")
    await expect(dialog).to_contain_text("Excluded by NEVI only")
    await dialog.get_by_label("Reason").select_option("utility")
    await expect(dialog).to_contain_text("Excluded by NEVI and CEC.")
    await dialog.get_by_label("Note (optional)").fill("grid outage, ticket 4711")
    await dialog.get_by_role("button", name="Add exclusion").click()
    await expect(dialog).to_have_count(0)

    exclusions = page.get_by_test_id("exclusions")
    await expect(exclusions).to_contain_text("ticket 4711")
    await expect(exclusions).to_contain_text("Utility outage")
    row = page.get_by_test_id("uptime").get_by_role("row").filter(has_text="EXC-1").first
    await expect(row).to_contain_text("100.00 %")
    await _no_toasts(page)
    await shot(page, "operator-analytics-exclusions")

    await exclusions.get_by_role("button", name=re.compile("Delete the exclusion of EXC-1")).click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete exclusion").click()
    await expect(page.get_by_text("No exclusions in this period.")).to_be_visible()
    row = page.get_by_test_id("uptime").get_by_role("row").filter(has_text="EXC-1").first
    await expect(row).not_to_contain_text("100.00 %")


async def test_a_viewer_sees_no_settings_actions(web: Web) -> None:
    world = web.world
    await _pending_station(world, "SET-V")
    await scenario.site(world, world.a, "Depot")
    registered = datetime.now(UTC) - timedelta(days=1)
    await scenario.station(world, world.a, "EXC-V", created_at=registered, online=False)
    admin = await world.client("a_admin")
    response = await admin.post(
        "/api/v1/analytics/exclusions",
        json={
            "station": "EXC-V",
            "from": scenario.iso(registered),
            "to": scenario.iso(registered + timedelta(hours=2)),
            "reason": "maintenance",
        },
    )
    assert response.status_code == 201, response.text

    page = await web.operator("a_viewer")
    await page.goto("/dashboard/stations/SET-V")
    # the viewer is told the station waits, but cannot accept it
    banner = page.get_by_test_id("registration-banner")
    await expect(banner).to_contain_text("waiting to be accepted")
    await expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    await expect(page.locator("#settings")).to_have_count(0)
    await expect(page.get_by_test_id("connector-1")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Max power"))).to_have_count(0)

    await _nav(page, "Sites")
    site = page.locator("section.st-site", has_text="Depot")
    await expect(site).to_be_visible()
    await expect(page.get_by_role("button", name="New site")).to_have_count(0)
    await expect(site.get_by_role("button")).to_have_count(0)

    await _nav(page, "Analytics")
    await expect(page.get_by_test_id("exclusions")).to_contain_text("Scheduled maintenance")
    await expect(page.get_by_role("button", name="Add exclusion")).to_have_count(0)
    await expect(page.get_by_test_id("exclusions").get_by_role("button")).to_have_count(0)
