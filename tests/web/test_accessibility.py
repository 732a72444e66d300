"""Accessibility of both apps: every page of the tour (test_every_page.py) at laptop and phone
widths passes the checks of ``support/a11y.py`` (labels, names, alt, lang and title, headings,
contrast, ids, dialogs), and the dashboard works from the keyboard alone with a visible focus."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from api.api_kit import PASSWORD
from web.test_every_page import (
    CHARGING,
    SIZES,
    Visit,
    Visitor,
    network,
    operator_nav,
    tour_driver,
    tour_operator,
)

from support.a11y import audit, audit_focus, focus_indicator
from support.browser import Web


class Findings:
    """Violations of every page, reported all at once: page, element, reason."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def check(self, visitor: Visitor, visit: Visit) -> None:
        page = visitor.page
        where = f"{visit.name} ({visit.path})"
        for violation in await audit(page) + await audit_focus(page):
            self.lines.append(f"{where} {violation}")
        # the page's own dialogs (New …, Add …, Create …) and a row's (Edit …), open
        header = page.locator(".page-header")
        openers = header.get_by_role("button", name=re.compile(r"^(New|Add|Create)\b"))
        openers = [openers.nth(i) for i in range(await openers.count())]
        edit = page.locator("main").get_by_role("button", name="Edit", exact=True)
        if await edit.count():
            openers.append(edit.first)
        for opener in openers:
            name = await opener.inner_text()
            await opener.click()
            dialog = page.locator("dialog[open]")
            await expect(dialog, f"{where}: {name}").to_be_visible()
            for violation in await audit(page) + await audit_focus(page):
                self.lines.append(f"{where} dialog {name!r}: {violation}")
            await page.keyboard.press("Escape")
            await expect(dialog, f"{where}: {name} closes with Escape").to_have_count(0)

    def assert_none(self) -> None:
        assert not self.lines, f"{len(self.lines)} accessibility violations:\n" + "\n".join(
            self.lines
        )


BROKEN = """() => {
  const main = document.querySelector("main");
  const add = (tag, props = {}, style = {}) => {
    const el = Object.assign(document.createElement(tag), props);
    Object.assign(el.style, style);
    main.append(el);
    return el;
  };
  add("p", { textContent: "pale text" }, { color: "#b0b0b0" });
  add("input", { type: "text" });
  add("button", { type: "button" });
  add("img", { src: "/static/common/icon.svg" });
  add("h4", { textContent: "too deep" });
  add("span", { id: "twice" });
  add("span", { id: "twice" });
  add("label", { htmlFor: "nowhere", textContent: "orphan" });
  add("dialog");
  add("a", { href: "/app/", textContent: "far away" }, { position: "absolute", left: "-5000px" });
  add("button", { type: "button", textContent: "no ring" }, { boxShadow: "none", outline: "none" });
  document.documentElement.removeAttribute("lang");
}"""


async def test_the_checks_find_what_they_look_for(web: Web) -> None:
    """The checker itself: a page broken on purpose, one way per rule, is caught each way."""
    page = await web.page()
    await page.goto("/app/")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert await audit(page) + await audit_focus(page) == []
    await page.evaluate(BROKEN)
    found = [str(v) for v in await audit(page) + await audit_focus(page)]
    expected = [
        r"\[contrast\] p .*pale text.*< 4\.5:1",
        r"\[name\] input\[type=\"text\"\]: form control without a label",
        r"\[name\] button\[type=\"button\"\]: no accessible name",
        r"\[alt\] img",
        r"\[headings\] h4 .*h2 → h4",
        r'\[ids\] span#twice: duplicate id "twice"',
        r'\[ids\] label.*for names "nowhere"',
        r"\[dialog\] dialog: dialog without a name",
        r"\[document\] html.*: no lang",
        r'\[focus\] a "far away": .*off-screen',
        r'\[focus\] button "no ring": no outline or box-shadow',
    ]
    for pattern in expected:
        assert any(re.search(pattern, line) for line in found), (pattern, found)
    assert len(found) == len(expected), found


