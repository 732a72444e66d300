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
import { createRouter, markNav } from "/static/common/router.js";
import { clear, failure, h, toast } from "/static/common/ui.js";

const BASE = "/app";
const api = createApi("driver");
let live = null;
let me = null;

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

const router = createRouter({
  base: BASE,
  routes: ROUTES,
  load: (name) => import(`./pages/${name}.js`),
  content: () => frame.content,
  context: () => ({ api, live, me, signInUrl, refreshMe }),
  live: () => live,
  before: (path) => {
    paintAccount();
    markNav(frame.nav, path, (current) => current === "/" || current.startsWith("/start"));
  },
  // a page for the signed-in only: sign in first, then come back
  guard: ([, , needsAuth]) => {
    if (!needsAuth || me) return true;
    navigate(signInUrl(location.pathname + location.search), { replace: true });
    return false;
  },
  notFound: (content) =>
    clear(
      content,
      h(
        "section",
        { class: "panel" },
        h("h1", {}, "Page not found"),
        h("p", {}, "There is no such page in the charging app."),
        h("a", { class: "button button-primary button-block", href: `${BASE}/` }, "Go to the start"),
      ),
    ),
  failed: (error, retry) => h("section", { class: "panel" }, failure(error, retry)),
});
const { localPath, navigate, route } = router;
export { navigate };

// Where to sign in so as to come back here (the QR context survives the detour).
export function signInUrl(next = location.pathname + location.search, extra = {}) {
  const params = new URLSearchParams({ next, ...extra });
  return `${BASE}/signin?${params}`;
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

router.listen();

boot();
