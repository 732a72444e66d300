// The router both apps share: paths below a base (/dashboard, /app), one page module per route,
// links of the app followed without a reload, the cleanups of the page that is left.
//
//   const router = createRouter({base, routes, load, content, context, ...});
//   router.listen();  // follow the app's links and the browser's back and forward
//
// routes is a list of [pattern, name, ...] matched against the path below the base (the rest of
// an entry is the app's own, e.g. "needs a sign-in"); load(name) imports the page module, whose
//   default async function render(ctx)
// gets ctx = {root, params, query, navigate, onCleanup, subscribe, onResync, title} and what
// context() adds (api, me, live...). The app's own specifics come in as hooks:
//   ready()                      route at all? (false: not now, e.g. signed out)
//   before(path)                 paint the frame for the path (navigation, menu, account)
//   guard(entry, path)           false: the page is not shown (e.g. sent to sign in instead)
//   notFound(content)            the page for a path no route matches
//   failed(error, retry)         what to show when a page fails to load or render
//   live()                       the shared event stream, or null, for subscribe and onResync

import { clear, failure, spinner } from "/static/common/ui.js";

export function createRouter({
  base,
  routes,
  load,
  content,
  context = () => ({}),
  ready = () => true,
  before = () => {},
  guard = () => true,
  notFound,
  failed = (error, retry) => failure(error, retry),
  live = () => null,
}) {
  const cleanups = [];

  function localPath() {
    const path = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : "/";
    return path || "/";
  }

  function navigate(path, { replace = false } = {}) {
    const url = path.startsWith(`${base}/`) || path === base ? path : `${base}${path}`;
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    return route();
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

  function onCleanup(fn) {
    return cleanups.push(fn);
  }

  async function route() {
    if (!ready()) return;
    runCleanups();
    const path = localPath();
    before(path);
    const root = content();
    let match = null;
    let entry = null;
    for (const candidate of routes) {
      match = path.match(candidate[0]);
      if (match) {
        entry = candidate;
        break;
      }
    }
    if (!entry) {
      document.title = "Not found · Kilowatt";
      notFound(root);
      return;
    }
    if (guard(entry, path) === false) return;
    clear(root, spinner());
    const ctx = {
      root,
      ...context(),
      params: Object.fromEntries(Object.entries(match.groups || {}).map(([k, v]) => [k, decodeURIComponent(v)])),
      query: new URLSearchParams(location.search),
      navigate,
      onCleanup,
      subscribe: (pattern, callback) => live() && cleanups.push(live().on(pattern, callback)),
      onResync: (callback) => live() && cleanups.push(live().onResync(callback)),
      title: (text) => (document.title = `${text} · Kilowatt`),
    };
    try {
      const module = await load(entry[1]);
      if (localPath() !== path) return; // navigated away while loading
      clear(root);
      await module.default(ctx);
    } catch (error) {
      console.error(error);
      clear(root, failed(error, () => route()));
    }
  }

  // Follow a plain left click on a link below the base without a reload; followed(link), called
  // before, may return a function to run once the new page is shown.
  function listen(followed = () => null) {
    document.addEventListener("click", (event) => {
      const link = event.target.closest?.("a[href]");
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
      const url = new URL(link.href, location.href);
      if (url.origin !== location.origin || !url.pathname.startsWith(base) || link.target || link.hasAttribute("download")) return;
      event.preventDefault();
      const after = followed(link);
      const shown = navigate(url.pathname + url.search);
      if (after) shown.then(after);
    });
    window.addEventListener("popstate", () => route());
  }

  return { localPath, navigate, route, runCleanups, onCleanup, listen };
}

// Mark the link of a navigation that leads to the current path (aria-current="page"); isHome(path)
// says which paths belong to the "/" link.
export function markNav(nav, path, isHome = (current) => current === "/") {
  for (const link of nav.querySelectorAll("a")) {
    const target = link.dataset.path;
    const current = target === "/" ? isHome(path) : path === target || path.startsWith(`${target}/`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}
