"""Accessibility checks run inside a page (``await audit(page)``), written for Kilowatt's apps.

Not a full WCAG audit; the rules the apps promise (docs/dashboard.md), each violation reported
with the element and the reason so it is easy to find and fix:

- ``name``: every input, select and textarea has a label (``<label>``, ``aria-label`` or
  ``aria-labelledby``); every button, link, tab and ``role=img`` has a non-empty name;
- ``alt``: every ``<img>`` has an ``alt`` (empty for decoration);
- ``document``: ``<html lang>`` and a non-empty ``<title>``;
- ``landmarks``: exactly one ``main``; navigations named when there are several;
- ``headings``: exactly one h1, and no level skipped going down (h1 → h3);
- ``contrast``: text (and the values of form controls) against its effective background
  (the first opaque background up the tree, translucent ones blended in) is at least 4.5:1, or
  3:1 for large text (24 px, or 18.66 px bold); disabled controls and text hidden from sight
  (the visually-hidden pattern, off-screen skip links) are exempt. Gradients are looked
  through (the dashboard's frame paints its sidebar column with one), background images are
  not (such text is skipped);
- ``ids``: ids are unique, and the ids that ``for``, ``aria-labelledby``, ``aria-describedby``
  and ``aria-controls`` name exist;
- ``dialog``: every dialog has a name.

``audit_focus(page)`` focuses every element Tab reaches, in turn: each must be on screen when
focused, match ``:focus-visible`` and show an outline or box-shadow it lacks unfocused, whose
colour has 3:1 against the background around the element (WCAG 1.4.11). ``focus_indicator``
checks the element focused now (a test pressing Tab calls it after every press).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page

COLOURS_JS = r"""
  const parse = (value) => {
    const m = value && value.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const over = (top, bottom) => {
    const a = top.a + bottom.a * (1 - top.a);
    if (!a) return { r: 0, g: 0, b: 0, a: 0 };
    const mix = (k) => (top[k] * top.a + bottom[k] * bottom.a * (1 - top.a)) / a;
    return { r: mix("r"), g: mix("g"), b: mix("b"), a };
  };
  const luminance = ({ r, g, b }) => {
    const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const hex = ({ r, g, b }) => "#" + [r, g, b].map((c) => Math.round(c).toString(16).padStart(2, "0")).join("");
  const WHITE = { r: 255, g: 255, b: 255, a: 1 };
  // The background behind el: its own and its ancestors' colours, blended bottom-up over white;
  // null when an image lies underneath (it cannot be computed).
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === Node.ELEMENT_NODE; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== "none" && !style.backgroundImage.includes("gradient")) return null;
      const colour = parse(style.backgroundColor);
      if (colour && colour.a > 0) {
        layers.push(colour);
        if (colour.a >= 1) break;
      }
      if (node.tagName === "DIALOG") break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), WHITE);
  };
