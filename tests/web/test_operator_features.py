"""The operator dashboard's Reservations and Firmware pages, driven through the browser against
Kilowatt's simulated charger: it really holds the reservation, really downloads the firmware
from the signed link, reboots into it, and really uploads its diagnostics."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import Page, expect

from api.api_kit import World
from kilowatt.ocpp.v16.enums import ChargePointStatus, DiagnosticsStatus
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.simulator import firmware as simulator_files

from support.a11y import audit
from support.browser import Web, shot

IMAGE = bytes(range(256)) * 600  # 150 KiB
BOUND = 180  # seconds a whole scenario with a simulated charger may take


async def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def simulated(world: World, cp: str) -> AsyncIterator[SimulatedStation]:
    """Acme's station ``cp`` (registered through the API), connected and booted as Kilowatt's
    simulated charger; the node's public URL is its ephemeral address, where the charger
    downloads firmware and uploads diagnostics."""
    admin = await world.client("a_admin")
    await _created(
        await admin.post("/api/v1/stations", json={"charge_point_id": cp, "connectors": 2})
    )
    world.server.app.state.firmware.public_url = world.server.http_url
    config = SimulatorConfig(
        url=f"ws://127.0.0.1:{world.server.port}/ocpp",
        auto_sessions=False,
        reconnect_min=0.05,
        reconnect_max=0.2,
        seed=1,
    )
    async with asyncio.timeout(BOUND), SimulatedStation(config, cp) as sim:
        await sim.connect()
        await sim.boot()
        yield sim


async def _nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def _no_violations(page: Page) -> None:
    """The open dialog (and the page under it) passes the accessibility checks."""
    assert [str(v) for v in await audit(page)] == []


# ---- reservations -------------------------------------------------------------------------------
async def test_a_reservation_is_made_from_the_page_held_cancelled_and_followed_live(
    web: Web, world: World
) -> None:
    admin = await world.client("a_admin")
    driver = await world.user_id("driver")
    for card in ("RESCARD1", "RESCARD2"):
        await _created(await admin.post("/api/v1/tokens", json={"id_tag": card, "user_id": driver}))
    async with simulated(world, "RES-1") as sim:
        page = await web.operator("a_operator")
        await _nav(page, "Reservations")
        await expect(page.get_by_text("No reservations yet.")).to_be_visible()

        await page.get_by_role("button", name="New reservation").click()
        dialog = page.get_by_role("dialog", name="New reservation")
        await dialog.get_by_label("Station").select_option("RES-1")
        connector = dialog.get_by_label("Connector")
        await expect(connector.locator("option")).to_have_count(3)  # any, 1, 2
        await expect(connector).to_contain_text("Connector 1 · Available")
        await connector.select_option("1")
        await dialog.get_by_label("Card (id tag)").fill("RESCARD1")
        await dialog.get_by_label("Minutes").fill("20")
        await _no_violations(page)
        await dialog.get_by_role("button", name="Reserve").click()
        await expect(dialog).to_have_count(0)

        first = page.locator("tbody tr").filter(has_text="RESCARD1")
        await expect(first).to_contain_text("Held")
        await expect(first).to_contain_text("connector 1")
        await expect(first.get_by_role("link", name="RES-1")).to_have_attribute(
            "href", "/dashboard/stations/RES-1"
        )
        (held,) = (await admin.get("/api/v1/reservations")).json()["items"]
        assert (held["state"], held["connectorId"], held["idTag"]) == ("accepted", 1, "RESCARD1")
        assert sim.status(1) is ChargePointStatus.RESERVED

        # The same connector again: the API's problem, shown in the dialog that stays open
        await page.get_by_role("button", name="New reservation").click()
        again = page.get_by_role("dialog", name="New reservation")
        await again.get_by_label("Station").select_option("RES-1")
        await expect(again.get_by_label("Connector").locator("option")).to_have_count(3)
        await again.get_by_label("Connector").select_option("1")
        await again.get_by_label("Card (id tag)").fill("RESCARD2")
        await again.get_by_role("button", name="Reserve").click()
        await expect(again.get_by_role("alert")).to_contain_text("Already reserved")
        await again.get_by_role("button", name="Cancel").click()
        await expect(again).to_have_count(0)

        # Made elsewhere (the API), shown live; used at the charger, shown live with its session
        other = await _created(
            await admin.post(
                "/api/v1/reservations",
                json={"station": "RES-1", "connector_number": 2, "id_tag": "RESCARD2"},
            )
        )
        second = page.locator(f'tr[data-reservation="{other["reservationId"]}"]')
        await expect(second).to_contain_text("Held")
        await sim.plug_in(2)
        await sim.swipe(2, "RESCARD2")
        await expect(second).to_contain_text("Used")
        session = second.get_by_role("link", name=re.compile(r"^Session #\d+$"))
        await expect(session).to_be_visible()
        (running,) = (await admin.get("/api/v1/sessions", params={"state": "active"})).json()[
            "items"
        ]
        assert running["transactionId"] == sim.transaction_id(2)
        await expect(session).to_have_attribute(
            "href", f"/dashboard/sessions/{running['sessionId']}"
        )
        await shot(page, "operator-reservations")

        # Cancelled from the page: CancelReservation, and the charger frees the connector
        await first.get_by_role("button", name="Cancel").click()
        await expect(first).to_contain_text("Cancelled")
        await expect(first.get_by_role("button", name="Cancel")).to_have_count(0)
        cancelled = (await admin.get(f"/api/v1/reservations/{held['reservationId']}")).json()
        assert cancelled["state"] == "cancelled"
        await sim.wait_until(lambda: sim.status(1) is ChargePointStatus.AVAILABLE)

        # The filters: only the active ones (none left), then the station's
        await page.get_by_label("State").select_option("active")
        await page.get_by_role("button", name="Apply").click()
        await expect(page.get_by_text("No reservations match these filters.")).to_be_visible()
        await page.get_by_label("State").select_option("used")
        await page.get_by_label("Station").select_option("RES-1")
        await page.get_by_role("button", name="Apply").click()
        await expect(page.locator("tbody tr")).to_have_count(1)
        await expect(page.locator("tbody tr")).to_contain_text("RESCARD2")

    # A viewer reads them, and may neither reserve nor cancel
    viewer = await web.operator("a_viewer")
    await viewer.goto("/dashboard/reservations")
    await expect(viewer.locator("tbody tr")).to_have_count(2)
    await expect(viewer.get_by_role("button", name="New reservation")).to_have_count(0)
    await expect(viewer.get_by_role("button", name="Cancel")).to_have_count(0)


# ---- firmware -----------------------------------------------------------------------------------
async def test_a_firmware_file_is_uploaded_and_rolled_out_to_a_simulated_station(
    web: Web, world: World
) -> None:
    admin = await world.client("a_admin")
    async with simulated(world, "FW-1") as sim:
        page = await web.operator("a_admin")
        await _nav(page, "Firmware")
        station = page.locator('tr[data-station="FW-1"]')
        await expect(station).to_contain_text("sim-1.0")
        await expect(page.get_by_text("No firmware files yet.")).to_be_visible()

        await page.get_by_role("button", name="Upload firmware").click()
        dialog = page.get_by_role("dialog", name="Upload firmware")
        await dialog.get_by_label("Image").set_input_files(
            {"name": "kwsim-2.0.bin", "mimeType": "application/octet-stream", "buffer": IMAGE}
        )
        await expect(dialog.get_by_label("File name")).to_have_value("kwsim-2.0.bin")
        await dialog.get_by_label("Version").fill("2.0")
        await _no_violations(page)
        await dialog.get_by_role("button", name="Upload").click()
        await expect(dialog).to_have_count(0)
        file_row = page.locator('tr[data-file="kwsim-2.0.bin"]')
        await expect(file_row).to_contain_text("150 KiB")
        (stored,) = (await admin.get("/api/v1/firmware")).json()["items"]
        assert (stored["size_bytes"], stored["sha256"], stored["version"]) == (
            len(IMAGE),
            hashlib.sha256(IMAGE).hexdigest(),
            "2.0",
        )

        await file_row.get_by_role("button", name="Roll out…").click()
        campaign = page.get_by_role("dialog", name="New campaign")
        await expect(campaign.get_by_label("Firmware file")).to_have_value(str(stored["id"]))
        await campaign.get_by_role("checkbox", name=re.compile(r"^FW-1\b")).check()
        await campaign.get_by_label("Retries").fill("2")
        await campaign.get_by_label("Stations at a time").fill("1")
        await _no_violations(page)
        await campaign.get_by_role("button", name="Start campaign").click()
        await expect(campaign).to_have_count(0)

        row = page.locator("tr[data-campaign]")
        await expect(row).to_have_count(1)
        # the new campaign opens on its stations: the charger's progress arrives live
        update = page.locator('tr[data-update="FW-1"]')
        await expect(update).to_contain_text("Installed")
        await expect(update).to_contain_text("kwsim-2.0")
        await expect(row).to_contain_text("completed")
        await expect(row.get_by_test_id("campaign-progress")).to_contain_text("1 of 1 done")
        await expect(row).to_contain_text("1 at a time")
        await expect(station).to_contain_text("kwsim-2.0")
        await expect(station).to_contain_text("Installed")
        await shot(page, "operator-firmware")
        assert sim.boot_count == 2  # rebooted into the new firmware
        [download] = sim.files.downloads
        assert download.sha256 == stored["sha256"]
        (done,) = (await admin.get("/api/v1/firmware/campaigns")).json()["items"]
        assert (done["state"], done["progress"], done["retries"], done["batch_size"]) == (
            "completed",
            {"Installed": 1},
            2,
            1,
        )

        # Deleted from the page once its campaign is over
        await file_row.get_by_role("button", name="Delete").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(page.get_by_text("No firmware files yet.")).to_be_visible()
        assert (await admin.get("/api/v1/firmware")).json()["items"] == []

    # A viewer follows campaigns and may change nothing
    viewer = await web.operator("a_viewer")
    await viewer.goto("/dashboard/firmware")
    await expect(viewer.locator("tr[data-campaign]")).to_contain_text("completed")
    for name in ("Upload firmware", "New campaign", "Request diagnostics", "Close"):
        await expect(viewer.get_by_role("button", name=name)).to_have_count(0)


async def test_diagnostics_are_requested_from_the_page_and_the_upload_arrives(
    web: Web, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The charger reports Uploaded only when the test says so: the page has shown the request
    # by then, so the end state can only arrive live.
    report = simulator_files._notify_diagnostics
    uploaded_may_be_reported = asyncio.Event()

    async def held_back(st: SimulatedStation, status: DiagnosticsStatus) -> None:
        if status is DiagnosticsStatus.UPLOADED:
            await uploaded_may_be_reported.wait()
        await report(st, status)

    monkeypatch.setattr(simulator_files, "_notify_diagnostics", held_back)
    async with simulated(world, "DG-1") as sim:
        sim.files.diagnostics_size = 5000
        page = await web.operator("a_operator")
        await _nav(page, "Firmware")
        diagnostics = page.get_by_test_id("diagnostics")
        await expect(diagnostics).to_contain_text("No diagnostics from DG-1 yet.")

        await page.get_by_role("button", name="Request diagnostics").click()
        dialog = page.get_by_role("dialog", name="Request diagnostics")
        await expect(dialog.get_by_label("Station")).to_have_value("DG-1")
        await dialog.get_by_label("Retries").fill("1")
        await _no_violations(page)
        await dialog.get_by_role("button", name="Request").click()
        await expect(dialog).to_have_count(0)

        row = diagnostics.locator("tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(
            "4.9 KiB"
        )  # the file is here, the charger still uploading
        await expect(row).to_contain_text("Uploading")
        uploaded_may_be_reported.set()
        await expect(row).to_contain_text("Uploaded")
        await expect(page.locator('tr[data-station="DG-1"]')).to_contain_text("Uploaded")
        [(url, sent)] = sim.files.uploads
        assert sent == 5000 and url.startswith(f"{world.server.http_url}/diagnostics/")

        async with page.expect_download() as download_info:
            await row.get_by_role("button", name="Download").click()
        download = await download_info.value
        assert download.suggested_filename.startswith("diagnostics-")
        path = await download.path()
        data = path.read_bytes()
        operator = await world.client("a_operator")
        (listed,) = (await operator.get("/api/v1/stations/DG-1/diagnostics")).json()["items"]
        assert (len(data), hashlib.sha256(data).hexdigest()) == (5000, listed["received_sha256"])
        await shot(page, "operator-diagnostics")

    # A viewer sees the request, and may neither ask for diagnostics nor download them
    viewer = await web.operator("a_viewer")
    await viewer.goto("/dashboard/firmware")
    await expect(viewer.get_by_test_id("diagnostics").locator("tbody tr")).to_contain_text(
        "Uploaded"
    )
    await expect(viewer.get_by_role("button", name="Download")).to_have_count(0)
    await expect(viewer.get_by_role("button", name=re.compile("^Request"))).to_have_count(0)
