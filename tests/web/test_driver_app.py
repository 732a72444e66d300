"""The driver web app on a phone: scan a QR code, register, start, watch, stop, receipt."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call
from playwright.async_api import Page, expect

from api.api_kit import PASSWORD, World
from kilowatt.stations import repository as stations

from support.browser import Web, shot
from support.ocpp_client import LibChargePoint, lib_charge_point
from support.steps import boot, now_iso, status

# 0.40 EUR/kWh + 1.00 EUR per session, 19 % VAT: 5 kWh cost 2.00 + 1.00 = 3.00, VAT 0.57.
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
CP = "HARBOUR-1"


async def _charger(world: World) -> str:
    """Acme's station at a site with a tariff; its connector 1's EVSE id (what the QR encodes)."""
    admin = await world.client("a_admin")
    site = await admin.post(
        "/api/v1/sites", json={"name": "Harbour Car Park", "address": "1 Quay Street"}
    )
    assert site.status_code == 201, site.text
    station = await admin.post(
        "/api/v1/stations",
        json={"charge_point_id": CP, "site_id": site.json()["id"], "connectors": 2},
    )
    assert station.status_code == 201, station.text
    tariff = await admin.post("/api/v1/tariffs", json={"name": "Standard", "tariff": TARIFF})
    assert tariff.status_code == 201, tariff.text
    assigned = await admin.post(f"/api/v1/tariffs/{tariff.json()['id']}/assignments", json={})
    assert assigned.status_code == 201, assigned.text
    async with world.server.node.sessions() as db:
        row = await stations.by_charge_point_id(db, CP)
        assert row is not None
    return f"DE*KWT*E{row.id}*1"


async def _command(cp: LibChargePoint, action: str) -> dict[str, Any]:
    """The next command ``action`` the charge point got (others, e.g. triggers, are skipped)."""
    while True:
        command: tuple[str, dict[str, Any]] = await cp.next_command()
        if command[0] == action:
            return command[1]


def _ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def _meter(
    cp: LibChargePoint, tx: int, wh: int, power_w: int, soc: int, minutes_ago: int
) -> None:
    await cp.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=tx,
            meter_value=[
                {
                    "timestamp": _ago(minutes_ago),
                    "sampledValue": [
                        {"value": str(wh)},
                        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
                        {"value": str(soc), "measurand": "SoC", "unit": "Percent"},
                    ],
                }
            ],
        )
    )


async def _shot(page: Page, name: str) -> None:
    """A full-page screenshot with the phone as tall as the page, so the bottom tab bar sits at
    the bottom (a full-page capture otherwise draws it where the 844 px screen ends)."""
    height = await page.evaluate("document.documentElement.scrollHeight")
    await page.set_viewport_size({"width": 390, "height": max(844, height)})
    await shot(page, name)
    await page.set_viewport_size({"width": 390, "height": 844})


async def _register(page: Page, email: str, *, screenshot: bool = False) -> None:
    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await expect(page.get_by_text("Your account will be with Acme Charging")).to_be_visible()
    await page.get_by_label("Your name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("a long enough password")
    if screenshot:
        await _shot(page, "driver-register")
    await page.get_by_role("button", name="Create account").click()


async def test_a_driver_charges_from_a_qr_code_and_gets_the_receipt(web: Web) -> None:
    evse = await _charger(web.world)
    async with lib_charge_point(web.world.server.ws_url(CP), CP) as cp:
        await boot(cp)
        page = await web.page(phone=True)

        # The QR code's link: the charger, its status and its price, before signing in.
        await page.goto(f"/app/start?evse={evse}")
        await expect(page.get_by_role("heading", name="Harbour Car Park")).to_be_visible()
        await expect(page.get_by_text("1 Quay Street")).to_be_visible()
        await expect(page.get_by_test_id("evse-id")).to_have_text(evse)
        await expect(page.get_by_text("Available", exact=True)).to_be_visible()
        price = page.get_by_test_id("price")
        await expect(price).to_contain_text("€0.476 per kWh")  # 0.40 + 19 % VAT
        await expect(price).to_contain_text("€1.19 once")
        await expect(page.get_by_text("Prices include 19 % VAT")).to_be_visible()

        # Registering keeps the QR context: back on the charger's page, signed in.
        await _register(page, "ada@example.com", screenshot=True)
        await expect(page).to_have_url(re.compile(r"/app/start\?evse="))
        await expect(page.get_by_test_id("account-name")).to_have_text("Ada Lovelace")
        await expect(page.get_by_test_id("live-state")).to_have_text("Live")
        # Signed in, the connector's status is live: the cable goes in, the page follows.
        await status(cp, 1, "Preparing")
        await expect(page.get_by_text("Ready — cable plugged in", exact=True)).to_be_visible()
        start = page.get_by_role("button", name="Start charging")
        await expect(start).to_be_enabled()
        await _shot(page, "driver-start")

        # Start: the charger accepts, and the session waits for its StartTransaction.
        await start.click()
        remote = await _command(cp, "RemoteStartTransaction")
        assert remote["connector_id"] == 1 and remote["id_tag"].startswith("APP-")
        await expect(page.get_by_role("heading", name="Waiting for the charger")).to_be_visible()
        await expect(page).to_have_url(re.compile(r"/app/sessions/\d+$"))
        await _shot(page, "driver-waiting")

        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag=remote["id_tag"], meter_start=1000, timestamp=_ago(30)
            )
        )
        tx = started.transaction_id
        await status(cp, 1, "Charging")
        energy = page.get_by_test_id("energy")
        await expect(energy).to_have_text("0.00 kWh")
        await expect(page.get_by_role("button", name="Stop charging")).to_be_visible()

        # Live progress from the charger's MeterValues, without reloading the page (the charge
        # began half an hour ago, so the readings are a plausible power).
        await _meter(cp, tx, 3500, 7200, 41, minutes_ago=20)
        await expect(energy).to_have_text("2.50 kWh")
        await expect(page.get_by_test_id("power")).to_have_text("7.2 kW")
        await expect(page.get_by_test_id("soc")).to_have_text("41 %")
        await _meter(cp, tx, 6000, 11000, 58, minutes_ago=10)
        await expect(energy).to_have_text("5.00 kWh")
        await expect(page.get_by_test_id("power")).to_have_text("11.0 kW")
        await expect(page.get_by_test_id("cost")).to_contain_text("€")
        await _shot(page, "driver-charging")

        # Stop: the charger answers RemoteStop, then sends its StopTransaction.
        await page.get_by_role("button", name="Stop charging").click()
        await _command(cp, "RemoteStopTransaction")
        await expect(page.get_by_role("heading", name="Charging complete")).to_be_visible()
        await cp.call(call.StopTransaction(transaction_id=tx, meter_stop=6000, timestamp=now_iso()))
        await status(cp, 1, "Available")

        # The receipt: 5 kWh x 0.40 + 1.00, 19 % VAT → 3.57 EUR, final (the charger's reading).
        total = page.get_by_test_id("receipt-total")
        await expect(total).to_have_text("€3.57")
        await expect(page.get_by_text("Provisional", exact=True)).to_have_count(0)
        await expect(page.get_by_test_id("receipt-energy")).to_have_text("5.00 kWh")
        lines = page.locator(".receipt-lines")
        await expect(lines).to_contain_text("Energy")
        await expect(lines).to_contain_text("€2.00")
        await expect(lines).to_contain_text("Session fee")
        await expect(lines).to_contain_text("VAT 19 %")
        await expect(lines).to_contain_text("€0.57")
        await expect(page.get_by_test_id("receipt-total-line")).to_have_text("€3.57")
        await _shot(page, "driver-receipt")

        # History lists the session; it opens the receipt again.
        await page.get_by_role("link", name="History").click()
        await expect(page.get_by_role("heading", name="My sessions")).to_be_visible()
        item = page.locator(".session-item")
        await expect(item).to_have_count(1)
        await expect(item).to_contain_text("€3.57")
        await expect(item).to_contain_text("Completed")
        await expect(item).to_contain_text("5.00 kWh")
        await _shot(page, "driver-history")
        await item.click()
        await expect(page.get_by_test_id("receipt-total")).to_have_text("€3.57")

        # Cards: the app tag the first start made, plus an RFID card, which the driver blocks.
        await page.get_by_role("link", name="Cards").click()
        await expect(page.get_by_test_id(f"card-{remote['id_tag']}")).to_contain_text("App tag")
        await page.get_by_label("Card number").fill("RFID-0042")
        await page.get_by_role("button", name="Add card").click()
        card = page.get_by_test_id("card-RFID-0042")
        await expect(card).to_contain_text("Active")
        await card.get_by_role("button", name="Block RFID-0042").click()
        await expect(card).to_contain_text("Blocked")
        await expect(card.get_by_role("button", name="Unblock RFID-0042")).to_be_visible()
        await _shot(page, "driver-cards")

    # The operator's side agrees: the card is blocked for the tenant.
    tokens = await (await web.world.client("a_admin")).get("/api/v1/tokens/RFID-0042")
    assert tokens.json()["status"] == "Blocked"


async def test_a_refused_start_says_so_and_offers_a_retry(web: Web) -> None:
    evse = await _charger(web.world)
    async with lib_charge_point(web.world.server.ws_url(CP), CP) as cp:
        await boot(cp)
        cp.answers["RemoteStartTransaction"] = "Rejected"
        page = await web.page(phone=True)
        await page.goto(f"/app/start?evse={evse}")
        await _register(page, "grace@example.com")
        await page.get_by_role("button", name="Start charging").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("The charger refused to start")
        await expect(alert).to_contain_text("Nothing was billed")
        await _shot(page, "driver-start-refused")
        # The charger changes its mind: the retry starts.
        cp.answers["RemoteStartTransaction"] = "Accepted"
        await page.get_by_role("button", name="Try again").click()
        await expect(page.get_by_role("heading", name="Waiting for the charger")).to_be_visible()
        # Cancelling before the charger starts bills nothing.
        await page.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_role("heading", name="Start cancelled")).to_be_visible()
        await expect(page.get_by_role("link", name="Try again")).to_be_visible()


async def test_an_unknown_charger_and_a_faulted_or_offline_one_are_explained(web: Web) -> None:
    evse = await _charger(web.world)
    page = await web.page(phone=True)
    await page.goto("/app/start?evse=DE*KWT*E999*1")
    await expect(page.get_by_role("alert")).to_contain_text("Charger not found")
    await expect(page.get_by_role("alert")).to_contain_text("DE*KWT*E999*1")
    await expect(page.get_by_role("link", name="Enter a charger ID")).to_be_visible()
    await _shot(page, "driver-unknown-charger")

    # The station has not connected: offline, and nobody can start.
    await page.goto(f"/app/start?evse={evse}")
    await expect(page.get_by_text("Charger offline", exact=True)).to_be_visible()
    await expect(page.get_by_test_id("connector-message")).to_have_text("The charger is offline.")

    async with lib_charge_point(web.world.server.ws_url(CP), CP) as cp:
        await boot(cp)
        await status(cp, 1, "Faulted", "GroundFailure")
        await page.reload()
        await expect(page.get_by_text("Out of order", exact=True)).to_be_visible()
        await expect(page.get_by_test_id("connector-message")).to_have_text(
            "The connector is faulted."
        )


async def test_signed_out_pages_ask_to_sign_in_and_come_back(web: Web) -> None:
    await web.world.user_id("driver")
    page = await web.page(phone=True)
    await page.goto("/app/")
    await expect(page.get_by_role("heading", name="Charge your car")).to_be_visible()
    await page.get_by_label("Or type the charger ID (EVSE ID)").fill("DE*KWT*E404*1")
    await page.get_by_role("button", name="Find the charger").click()
    await expect(page.get_by_role("alert")).to_contain_text("Charger not found")
    await page.goto("/app/sessions")
    await expect(page.get_by_role("heading", name="Sign in to charge")).to_be_visible()
    await page.get_by_label("E-mail").fill("driver@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/app/sessions$"))
    await expect(page.get_by_text("No sessions yet")).to_be_visible()
    await page.goto("/app/sessions/999")
    await expect(page.get_by_role("alert")).to_contain_text("Session not found")
    await page.get_by_role("link", name="Charge").click()
    await expect(page.get_by_role("heading", name="Hello, driver")).to_be_visible()
    await _shot(page, "driver-home")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Charge your car")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    await page.goto("/app/cards")
    await expect(page.get_by_role("heading", name="Sign in to charge")).to_be_visible()
