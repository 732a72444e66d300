"""The operator dashboard's sessions: a real charge point charges with an RFID card, the operator
watches the session in the list (live), opens it (energy chart, cost breakdown, receipt) and
exports the CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call
from playwright.async_api import Page, expect

from api.api_kit import World

from support.browser import Web, shot
from support.ocpp_client import LibChargePoint, lib_charge_point
from support.steps import boot

# FLAT 1.00; ENERGY 0.40/kWh; TIME 1.20/h; PARKING_TIME 6.00/h after 10 min; VAT 19 %. The
# charger's readings (below) make the bill of tests/billing/test_billing_flows.py: 9.76 EUR.
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 10,
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00"},
                {"type": "ENERGY", "price": "0.40", "step_size": 1},
                {"type": "TIME", "price": "1.20", "step_size": 1},
                {"type": "PARKING_TIME", "price": "6.00", "step_size": 1},
            ]
        }
    ],
}
STATION = "WEB-CP-1"
CARD = "WEB-CARD-1"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def network(world: World) -> None:
    """Acme's station, a tariff for the whole network, and the driver's card."""
    admin = await world.client("a_admin")
    created = await admin.post("/api/v1/stations", json={"charge_point_id": STATION})
    assert created.status_code == 201, created.text
    tariff = await admin.post("/api/v1/tariffs", json={"name": "Public AC", "tariff": TARIFF})
    assert tariff.status_code == 201, tariff.text
    assigned = await admin.post(f"/api/v1/tariffs/{tariff.json()['id']}/assignments", json={})
    assert assigned.status_code == 201, assigned.text
    driver = await world.user_id("driver")
    card = await admin.post("/api/v1/tokens", json={"id_tag": CARD, "user_id": driver})
    assert card.status_code == 201, card.text


async def start_charging(cp: LibChargePoint) -> int:
    """The card at the charger: StartTransaction and two readings (energy and power)."""
    started = await cp.call(
        call.StartTransaction(connector_id=1, id_tag=CARD, meter_start=1000, timestamp=at(0))
    )
    for minutes, wh, w in ((30, 6000, 10000), (60, 11000, 10000)):
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": at(minutes),
                        "sampledValue": [
                            {"value": str(wh), "measurand": "Energy.Active.Import.Register"},
                            {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            )
        )
    return int(started.transaction_id)


def session_row(page: Page) -> Any:
    return page.locator("tbody tr").filter(has_text=STATION)


async def test_an_operator_follows_a_session_to_its_receipt_and_exports_it(
    web: Web, world: World
) -> None:
    await network(world)
    page = await web.operator("a_admin")
    async with lib_charge_point(world.server.ws_url(STATION), STATION) as cp:
        await boot(cp)
        tx = await start_charging(cp)
        await page.get_by_role("link", name="Sessions").click()
        await expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()
        row = session_row(page)
        await expect(row).to_contain_text("Charging")
        await expect(row).to_contain_text(CARD)
        await expect(row).to_contain_text("10.00 kWh")
        # The charger stops: the row turns completed by itself (session.ended, live).
        await cp.call(
            call.StopTransaction(
                transaction_id=tx, meter_stop=11000, timestamp=at(90), reason="Local"
            )
        )
        await expect(row).to_contain_text("Completed")
    await expect(row).to_contain_text("€9.76")
    await shot(page, "operator-sessions")

    # The state filter
    await page.get_by_label("State").select_option("failed")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("No sessions match these filters.")).to_be_visible()
    await page.get_by_role("button", name="Reset").click()
    await expect(row).to_contain_text("Completed")

    # The CSV export: a download fetched with the operator's token
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("sessions-")
    path = await download.path()
    header, *lines = path.read_text().splitlines()
    columns = header.split(",")
    rows = [dict(zip(columns, line.split(","), strict=True)) for line in lines]
    assert [(r["total"], r["energy_wh"]) for r in rows] == [("9.76", "10000")]
    session_id = rows[0]["session_id"]

    # The session's own page
    await row.get_by_role("link").click()
    await expect(page).to_have_url(f"{world.server.http_url}/dashboard/sessions/{session_id}")
    await expect(page.get_by_role("heading", name=f"Session #{session_id}")).to_be_visible()
    await expect(page.get_by_role("img", name="Energy delivered (kWh)")).to_be_visible()
    await expect(page.get_by_role("img", name="Charging power (kW)")).to_be_visible()
    cost = page.get_by_role("region", name="Cost")
    for item in ("Energy", "Charging time", "Idle time", "Session fee", "VAT 19 %"):
        await expect(cost.get_by_role("table")).to_contain_text(item)
    await expect(page.get_by_test_id("cost-total")).to_have_text("€9.76")
    await expect(page.get_by_test_id("receipt-number")).to_have_text(f"ACME-{int(session_id):08d}")
    timeline = page.get_by_role("region", name="Timeline")
    await expect(timeline).to_contain_text("Charging started")
    await expect(timeline).to_contain_text("Billed (final)")
    await shot(page, "operator-session")
    await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    await page.reload()
    await expect(page.get_by_role("button", name="Menu")).to_be_visible()
    await expect(page.get_by_test_id("cost-total")).to_have_text("€9.76")
    await shot(page, "operator-session-tablet")

    async with page.expect_download() as receipt_info:
        await page.get_by_role("button", name="Download printable receipt").click()
    receipt = (await (await receipt_info.value).path()).read_text()
    assert "9.76" in receipt and STATION in receipt


async def test_a_viewer_sees_sessions_without_billing_actions(web: Web, world: World) -> None:
    await network(world)
    async with lib_charge_point(world.server.ws_url(STATION), STATION) as cp:
        await boot(cp)
        tx = await start_charging(cp)
        await cp.call(
            call.StopTransaction(
                transaction_id=tx, meter_stop=11000, timestamp=at(90), reason="Local"
            )
        )
    page = await web.operator("a_viewer")
    await page.goto("/dashboard/sessions")
    await expect(session_row(page)).to_contain_text("Completed")
    await session_row(page).get_by_role("link").click()
    await expect(page.get_by_test_id("cost-total")).to_have_text("€9.76")
    await expect(page.get_by_role("button", name="Refund…")).to_have_count(0)
    await expect(page.get_by_role("button", name="End session")).to_have_count(0)
