// The driver web app (/app/): scan a charger's QR code, sign in, start, watch, stop, receipt.
//
// A small frame (header, bottom navigation) and a router on location.pathname that loads one page
// module per route from ./pages/. A page module exports
//   default async function render(ctx)
// with ctx = {root, api, live, me, params, query, navigate, onCleanup, subscribe, onResync,
// title, signInUrl, refreshMe}. live is the shared event stream (the driver's own session.*
// events) and is null while signed out; ctx.subscribe listens to it until the page is left.

import { createApi } from "/static/common/api.js";
import { createLive } from "/static/common/live.js";
import { clear, failure, h, spinner, toast } from "/static/common/ui.js";

const BASE = "/app";
const api = createApi("driver");
let live = null;
let me = null;
let cleanups = [];

const ROUTES = [
  [/^\/?$/, "home", false],
  [/^\/start\/?$/, "start", false],
  [/^\/signin\/?$/, "signin", false],
  [/^\/sessions\/?$/, "sessions", true],
  [/^\/sessions\/(?<id>\d+)\/?$/, "session", true],
  [/^\/cards\/?$/, "cards", true],
];

const NAV = [
  { path: "/", label: "Charge", icon: "⚡" },
  { path: "/sessions", label: "History", icon: "☰" },
  { path: "/cards", label: "Cards", icon: "▭" },
];

const root = document.getElementById("root");
let frame = null;

function localPath() {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "/";
  return path || "/";
}

export function navigate(path, { replace = false } = {}) {
  const url = path.startsWith(`${BASE}/`) || path === BASE ? path : `${BASE}${path}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

// Where to sign in so as to come back here (the QR context survives the detour).
export function signInUrl(next = location.pathname + location.search, extra = {}) {
  const params = new URLSearchParams({ next, ...extra });
  return `${BASE}/signin?${params}`;
}

function runCleanups() {
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
  }
}

// ---- the frame ------------------------------------------------------------------------------
function buildFrame() {
  const account = h("div", { class: "account" });
  const content = h("main", { class: "app-main", id: "main", tabindex: "-1" });
  const nav = h(
    "nav",
    { class: "tabbar", "aria-label": "Main" },
    NAV.map((item) =>
      h(
        "a",
        { href: `${BASE}${item.path}`, "data-path": item.path },
        h("span", { class: "tab-icon", "aria-hidden": "true" }, item.icon),
        h("span", {}, item.label),
      ),
    ),
  );
  const shell = h(
    "div",
    { class: "app-shell" },
    h(
      "header",
      { class: "app-header" },
      h("a", { class: "app-brand", href: `${BASE}/` }, h("img", { src: "/static/common/icon.svg", alt: "" }), "Kilowatt"),
      account,
    ),
    content,
    nav,
  );
  clear(root, shell);
  frame = { shell, content, account, nav };
  paintAccount();
}

function paintAccount() {
  if (!frame) return;
  frame.nav.hidden = !me;
  frame.shell.classList.toggle("with-tabbar", Boolean(me));
  if (me) {
    const name = me.user?.name || me.user?.email || "Driver";
    clear(
      frame.account,
      h("span", { class: "account-name", "data-testid": "account-name" }, name),
      h("button", { class: "button button-small", type: "button", onclick: () => api.logout() }, "Sign out"),
    );
  } else if (localPath().startsWith("/signin")) {
    clear(frame.account);
  } else {
    clear(frame.account, h("a", { class: "button button-small", href: signInUrl() }, "Sign in"));
  }
}

function markNav(path) {
  for (const link of frame.nav.querySelectorAll("a")) {
    const target = link.dataset.path;
    const current =
      target === "/" ? path === "/" || path.startsWith("/start") : path === target || path.startsWith(`${target}/`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// ---- signing in and out ---------------------------------------------------------------------
async function loadMe() {
  if (!api.signedIn()) {
    me = null;
    return;
  }
  try {
    const who = await api.get("me");
    if (who.role !== "driver") {
      await api.logout({ quiet: true });
      me = null;
      toast("That is an operator account: operators use the dashboard at /dashboard/.", "warn");
      return;
    }
    me = who;
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      me = null;
      return;
    }
    throw error;
  }
}

function startLive() {
  live?.stop();
  live = null;
  if (!me) return;
  live = createLive(api, { query: { types: "session.*" } });
  live.start();
}

async function refreshMe() {
  await loadMe();
  startLive();
  paintAccount();
}

api.onSignedOut((reason) => {
  me = null;
  live?.stop();
  live = null;
  paintAccount();
  if (reason === "expired") toast("Your sign-in has expired; please sign in again.", "warn");
  route();
});

// ---- routing --------------------------------------------------------------------------------
async function route() {
  runCleanups();
  const path = localPath();
  paintAccount();
  markNav(path);
  const content = frame.content;
  let match = null;
  let name = null;
  let needsAuth = false;
  for (const [pattern, page, auth] of ROUTES) {
    match = path.match(pattern);
    if (match) {
      name = page;
      needsAuth = auth;
      break;
    }
  }
  if (!name) {
    document.title = "Not found · Kilowatt";
    clear(
      content,
      h(
        "section",
        { class: "panel" },
        h("h1", {}, "Page not found"),
        h("p", {}, "There is no such page in the charging app."),
        h("a", { class: "button button-primary button-block", href: `${BASE}/` }, "Go to the start"),
      ),
    );
    return;
  }
  if (needsAuth && !me) {
    navigate(signInUrl(location.pathname + location.search), { replace: true });
    return;
  }
  clear(content, spinner());
  const ctx = {
    root: content,
    api,
    live,
    me,
    params: Object.fromEntries(Object.entries(match.groups || {}).map(([k, v]) => [k, decodeURIComponent(v)])),
    query: new URLSearchParams(location.search),
    navigate,
    signInUrl,
    refreshMe,
    onCleanup: (fn) => cleanups.push(fn),
    subscribe: (pattern, callback) => live && cleanups.push(live.on(pattern, callback)),
    onResync: (callback) => live && cleanups.push(live.onResync(callback)),
    title: (text) => (document.title = `${text} · Kilowatt`),
  };
  try {
    const module = await import(`./pages/${name}.js`);
    if (localPath() !== path) return; // navigated away while loading
    clear(content);
    await module.default(ctx);
  } catch (error) {
    console.error(error);
    clear(content, h("section", { class: "panel" }, failure(error, () => route())));
  }
}

async function boot() {
  try {
    await loadMe();
  } catch (error) {
    clear(root, failure(error, () => boot()));
    return;
  }
  startLive();
  buildFrame();
  await route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE) || link.target || link.hasAttribute("download")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => route());

boot();
