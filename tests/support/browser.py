"""Browser tests: Debian's Chromium driven by Playwright against a real Kilowatt node.

Every page a test opens is confined to the node's origin: a request anywhere else is aborted
and fails the test (the apps must work with no network access beyond Kilowatt). An uncaught
script error on a page fails the test too. ``shot(page, name)`` saves a screenshot under
``test-artifacts/screenshots/`` (CI keeps the folder as the tests' artifacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from api.api_kit import PASSWORD, World

ARTIFACTS = Path(
    os.environ.get("KILOWATT_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
# How long a page may take to show what a test expects (Playwright's default is 5 s): CI shares
# two cores with everything else, and a page that loads seven analytics queries on a busy
# machine must not fail for that. A page that never shows it still fails.
EXPECT_TIMEOUT_MS = 20_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    found = os.environ.get("KILOWATT_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "Chromium is not installed: `apt-get install chromium` (./dev test installs it)",
            pytrace=False,
        )
    return found


@dataclass
class Guard:
    """What the pages did that they must not: leave the origin, throw."""

    origin: str
    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Web:
    """New browser windows on the node (laptop- or phone-sized), all under one guard."""

    browser: Browser
    world: World
    guard: Guard
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(self, *, phone: bool = False) -> Page:
        size = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
        context = await self.browser.new_context(
            base_url=self.guard.origin,
            viewport=size,
            device_scale_factor=1,
            is_mobile=phone,
            has_touch=phone,
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self.contexts.append(context)

        async def confine(route, request) -> None:  # type: ignore[no-untyped-def]
            if request.url.startswith(self.guard.origin) or request.url.startswith("data:"):
                await route.continue_()
            else:
                self.guard.offsite.append(request.url)
                await route.abort()

        await context.route("**/*", confine)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.guard.errors.append(str(error)))
        return page

    async def operator(self, name: str = "a_admin") -> Page:
        """A laptop window signed in to the dashboard as ``name`` (one of api_kit's PEOPLE)."""
        await self.world.user_id(name)  # made on first use
        page = await self.page()
        await page.goto("/dashboard/")
        await page.get_by_label("E-mail").fill(f"{name}@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("navigation", name="Main").wait_for()
        return page


@pytest.fixture
async def web(browser: Browser, world: World) -> AsyncIterator[Web]:
    guard = Guard(origin=world.server.http_url)
    web = Web(browser, world, guard)
    try:
        yield web
    finally:
        for context in web.contexts:
            await context.close()
    assert not guard.offsite, f"pages reached beyond Kilowatt: {guard.offsite}"
    assert not guard.errors, f"uncaught script errors: {guard.errors}"


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``test-artifacts/screenshots/<name>.png``."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path
