"""The operator dashboard's network pages: the overview, the stations and a station, live."""

from __future__ import annotations

import re

from ocpp.v16 import call
from playwright.async_api import Page, expect

from api.api_kit import World

from support.browser import Web, shot
from support.ocpp_client import lib_charge_point
from support.steps import boot, now_iso, status


async def _station(world: World, cp: str, connectors: int = 2) -> None:
    admin = await world.client("a_admin")
    response = await admin.post(
        "/api/v1/stations", json={"charge_point_id": cp, "connectors": connectors}
    )
    assert response.status_code == 201, response.text


def _meter(connector_id: int, transaction_id: int, wh: int, w: int) -> call.MeterValues:
    return call.MeterValues(
        connector_id=connector_id,
        transaction_id=transaction_id,
        meter_value=[
            {
                "timestamp": now_iso(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"},
                ],
            }
        ],
    )


async def _nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def _nav_menu(page: Page, name: str) -> None:
    await page.get_by_role("button", name="Menu").click()
    await _nav(page, name)


async def test_an_operator_watches_a_station_come_online_charge_and_unlock(web: Web) -> None:
    world = web.world
    await _station(world, "WEB-1")
    admin = await world.client("a_admin")
    response = await admin.post("/api/v1/tokens", json={"id_tag": "WEBCARD1"})
    assert response.status_code == 201, response.text

    page = await web.operator("a_admin")
    await expect(page.get_by_test_id("live-state")).to_contain_text("Live")
    online = page.get_by_test_id("tile-online")
    await expect(online).to_contain_text("0 / 1")
    await expect(page.get_by_test_id("alerts")).to_contain_text("WEB-1 has never connected")

    async with lib_charge_point(world.server.ws_url("WEB-1"), "WEB-1") as cp:
        await boot(cp)
        # the overview follows without a reload
        await expect(online).to_contain_text("1 / 1")
        await expect(page.get_by_test_id("tile-available")).to_contain_text("2 / 2")
        await expect(page.get_by_role("list", name="Recent events, newest first")).to_contain_text(
            "booted: VendorY Model-X"
        )
        counts = page.get_by_test_id("connector-counts")
        await expect(counts.locator("[data-status=Available]")).to_contain_text("2")
        await expect(page.get_by_role("status").filter(has_text="All clear")).to_be_visible()

        # a charge starts at the charger, and its energy and power show live
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="WEBCARD1", meter_start=10_000, timestamp=now_iso()
            )
        )
        tx = started.transaction_id
        await status(cp, 1, "Charging")
        await cp.call(_meter(1, tx, 11_500, 7200))
        await expect(page.get_by_test_id("tile-charging").locator(".tile-value")).to_have_text("1")
        await expect(page.get_by_test_id("tile-charging")).to_contain_text("7.2 kW")
        await expect(page.get_by_test_id("tile-energy")).to_contain_text("1.5 kWh")
        await shot(page, "operator-overview")

        await _nav(page, "Stations")
        row = page.locator("tr", has=page.get_by_role("link", name="WEB-1"))
        await expect(row.get_by_test_id("station-state")).to_contain_text("Online")
        await expect(row).to_contain_text("1 · Charging")
        await expect(row).to_contain_text("2 · Available")
        await expect(row).to_contain_text("VendorY Model-X")
        await status(cp, 2, "Faulted", "GroundFailure")
        await expect(row).to_contain_text("2 · Faulted")
        await shot(page, "operator-stations")

        await page.get_by_role("link", name="WEB-1").click()
        await expect(page.get_by_role("heading", name=re.compile("WEB-1"), level=1)).to_be_visible()
        await expect(page.get_by_test_id("status-1")).to_have_text("Charging")
        await expect(page.get_by_test_id("energy-1")).to_have_text("1.50 kWh")
        await expect(page.get_by_test_id("power-1")).to_have_text("7.2 kW")
        await expect(page.get_by_test_id("connector-2")).to_contain_text("GroundFailure")
        await cp.call(_meter(1, tx, 13_250, 11000))
        await expect(page.get_by_test_id("energy-1")).to_have_text("3.25 kWh")
        await expect(page.get_by_test_id("power-1")).to_have_text("11.0 kW")

        # unlock connector 2 from the page: the outcome comes back from the charger
        cp.answers["UnlockConnector"] = "Unlocked"
        await page.get_by_test_id("connector-2").get_by_role("button", name="Unlock").click()
        dialog = page.get_by_role("dialog", name="Unlock connector")
        await expect(dialog.get_by_label("Connector")).to_have_value("2")
        await dialog.get_by_role("button", name="Send UnlockConnector").click()
        outcomes = page.get_by_test_id("command-outcomes")
        await expect(outcomes.locator("li", has_text="UnlockConnector")).to_contain_text("Unlocked")
        assert await cp.next_command() == ("UnlockConnector", {"connector_id": 2})
        await shot(page, "operator-station")

        # a refusal is shown as such, and the command log lists both
        cp.answers["UnlockConnector"] = "UnlockFailed"
        await page.get_by_test_id("connector-1").get_by_role("button", name="Unlock").click()
        await page.get_by_role("button", name="Send UnlockConnector").click()
        await expect(outcomes.locator("li").first).to_contain_text("UnlockFailed")
        await page.get_by_role("tab", name="Commands").click()
        log = page.locator("#command-log")
        await expect(log.locator("tbody tr")).to_have_count(2)
        await expect(log).to_contain_text("Unlocked")

        # the station goes away: its page says so at once
        await page.get_by_role("tab", name="Status").click()
    await expect(page.locator(".station-header")).to_contain_text("Offline")