@pytest.mark.parametrize("size", SIZES)
async def test_every_operator_page_is_accessible(web: Web, size: str) -> None:
    findings = Findings()
    async with network(web.world) as net:
        await tour_operator(web, net, phone=SIZES[size], check=findings.check)
    findings.assert_none()


@pytest.mark.parametrize("size", SIZES)
async def test_every_driver_page_is_accessible(web: Web, size: str) -> None:
    findings = Findings()
    async with network(web.world) as net:
        await tour_driver(web, net, phone=SIZES[size], check=findings.check)
    findings.assert_none()


async def test_every_command_dialog_is_accessible(web: Web) -> None:
    findings: list[str] = []
    async with network(web.world):
        visitor = await Visitor.open(web, phone=False)
        await visitor.sign_in("/dashboard/", "a_admin")
        page = visitor.page
        await page.locator("nav[aria-label=Main]").wait_for(state="attached")
        await page.goto(f"/dashboard/stations/{CHARGING}?tab=commands")
        buttons = page.locator("#send button[data-action]")
        await expect(buttons).to_have_count(26)
        for index in range(26):
            button = buttons.nth(index)
            action = await button.get_attribute("data-action")
            await button.click()
            dialog = page.locator("dialog[open]")
            await expect(dialog, action).to_be_visible()
            for violation in await audit(page) + await audit_focus(page):
                findings.append(f"{action} {violation}")
            await page.keyboard.press("Escape")
            await expect(dialog, f"{action} closes with Escape").to_have_count(0)
        # the message log with a frame opened, and the configuration read
        await page.goto(f"/dashboard/stations/{CHARGING}?tab=messages")
        await page.get_by_test_id("message").first.locator("summary").click()
        for violation in await audit(page) + await audit_focus(page):
            findings.append(f"message log {violation}")
        await page.get_by_role("tab", name="Configuration").click()
        await page.get_by_role("button", name="Read from station").click()
        await expect(page.get_by_role("cell", name="HeartbeatInterval", exact=True)).to_be_visible()
        for violation in await audit(page) + await audit_focus(page):
            findings.append(f"configuration {violation}")
    assert not findings, f"{len(findings)} accessibility violations:\n" + "\n".join(findings)