"""

AUDIT_JS = r"""
() => {
COLOURS
  const problems = [];
  const describe = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += `#${el.id}`;
    const cls = typeof el.className === "string" ? el.className.trim() : "";
    if (cls) text += "." + cls.split(/\s+/).slice(0, 3).join(".");
    for (const attr of ["type", "name", "href", "role", "data-testid"]) {
      if (el.hasAttribute(attr)) text += `[${attr}="${el.getAttribute(attr).slice(0, 40)}"]`;
    }
    const words = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 40);
    return words ? `${text} "${words}"` : text;
  };
  const report = (rule, el, reason) => problems.push({ rule, element: el ? describe(el) : "", reason });

  // rendered at all (display, visibility, hidden, closed dialogs), and exposed to assistive tech
  const shown = (el) =>
    el.checkVisibility({ visibilityProperty: true }) && el.getClientRects().length > 0;
  const exposed = (el) => shown(el) && !el.closest("[aria-hidden=true], [inert]");

  const textOf = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE) return "";
    const el = node;
    if (el.getAttribute("aria-hidden") === "true") return "";
    if (el.tagName === "IMG") return el.getAttribute("alt") || "";
    if (el.hasAttribute("aria-label")) return el.getAttribute("aria-label");
    if (["STYLE", "SCRIPT"].includes(el.tagName)) return "";
    return [...el.childNodes].map(textOf).join(" ");
  };
  const byIds = (ids) =>
    ids.split(/\s+/).filter(Boolean).map((id) => document.getElementById(id)).filter(Boolean);
  const labelledBy = (el) =>
    el.hasAttribute("aria-labelledby") ? byIds(el.getAttribute("aria-labelledby")).map(textOf).join(" ") : "";
  const clean = (text) => (text || "").replace(/\s+/g, " ").trim();

  // ---- names ----
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const name = clean(labelledBy(el)) || clean(el.getAttribute("aria-label")) ||
      clean([...(el.labels || [])].map(textOf).join(" "));
    if (!name) report("name", el, "form control without a label (label, aria-label or aria-labelledby)");
  }
  const named = "button, a[href], [role=button], [role=link], [role=tab], [role=menuitem], summary, [role=img], svg[role]";
  for (const el of document.querySelectorAll(named)) {
    if (!exposed(el) && !el.closest("dialog")) continue;
    const name = clean(labelledBy(el)) || clean(el.getAttribute("aria-label")) ||
      (el.matches("[role=img], svg") ? "" : clean(textOf(el))) || clean(el.getAttribute("title"));
    if (!name) report("name", el, "no accessible name (text, aria-label or aria-labelledby)");
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) report("alt", el, "img without alt (alt=\"\" if decorative)");
  }

  // ---- the document ----
  if (!clean(document.documentElement.getAttribute("lang"))) report("document", document.documentElement, "no lang");
  if (!clean(document.title)) report("document", document.documentElement, "no title");

  // ---- landmarks ----
  const mains = [...document.querySelectorAll("main, [role=main]")].filter(exposed);
  if (mains.length !== 1) report("landmarks", mains[1] || document.body, `${mains.length} main landmarks (want exactly 1)`);
  const navs = [...document.querySelectorAll("nav, [role=navigation]")].filter(exposed);
  if (navs.length > 1) {
    for (const nav of navs) {
      if (!clean(labelledBy(nav)) && !clean(nav.getAttribute("aria-label"))) report("landmarks", nav, "one of several navigations without a name");
    }
  }

  // ---- headings ----
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].filter(exposed);
  const h1s = headings.filter((h) => h.tagName === "H1");
  if (h1s.length !== 1) report("headings", h1s[1] || document.body, `${h1s.length} h1 on the page (want exactly 1)`);
  let level = 0;
  for (const heading of headings) {
    const next = Number(heading.tagName[1]);
    if (level && next > level + 1) report("headings", heading, `h${level} → h${next}: a level skipped`);
    level = next;
  }

  // ---- ids and what refers to them ----
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) {
    if (seen.has(el.id)) report("ids", el, `duplicate id "${el.id}"`);
    seen.set(el.id, el);
  }
  for (const attr of ["for", "aria-labelledby", "aria-describedby", "aria-controls"]) {
    for (const el of document.querySelectorAll(`[${attr}]`)) {
      for (const id of el.getAttribute(attr).split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) report("ids", el, `${attr} names "${id}", which does not exist`);
      }
    }
  }

  // ---- dialogs ----
  for (const el of document.querySelectorAll("dialog, [role=dialog], [role=alertdialog]")) {
    if (!clean(labelledBy(el)) && !clean(el.getAttribute("aria-label"))) report("dialog", el, "dialog without a name");
  }

  const opacity = (el) => {
    let value = 1;
    for (let node = el; node && node.nodeType === Node.ELEMENT_NODE; node = node.parentElement) {
      value *= Number(getComputedStyle(node).opacity);
    }
    return value;
  };
  const checked = new Set();
  const contrast = (el, rect, sample) => {
    if (checked.has(el)) return;
    checked.add(el);
    if (el.closest(":disabled, [aria-disabled=true]")) return;
    if (rect.width <= 1 || rect.height <= 1 || rect.right <= 0 || rect.bottom <= 0) return;
    const style = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    const colour = parse(svg ? style.fill : style.color);
    if (!colour) {
      if (!svg) report("contrast", el, `colour ${style.color} not understood "${sample}"`);
      return;
    }
    const behind = background(el);
    if (!behind) return;
    const fg = over({ ...colour, a: colour.a * opacity(el) }, behind);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, behind);
    if (got + 0.005 < need) {
      report("contrast", el, `${got.toFixed(2)}:1 < ${need}:1 (${hex(fg)} on ${hex(behind)}, ${size}px) "${sample}"`);
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = clean(node.textContent);
    if (!text) continue;
    const el = node.parentElement;
    if (!el || !shown(el) || ["SCRIPT", "STYLE", "NOSCRIPT", "OPTION"].includes(el.tagName)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    contrast(el, range.getBoundingClientRect(), text.slice(0, 30));
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (["checkbox", "radio", "range", "color", "hidden", "file"].includes(el.type) || !shown(el)) continue;
    if (!(el.value || (el.tagName === "SELECT" && el.selectedOptions.length))) continue;
    contrast(el, el.getBoundingClientRect(), clean(el.tagName === "SELECT" ? el.selectedOptions[0]?.text : el.value).slice(0, 30));
  }
  return problems;
}
"""

# The focus indicator of ``el`` (focused now): what differs from unfocused, and its colour's
# contrast against the background around the element (3:1 wanted, as for any state indicator).
FOCUS_LOOK_JS = r"""
const DESCRIBE = (el) => {
  const text = (el.getAttribute("aria-label") || el.textContent || el.value || "").replace(/\s+/g, " ").trim().slice(0, 40);
  return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : ""} "${text}"`;
};
const focusLook = (el) => {
  const look = () => {
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 ? `${s.outlineWidth} ${s.outlineColor}` : "none";
    return { outline, shadow: s.boxShadow };
  };
  const focused = look();
  const focusVisible = el.matches(":focus-visible");
  el.blur();
  const unfocused = look();
  el.focus({ preventScroll: true });
  const element = DESCRIBE(el);
  if (!focusVisible) return { element, reason: "does not match :focus-visible" };
  let colour = null;
  if (focused.outline !== "none" && focused.outline !== unfocused.outline) colour = parse(focused.outline);
  else if (focused.shadow !== "none" && focused.shadow !== unfocused.shadow) colour = parse(focused.shadow);
  if (!colour) return { element, reason: `no outline or box-shadow that unfocused lacks (${JSON.stringify(focused)})` };
  const behind = background(el.parentElement || el);
  if (!behind) return { element, reason: "" };
  const ring = over(colour, behind);
  const got = ratio(ring, behind);
  if (got < 3) return { element, reason: `focus indicator ${hex(ring)} on ${hex(behind)}: ${got.toFixed(2)}:1 < 3:1` };
  return { element, reason: "" };
};
"""

FOCUS_JS = (
    "() => {\n"
    + COLOURS_JS
    + FOCUS_LOOK_JS
    + """
  const el = document.activeElement;
  if (!el || el === document.body) return { element: "body", reason: "" };
  return focusLook(el);
}"""
)

# Every element Tab reaches, focused in turn (the page must already be in keyboard modality, so
# that a focused element matches :focus-visible); the focus is put back where it was.
FOCUS_ALL_JS = (
    "() => {\n"
    + COLOURS_JS
    + FOCUS_LOOK_JS
    + """
  const was = document.activeElement;
  const problems = [];
  const tabbable = "a[href], button, input, select, textarea, summary, [tabindex]";
  for (const el of document.querySelectorAll(tabbable)) {
    if (el.disabled || el.tabIndex < 0 || el.type === "hidden") continue;
    if (!el.checkVisibility({ visibilityProperty: true }) || !el.getClientRects().length) continue;
    if (el.closest("[inert], [aria-hidden=true]")) continue;
    el.focus(); // scrolls it into view, as Tab would (a wide table scrolls sideways)
    if (document.activeElement !== el) continue;
    const rect = el.getBoundingClientRect();
    if (rect.right <= 0 || rect.left >= document.documentElement.clientWidth) {
      problems.push({ rule: "focus", element: DESCRIBE(el), reason: "Tab reaches it, but it is off-screen (hide it while it cannot be seen)" });
      continue;
    }
    const found = focusLook(el);
    if (found.reason) problems.push({ rule: "focus", element: found.element, reason: found.reason });
  }
  if (was && was !== document.body) was.focus({ preventScroll: true });
  else document.activeElement?.blur();
  window.scrollTo(0, 0);
  return problems;
}"""
)

AUDIT_JS = AUDIT_JS.replace("COLOURS\n", COLOURS_JS)


@dataclass(frozen=True)
class Violation:
    rule: str
    element: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.element}: {self.reason}"


async def audit(page: Page) -> list[Violation]:
    """The page's violations of the rules above, as it is now."""
    found: list[dict[str, Any]] = await page.evaluate(AUDIT_JS)
    return [Violation(**item) for item in found]


async def focus_indicator(page: Page) -> Violation | None:
    """What is wrong with the focused element's focus indicator, if anything: it must match
    :focus-visible and show an outline or a box-shadow it lacks unfocused, in a colour of 3:1
    against the background around it."""
    found: dict[str, str] = await page.evaluate(FOCUS_JS)
    return Violation("focus", found["element"], found["reason"]) if found["reason"] else None


async def audit_focus(page: Page) -> list[Violation]:
    """``focus_indicator`` of every element Tab reaches on the page (each focused in turn)."""
    await page.keyboard.press("Shift")  # keyboard modality: focused elements show :focus-visible
    found: list[dict[str, Any]] = await page.evaluate(FOCUS_ALL_JS)
    return [Violation(**item) for item in found]