async def test_every_command_has_a_form_and_configuration_is_read(web: Web) -> None:
    world = web.world
    await _station(world, "WEB-CFG")
    async with lib_charge_point(world.server.ws_url("WEB-CFG"), "WEB-CFG") as cp:
        await boot(cp)
        page = await web.operator("a_operator")
        await page.goto("/dashboard/stations/WEB-CFG?tab=commands")
        buttons = page.locator("#send button[data-action]")
        await expect(buttons).to_have_count(26)  # every OCPP 1.6 central-system call

        await page.get_by_role("tab", name="Configuration").click()
        await expect(page.get_by_text("Not read yet")).to_be_visible()
        await page.get_by_role("button", name="Read from station").click()
        await expect(page.get_by_role("cell", name="HeartbeatInterval", exact=True)).to_be_visible()
        await page.get_by_role("button", name="Change HeartbeatInterval").click()
        dialog = page.get_by_role("dialog", name="Change configuration")
        await expect(dialog.get_by_label("Key")).to_have_value("HeartbeatInterval")
        await dialog.get_by_label("Value").fill("120")
        await dialog.get_by_role("button", name="Send ChangeConfiguration").click()
        await expect(
            page.get_by_test_id("command-outcomes").locator("li", has_text="ChangeConfiguration")
        ).to_contain_text("Accepted")
        row = page.locator("tr", has=page.get_by_role("cell", name="HeartbeatInterval", exact=True))
        await expect(row).to_contain_text("120")
        await page.get_by_role("tab", name="Commands").click()
        await expect(page.locator("#command-log tbody tr")).to_have_count(2)
        await expect(page.locator("#command-log tbody tr").first).to_contain_text("Accepted")
        await shot(page, "operator-station-commands")

        # a form that the charger's schema refuses keeps the dialog open with the reason
        await page.get_by_role("button", name="Data transfer").click()
        dialog = page.get_by_role("dialog", name="Data transfer")
        await dialog.get_by_label("Vendor id").fill("x" * 300)
        await dialog.get_by_role("button", name="Send DataTransfer").click()
        await expect(dialog.get_by_role("alert")).to_contain_text("must be shorter than")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()


async def test_a_viewer_sees_no_command_buttons(web: Web) -> None:
    await _station(web.world, "WEB-VIEW")
    async with lib_charge_point(web.world.server.ws_url("WEB-VIEW"), "WEB-VIEW") as cp:
        await boot(cp)
        page = await web.operator("a_viewer")
        await _nav(page, "Stations")
        await expect(page.get_by_role("link", name="WEB-VIEW")).to_be_visible()
        await expect(page.get_by_role("button", name="Add station")).to_have_count(0)
        await page.get_by_role("link", name="WEB-VIEW").click()
        await expect(page.get_by_test_id("status-1")).to_have_text("Available")
        await expect(page.get_by_role("button", name="Unlock")).to_have_count(0)
        await page.get_by_role("tab", name="Commands").click()
        await expect(
            page.get_by_text("can see this station's commands but not send")
        ).to_be_visible()
        await expect(page.locator("button[data-action]")).to_have_count(0)
        await page.get_by_role("tab", name="Configuration").click()
        await expect(page.get_by_role("button", name="Read from station")).to_have_count(0)