# ---- the keyboard -------------------------------------------------------------------------------
class Keyboard:
    """Tab and Enter only; every element that takes the focus must show it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.unseen: list[str] = []

    async def press(self, key: str) -> None:
        await self.page.keyboard.press(key)
        if key in ("Tab", "Shift+Tab"):
            violation = await focus_indicator(self.page)
            if violation:
                self.unseen.append(f"{self.page.url}: {violation}")

    async def tab_to(self, target: str, *, limit: int = 60, back: bool = False) -> None:
        """Tab (or Shift+Tab) until the focused element is ``target`` (a CSS selector)."""
        for _ in range(limit):
            await self.press("Shift+Tab" if back else "Tab")
            if await self.page.evaluate("(s) => document.activeElement.matches(s)", target):
                return
        raise AssertionError(f"{target} not reached with {limit} presses of Tab")

    def assert_focus_always_visible(self) -> None:
        assert not self.unseen, "no visible focus indicator:\n" + "\n".join(self.unseen)


async def test_the_dashboard_works_from_the_keyboard(web: Web) -> None:
    async with network(web.world) as net:
        net.cp.answers["UnlockConnector"] = "Unlocked"
        await web.world.user_id("a_admin")
        page = await web.page()
        keys = Keyboard(page)
        await page.goto("/dashboard/")

        # Sign in: the e-mail field has the focus; type, Tab, type, Enter.
        await expect(page.get_by_label("E-mail")).to_be_focused()
        await page.keyboard.type("a_admin@example.com")
        await keys.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav).to_be_visible()
        await expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()

        # Through the navigation with Tab: every link in turn, then open one with Enter.
        await keys.tab_to(".nav a")
        labels = [label for _, label in operator_nav()]
        for label in labels[1:]:
            await keys.press("Tab")
            await expect(nav.get_by_role("link", name=label, exact=True)).to_be_focused()
        await keys.press("Shift+Tab")
        await keys.press("Shift+Tab")
        await keys.press("Shift+Tab")
        await expect(nav.get_by_role("link", name="Tokens")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Tokens", level=1)).to_be_visible()
        await expect(page).to_have_url(re.compile("/dashboard/tokens$"))
        await expect(page.locator("main")).to_be_focused()  # the new page takes the focus

        # To a station, then a command's dialog: open with Enter, close with Escape.
        await keys.tab_to('.nav a[data-path="/stations"]', back=True)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Stations", level=1)).to_be_visible()
        await keys.tab_to(f'a[href$="/stations/{CHARGING}"]')
        await page.keyboard.press("Enter")
        await expect(
            page.get_by_role("heading", name=re.compile(CHARGING), level=1)
        ).to_be_visible()
        await keys.tab_to('[role=tab][aria-selected="true"]')
        await page.keyboard.press("ArrowRight")
        commands = page.get_by_role("tab", name="Commands")
        await expect(commands).to_be_focused()
        await expect(commands).to_have_attribute("aria-selected", "true")
        await keys.tab_to('button[data-action="UnlockConnector"]')
        opener = page.locator('button[data-action="UnlockConnector"]')
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Unlock connector")
        await expect(dialog).to_be_visible()
        assert await dialog.evaluate("(d) => d.contains(document.activeElement)")
        for violation in await audit(page):
            keys.unseen.append(f"the open dialog: {violation}")
        await keys.press("Tab")
        assert await dialog.evaluate("(d) => d.contains(document.activeElement)")
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(opener).to_be_focused()

        # ... and sent from the keyboard: open again, Enter on the send button.
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_visible()
        await keys.tab_to("dialog button[type=submit]", limit=10)
        await page.keyboard.press("Enter")
        outcomes = page.get_by_test_id("command-outcomes")
        await expect(outcomes.locator("li", has_text="UnlockConnector")).to_contain_text("Unlocked")
        keys.assert_focus_always_visible()


async def test_the_dashboards_menu_works_from_the_keyboard_on_a_phone(web: Web) -> None:
    visitor = await Visitor.open(web, phone=True)
    await visitor.sign_in("/dashboard/", "a_admin")
    page = visitor.page
    keys = Keyboard(page)
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_have_attribute("aria-expanded", "false")
    # closed, the menu is out of the way of Tab: from the menu button on, into the page
    await keys.tab_to(".menu-button")
    await keys.press("Tab")
    assert not await page.evaluate("document.activeElement.closest('.sidebar')")
    # opened with Enter, walked with Tab, closed with Escape (the focus back on its button)
    await keys.press("Shift+Tab")
    await expect(menu).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("aria-expanded", "true")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav).to_be_in_viewport()
    await keys.tab_to('.nav a[data-path="/sessions"]', back=True)
    await page.keyboard.press("Escape")
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await expect(menu).to_be_focused()
    # a page opened from the menu: the menu closes and the page has the focus
    await page.keyboard.press("Enter")
    await keys.tab_to('.nav a[data-path="/sessions"]', back=True)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Sessions", level=1)).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await expect(page.locator("main")).to_be_focused()
    keys.assert_focus_always_visible()


async def test_the_driver_app_works_from_the_keyboard(web: Web) -> None:
    async with network(web.world):
        await web.world.user_id("driver")
        page = await web.page(phone=True)
        keys = Keyboard(page)
        await page.goto("/app/signin")
        await keys.tab_to("input[type=email]")
        await page.keyboard.type("driver@example.com")
        await keys.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Hello, driver", level=1)).to_be_visible()
        await keys.tab_to('.tabbar a[data-path="/sessions"]')
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="My sessions", level=1)).to_be_visible()
        await keys.tab_to(".session-item")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(r"/app/sessions/\d+$"))
        keys.assert_focus_always_visible()
