"""Signing in to the operator dashboard."""

from __future__ import annotations

from playwright.async_api import expect

from api.api_kit import PASSWORD

from support.browser import Web, shot


async def test_an_operator_signs_in_and_out(web: Web) -> None:
    page = await web.operator("a_admin")
    await expect(page.get_by_test_id("live-state")).to_contain_text("Live")
    await expect(page.get_by_role("link", name="Overview")).to_have_attribute(
        "aria-current", "page"
    )
    # a reload keeps the sign-in
    await page.reload()
    await page.get_by_role("navigation", name="Main").wait_for()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Operator sign-in")).to_be_visible()


async def test_a_wrong_password_and_a_driver_account_are_refused(web: Web) -> None:
    await web.world.user_id("a_admin")
    await web.world.user_id("driver")
    page = await web.page()
    await page.goto("/dashboard/stations")
    await shot(page, "operator-sign-in")
    await page.get_by_label("E-mail").fill("a_admin@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")

    await page.get_by_label("E-mail").fill("driver@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("driver account")