async def test_the_message_log_filters(web: Web) -> None:
    world = web.world
    await _station(world, "WEB-LOG")
    async with lib_charge_point(world.server.ws_url("WEB-LOG"), "WEB-LOG") as cp:
        await boot(cp)
        page = await web.operator("a_admin")
        await expect(page.get_by_test_id("tile-online")).to_contain_text("1 / 1")
        # a command the charger does not implement: an alert on the overview, a CALLERROR in
        # the log
        admin = await world.client("a_admin")
        response = await admin.post(
            "/api/v1/stations/WEB-LOG/commands/GetLocalListVersion", json={}
        )
        assert response.json()["state"] == "error", response.text
        await expect(page.get_by_test_id("alerts")).to_contain_text(
            "GetLocalListVersion to WEB-LOG failed: NotImplemented"
        )
        await page.reload()
        await expect(page.get_by_test_id("alerts")).to_contain_text(
            "1 of 1 commands failed in the last 24 h"
        )

        await page.goto("/dashboard/stations/WEB-LOG?tab=messages")
        messages = page.get_by_test_id("message")
        # boot + 3 status notifications + the command, each with its answer
        await expect(messages).to_have_count(10)
        # newest first: the CALLERROR answer to the command
        await expect(messages.first).to_contain_text("CALLERROR")

        await page.get_by_label("Action", exact=True).fill("BootNotification")
        await page.get_by_role("button", name="Apply").click()
        await expect(messages).to_have_count(2)
        await expect(messages.nth(0)).to_contain_text("→ out")
        await expect(messages.nth(1)).to_contain_text("← in")
        # the frame, pretty-printed
        await messages.nth(1).locator("summary").click()
        await expect(messages.nth(1).locator("pre")).to_contain_text(
            '"chargePointVendor": "VendorY"'
        )
        await shot(page, "operator-station-messages")

        await page.get_by_label("Action", exact=True).fill("")
        await page.get_by_label("Direction").select_option("out")
        await page.get_by_label("Type").select_option("2")
        await expect(messages).to_have_count(1)
        await expect(messages).to_contain_text("GetLocalListVersion")

        await page.get_by_role("button", name="Clear").click()
        await page.get_by_label("Errors only").check()
        await expect(messages).to_have_count(1)
        await expect(messages).to_contain_text("NotImplemented")

        await page.get_by_role("button", name="Clear").click()
        await page.get_by_label("Transaction id").fill("4242")
        await page.get_by_role("button", name="Apply").click()
        await expect(page.get_by_text("No messages match")).to_be_visible()

        # following live: a new heartbeat appears without asking
        await page.get_by_role("button", name="Clear").click()
        await expect(messages).to_have_count(10)
        await status(cp, 1, "Preparing")
        await expect(messages).to_have_count(12)


async def test_an_admin_adds_a_station_and_a_tablet_gets_a_menu(web: Web) -> None:
    page = await web.operator("a_admin")
    await page.set_viewport_size({"width": 820, "height": 1180})
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav).not_to_be_in_viewport()
    await page.get_by_role("button", name="Menu").click()
    await expect(nav).to_be_in_viewport()
    await nav.get_by_role("link", name="Stations").click()
    await expect(page.get_by_role("heading", name="Stations", level=1)).to_be_visible()
    await expect(nav).not_to_be_in_viewport()
    await expect(page.get_by_text("No stations yet")).to_be_visible()

    await page.get_by_role("button", name="Add station").click()
    dialog = page.get_by_role("dialog", name="Add a station")
    await dialog.get_by_label("Charge point id").fill("WEB-NEW")
    await dialog.get_by_label("Password (optional)").fill("short")
    await dialog.get_by_role("button", name="Add station").click()
    await expect(dialog.get_by_role("alert")).not_to_be_empty()
    await dialog.get_by_label("Password (optional)").fill("")
    await dialog.get_by_role("button", name="Add station").click()
    await expect(dialog).to_be_hidden()
    row = page.locator("tr", has=page.get_by_role("link", name="WEB-NEW"))
    await expect(row).to_contain_text("Offline")
    await expect(row).to_contain_text("1 · Unavailable")

    await page.get_by_label("Search").fill("nothing like it")
    await expect(page.get_by_text("No station matches")).to_be_visible()
    await page.get_by_label("Search").fill("web-new")
    await expect(row).to_be_visible()
    await shot(page, "operator-stations-tablet")

    await page.get_by_role("link", name="WEB-NEW").click()
    await expect(page.locator(".station-header")).to_contain_text("never connected")
    await expect(page.get_by_test_id("status-2")).to_have_text("Unavailable")
    # the tabs work from the keyboard
    await page.get_by_role("tab", name="Status").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Commands")).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page.get_by_role("tab", name="Commands")).to_be_focused()
    await page.keyboard.press("End")
    await expect(page.get_by_role("tabpanel", name="Message log")).to_be_visible()
    await page.keyboard.press("Home")
    await shot(page, "operator-station-tablet")
    await _nav_menu(page, "Overview")
    await expect(page.get_by_test_id("alerts")).to_contain_text("WEB-NEW has never connected")
    await expect(nav).not_to_be_in_viewport()
    await shot(page, "operator-overview-tablet")


async def test_a_connectors_qr_code_opens_the_driver_app(web: Web) -> None:
    """The sticker for a charger: the QR code of a connector, shown and downloadable."""
    world = web.world
    await _station(world, "WEB-QR", connectors=1)
    page = await web.operator("a_viewer")  # reading is enough to print stickers
    await page.goto("/dashboard/stations/WEB-QR")
    await page.get_by_test_id("connector-1").get_by_role("button", name="QR code").click()
    sticker = page.get_by_role("dialog", name="QR code · connector 1")
    image = sticker.get_by_role("img")
    await expect(image).to_have_attribute("alt", re.compile(r"/app/start\?evse=DE\*KWT\*E\d+\*1$"))
    assert await image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    link = sticker.locator("a[href*='/app/start?evse=']")
    target = await link.get_attribute("href")
    assert target is not None and target.startswith(world.server.node.settings.public_url)
    await expect(sticker.get_by_role("link", name="Download PNG")).to_have_attribute(
        "download", re.compile(r"^DE\*KWT\*E\d+\*1\.png$")
    )
    await shot(page, "operator-connector-qr")
    await sticker.get_by_role("button", name="Close").click()
    await expect(sticker).to_be_hidden()
