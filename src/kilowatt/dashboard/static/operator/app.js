// The operator dashboard: sign-in, the frame (navigation, live indicator) and a router that loads
// one page module per route from ./pages/. A page module exports
//   default async function render(ctx)
// with ctx = {root, api, live, me, params, query, navigate, subscribe, onCleanup, title}.
// ctx.subscribe(pattern, callback) listens to the shared event stream until the page is left.

import { createApi } from "/static/common/api.js";
import { createLive } from "/static/common/live.js";
import { createRouter, markNav } from "/static/common/router.js";
import { clear, failure, field, h } from "/static/common/ui.js";

const BASE = "/dashboard";
const api = createApi("operator");
let live = null;
let me = null;

const NAV = [
  { section: "Network" },
  { path: "/", label: "Overview" },
  { path: "/stations", label: "Stations" },
  { path: "/sites", label: "Sites" },
  { path: "/sessions", label: "Sessions" },
  { path: "/reservations", label: "Reservations" },
  { path: "/firmware", label: "Firmware" },
  { path: "/analytics", label: "Analytics" },
  { section: "Manage" },
  { path: "/tariffs", label: "Tariffs" },
  { path: "/tokens", label: "Tokens" },
  { path: "/users", label: "Users" },
  { path: "/api-keys", label: "API keys" },
  { path: "/webhooks", label: "Webhooks" },
];

const ROUTES = [
  [/^\/?$/, "overview"],
  [/^\/stations\/?$/, "stations"],
  [/^\/stations\/(?<id>[^/]+)\/?$/, "station"],
  [/^\/sites\/?$/, "sites"],
  [/^\/sessions\/?$/, "sessions"],
  [/^\/sessions\/(?<id>\d+)\/?$/, "session"],
  [/^\/reservations\/?$/, "reservations"],
  [/^\/firmware\/?$/, "firmware"],
  [/^\/analytics\/?$/, "analytics"],
  [/^\/tariffs\/?$/, "tariffs"],
  [/^\/tokens\/?$/, "tokens"],
  [/^\/users\/?$/, "users"],
  [/^\/api-keys\/?$/, "api-keys"],
  [/^\/webhooks\/?$/, "webhooks"],
];

const root = document.getElementById("root");

let frame = null;

const router = createRouter({
  base: BASE,
  routes: ROUTES,
  load: (name) => import(`./pages/${name}.js`),
  content: () => frame.content,
  context: () => ({ api, live, me }),
  live: () => live,
  ready: () => Boolean(me),
  before: (path) => {
    frame.setMenu(false);
    markNav(frame.nav, path);
  },
  notFound: (content) =>
    clear(content, h("h1", {}, "Not found"), h("p", {}, "There is no such page."), h("a", { href: `${BASE}/` }, "Back to the overview")),
});
const { navigate, route, runCleanups } = router;
export { navigate };

// ---- sign-in --------------------------------------------------------------------------------
function signIn(message) {
  runCleanups();
  live?.stop();
  live = null;
  me = null;
  document.title = "Sign in · Kilowatt";
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "form-error", role: "alert" }, message || "");
  const submit = h("button", { type: "submit", class: "button button-primary button-block" }, "Sign in");
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        error.textContent = "";
        try {
          await api.login(email.value.trim(), password.value);
          const who = await api.get("me");
          if (who.role === "driver") {
            await api.logout({ quiet: true });
            throw new Error("This is a driver account. Drivers charge from the app at /app/.");
          }
          await start();
        } catch (failed) {
          error.textContent = failed.status === 401 ? "Wrong e-mail or password." : failed.message;
          submit.disabled = false;
          password.focus();
        }
      },
    },
    field("E-mail", email),
    field("Password", password),
    error,
    submit,
  );
  clear(
    root,
    h(
      "main",
      { class: "signin", id: "main" },
      h(
        "div",
        { class: "card" },
        h("a", { class: "brand", href: `${BASE}/` }, h("img", { src: "/static/common/icon.svg", alt: "" }), "Kilowatt"),
        h("h1", {}, "Operator sign-in"),
        h("p", { class: "tile-sub" }, "Sign in with your operator account to run your charging network."),
        form,
      ),
    ),
  );
  email.focus();
}

// ---- the frame ------------------------------------------------------------------------------

function buildFrame() {
  const liveDot = h("span", { class: "live-dot", "aria-hidden": "true" });
  const liveText = h("span", {}, "connecting");
  const content = h("main", { class: "content", id: "main", tabindex: "-1" });
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    NAV.map((item) =>
      item.section
        ? h("div", { class: "nav-section", role: "presentation" }, item.section)
        : h("a", { href: `${BASE}${item.path === "/" ? "/" : item.path}`, "data-path": item.path }, item.label),
    ),
  );
  const menuButton = h(
    "button",
    {
      class: "button menu-button",
      type: "button",
      "aria-label": "Menu",
      "aria-expanded": "false",
      "aria-controls": "sidebar",
      onclick: () => setMenu(!shell.classList.contains("menu-open")),
    },
    "☰",
  );
  const shell = h(
    "div",
    {
      class: "shell",
      // Escape closes the menu and gives the focus back to its button
      onkeydown: (event) => {
        if (event.key === "Escape" && shell.classList.contains("menu-open")) {
          setMenu(false);
          menuButton.focus();
        }
      },
    },
    h(
      "aside",
      { class: "sidebar", id: "sidebar" },
      h("a", { class: "brand", href: `${BASE}/` }, h("img", { src: "/static/common/icon.svg", alt: "" }), "Kilowatt"),
      nav,
    ),
    h(
      "div",
      { class: "main" },
      h(
        "header",
        { class: "topbar" },
        menuButton,
        h("span", { class: "live", "data-testid": "live-state" }, liveDot, liveText),
        h(
          "span",
          { class: "button-row" },
          h("span", { class: "who" }, me.user ? `${me.user.name || me.user.email} · ${me.role}` : me.role),
          h("button", { class: "button button-small", type: "button", onclick: () => api.logout() }, "Sign out"),
        ),
      ),
      content,
    ),
  );
  live.onState((state) => {
    liveDot.className = `live-dot ${state}`;
    liveText.textContent = state === "live" ? "Live" : state;
  });
  function setMenu(open) {
    shell.classList.toggle("menu-open", open);
    menuButton.setAttribute("aria-expanded", String(open));
  }
  clear(root, shell);
  frame = { shell, nav, content, setMenu };
}

async function start() {
  try {
    me = await api.get("me");
  } catch (error) {
    if (error.status === 401 || error.status === 403) return signIn();
    clear(root, failure(error, () => start()));
    return;
  }
  if (me.role === "driver") {
    await api.logout({ quiet: true });
    return signIn();
  }
  live = createLive(api);
  buildFrame();
  live.start();
  await route();
}

// A link of the menu: the new page's content takes the focus (the menu may close under it).
router.listen((link) => {
  const fromMenu = Boolean(frame?.shell.querySelector(".sidebar")?.contains(link));
  return () => {
    if (fromMenu && frame && !frame.content.contains(document.activeElement)) frame.content.focus({ preventScroll: true });
  };
});
api.onSignedOut((reason) => signIn(reason === "expired" ? "Your sign-in has expired; please sign in again." : ""));

if (api.signedIn()) start();
else signIn();
