"""The operator dashboard's management pages (tariffs, tokens, API keys, webhooks, users) and
analytics, each driven through the browser and checked against the API."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect

from analytics import scenario
from analytics.scenario import command, session
from api.api_kit import World
from webhooks.receiver import running_receiver

from support.browser import Web, shot


async def test_a_tariff_is_validated_created_and_assigned(web: Web, world: World) -> None:
    page = await web.operator("a_admin")
    await page.get_by_role("link", name="Tariffs").click()
    await expect(page.get_by_text("No tariffs yet")).to_be_visible()
    await page.get_by_role("button", name="New tariff").click()
    dialog = page.get_by_role("dialog", name="New tariff")
    await dialog.get_by_label("Name").fill("Members AC")
    await dialog.get_by_label("VAT %").fill("-5")
    await dialog.get_by_label("Price", exact=True).fill("0.35")
    await dialog.get_by_role("button", name="Add price").click()
    await dialog.get_by_label("Price type").nth(1).select_option("FLAT")
    await dialog.get_by_label("Price", exact=True).nth(1).fill("1.00")
    await dialog.get_by_role("button", name="Create tariff").click()
    # The API's problem: every error of the tariff, with its path
    await expect(dialog.get_by_role("alert")).to_contain_text("vat_percent")
    await shot(page, "operator-tariff-editor")
    await dialog.get_by_label("VAT %").fill("19")
    # The JSON view shows the same tariff
    await dialog.get_by_role("tab", name="JSON").click()
    await expect(dialog.get_by_label("Tariff as JSON")).to_have_value(
        '{\n  "currency": "EUR",\n  "vat_percent": "19",\n  "timezone": "UTC",\n'
        '  "idle_grace_minutes": 0,\n  "elements": [\n    {\n      "price_components": [\n'
        '        {\n          "type": "ENERGY",\n          "price": "0.35",\n'
        '          "step_size": 1\n        },\n        {\n          "type": "FLAT",\n'
        '          "price": "1.00"\n        }\n      ]\n    }\n  ]\n}'
    )
    await dialog.get_by_role("button", name="Create tariff").click()
    await expect(dialog).to_have_count(0)
    row = page.locator("tbody tr").filter(has_text="Members AC")
    await expect(row).to_contain_text("0.35 EUR/kWh + 1.00 EUR/session")
    await expect(row).to_contain_text("v1")

    await row.get_by_role("button", name="Where it applies").click()
    await expect(page.get_by_text("Not assigned anywhere")).to_be_visible()
    await page.get_by_role("button", name="Assign…").click()
    assign = page.get_by_role("dialog", name="Assign “Members AC”")
    await assign.get_by_label("Token group (optional)").fill("members")
    await assign.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.locator(".assignment-list")).to_contain_text("the whole network")
    await expect(page.locator(".assignment-list")).to_contain_text("members")
    await shot(page, "operator-tariffs")

    admin = await world.client("a_admin")
    (tariff,) = (await admin.get("/api/v1/tariffs")).json()["items"]
    assert tariff["name"] == "Members AC" and tariff["tariff"]["vat_percent"] == "19"
    (assignment,) = (await admin.get(f"/api/v1/tariffs/{tariff['id']}/assignments")).json()["items"]
    assert (assignment["scope"], assignment["token_group"]) == ("tenant", "members")


async def test_a_token_is_added_then_blocked_and_unblocked(web: Web, world: World) -> None:
    page = await web.operator("a_operator")
    await page.get_by_role("link", name="Tokens").click()
    await page.get_by_role("button", name="Add token").click()
    dialog = page.get_by_role("dialog", name="Add a token")
    await dialog.get_by_label("Id tag").fill("04A2B3C4")
    await dialog.get_by_label("Token group").fill("fleet")
    await dialog.get_by_role("button", name="Add token").click()
    row = page.locator("tbody tr").filter(has_text="04A2B3C4")
    await expect(row).to_contain_text("Accepted")
    await expect(row).to_contain_text("fleet")

    await row.get_by_role("button", name="Block").click()
    await expect(row).to_contain_text("Blocked")
    admin = await world.client("a_admin")
    assert (await admin.get("/api/v1/tokens/04A2B3C4")).json()["status"] == "Blocked"

    # Find by id tag, then unblock
    await page.get_by_label("Id tag (exact)").fill("04A2B3C4")
    await page.get_by_role("button", name="Find").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await row.get_by_role("button", name="Unblock").click()
    await expect(row).to_contain_text("Accepted")
    assert (await admin.get("/api/v1/tokens/04A2B3C4")).json()["status"] == "Accepted"

    # A viewer sees the tokens, and no way to change them
    viewer = await web.operator("a_viewer")
    await viewer.goto("/dashboard/tokens")
    await expect(viewer.locator("tbody tr").filter(has_text="04A2B3C4")).to_be_visible()
    await expect(viewer.get_by_role("button", name="Add token")).to_have_count(0)
    await expect(viewer.get_by_role("button", name="Block")).to_have_count(0)


async def test_an_api_key_is_shown_once_and_works(web: Web, world: World) -> None:
    page = await web.operator("a_admin")
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_text("No API keys yet.")).to_be_visible()
    await page.get_by_role("button", name="Create API key").click()
    dialog = page.get_by_role("dialog", name="Create an API key")
    await dialog.get_by_label("Name").fill("ERP export")
    await dialog.get_by_role("button", name="Create key").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Choose at least one permission")
    await dialog.get_by_role("button", name="Back office (billing export)").click()
    await dialog.get_by_role("button", name="Create key").click()

    shown = page.get_by_role("dialog", name="API key “ERP export”")
    key = await shown.get_by_test_id("secret").input_value()
    assert len(key) > 20
    await shown.get_by_role("button", name="Copy").click()
    await shown.get_by_role("button", name="I have saved it").click()
    await expect(shown).to_have_count(0)

    row = page.locator("tbody tr").filter(has_text="ERP export")
    await expect(row).to_contain_text("billing:read")
    await expect(row).to_contain_text("Active")
    # shown once, never again: once the dialogs are gone, no trace of it in the page
    await page.wait_for_function(
        "key => !document.documentElement.outerHTML.includes(key)", arg=key
    )
    assert key not in await page.content()

    client = world.anonymous(**{"X-API-Key": key})
    assert (await client.get("/api/v1/me")).json()["permissions"] == [
        "billing:read",
        "sessions:read",
    ]
    await row.get_by_role("button", name="Revoke").click()
    await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("Revoked")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_webhook_is_created_test_fired_and_logged(web: Web, world: World) -> None:
    async with running_receiver() as receiver:
        page = await web.operator("a_admin")
        await page.get_by_role("link", name="Webhooks").click()
        await page.get_by_role("button", name="New webhook").click()
        dialog = page.get_by_role("dialog", name="New webhook")
        await dialog.get_by_label("URL").fill(receiver.url("/kilowatt"))
        await dialog.get_by_label("Description").fill("ERP: sessions")
        await dialog.get_by_role("button", name="Create webhook").click()
        created = page.get_by_role("dialog", name="Webhook created")
        secret = await created.get_by_test_id("secret").input_value()
        assert secret.startswith("whsec_")
        await created.get_by_role("button", name="I have saved it").click()

        hook = page.get_by_role("article").filter(has_text=receiver.url("/kilowatt"))
        await expect(hook).to_contain_text("session.*")
        await expect(page.get_by_text("No deliveries yet.")).to_be_visible()
        await hook.get_by_role("button", name="Send test event").click()
        (request,) = await receiver.received(1)
        assert request.verify(secret)["type"] == "webhook.test"
        log = page.get_by_test_id("deliveries")
        await expect(log).to_contain_text("webhook.test")
        await expect(log).to_contain_text("delivered")
        await expect(log).to_contain_text("HTTP 204")

        # A failed delivery is retried by hand
        receiver.fail_next(1, 503)
        await hook.get_by_role("button", name="Send test event").click()
        failed = log.locator("tbody tr").filter(has_text="failed")
        await expect(failed).to_contain_text("HTTP 503")
        await failed.get_by_role("button", name="Retry").click()
        await expect(log.locator("tbody tr").filter(has_text="failed")).to_have_count(0)
        assert len(await receiver.received(3)) == 3
        await shot(page, "operator-webhooks")


async def test_analytics_shows_the_scenarios_metrics(web: Web, world: World) -> None:
    d0 = scenario.day_start(5)
    a1 = await scenario.station(world, world.a, "AN-1", created_at=d0 - timedelta(days=20))
    hours = [d0 + timedelta(hours=h) for h in range(1, 9)]
    await scenario.add(
        world,
        # 3 completed (30, 60, 90 min; 2, 4, 6 kWh), 1 failed: 75 % completion
        *(
            session(
                a1,
                requested_at=hours[i],
                state="completed",
                duration=timedelta(minutes=30 * (i + 1)),
                energy_wh=2000 * (i + 1),
            )
            for i in range(3)
        ),
        session(a1, requested_at=hours[3], state="failed", start_status="Rejected"),
        # 5 commands: 4 accepted, 1 timed out: 80 % success; one unlock
        *(command(a1, "Reset", "completed", "Accepted", at=hours[4]) for _ in range(3)),
        command(a1, "UnlockConnector", "completed", "Unlocked", at=hours[5]),
        command(a1, "Reset", "timeout", "Timeout", at=hours[6]),
    )
    page = await web.operator("a_viewer")
    await page.get_by_role("link", name="Analytics").click()
    await expect(page.get_by_test_id("metric-commands")).to_contain_text("80.0 %")
    await expect(page.get_by_test_id("metric-commands")).to_contain_text("4 of 5 commands")
    await expect(page.get_by_test_id("metric-completion")).to_contain_text("75.0 %")
    await expect(page.get_by_test_id("metric-sessions")).to_contain_text("4")
    await expect(page.get_by_test_id("metric-duration")).to_contain_text("1 h 00 min")
    await expect(page.get_by_test_id("metric-energy")).to_contain_text("4.00 kWh")
    await expect(page.get_by_test_id("metric-unlocks")).to_contain_text("1")
    errors = page.get_by_test_id("error-rates")
    await expect(errors.get_by_role("row", name="Timeout (no answer)")).to_contain_text("20.0 %")
    await expect(page.get_by_role("img", name="Sessions per day")).to_be_visible()
    await expect(page.get_by_test_id("uptime")).to_contain_text("AN-1")
    await shot(page, "operator-analytics")

    # Another scope: a station with nothing in the period
    await scenario.station(world, world.a, "AN-2", created_at=d0)
    await page.reload()
    await page.get_by_label("Station").select_option("AN-2")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_test_id("metric-sessions")).to_contain_text("0")
    await expect(page.get_by_test_id("metric-completion")).to_contain_text("\u2013")


async def test_an_admin_adds_an_operator_and_disables_them(web: Web, world: World) -> None:
    page = await web.operator("a_admin")
    await page.get_by_role("link", name="Users").click()
    await page.get_by_role("button", name="Add user").click()
    dialog = page.get_by_role("dialog", name="Add a user")
    await dialog.get_by_label("E-mail").fill("night-shift@example.com")
    await dialog.get_by_label("Name").fill("Night Shift")
    await dialog.get_by_label("Role").select_option("viewer")
    password = await dialog.get_by_label("First password").input_value()
    await dialog.get_by_role("button", name="Add user").click()
    row = page.locator("tbody tr").filter(has_text="night-shift@example.com")
    await expect(row).to_contain_text("viewer")
    login = await world.anonymous().post(
        "/api/v1/auth/login", json={"email": "night-shift@example.com", "password": password}
    )
    assert login.status_code == 200, login.text

    await row.get_by_role("button", name="Disable").click()
    await page.get_by_role("dialog").get_by_role("button", name="Disable").click()
    await expect(row).to_contain_text("Disabled")
    # yourself: no buttons
    me = page.locator("tbody tr").filter(has_text="a_admin@example.com")
    await expect(me.get_by_role("button")).to_have_count(0)
