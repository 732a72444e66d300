// The overview: the network at a glance (stations online, connectors by status, charging now,
// energy today), what needs attention (alerts) and a live feed of what happens.

import { badge, clear, empty, h, kw, kwh, time } from "/static/common/ui.js";
import {
  IN_USE,
  STATUS_ORDER,
  applyEvent,
  coalesce,
  commandFailed,
  connectorChip,
  debounce,
  describe,
  every,
  fetchAll,
  loadNetwork,
  onlineBadge,
  outlets,
  pageHeader,
  refreshRelative,
  relative,
  stationFetcher,
  stationHref,
  tile,
} from "./network-kit.js";

const STUCK_PENDING_MS = 2 * 60_000; // a start the charger accepted but has not begun
const SILENT_SESSION_MS = 15 * 60_000; // charging with no meter reading for this long
const FEED_SIZE = 60;
const STATUS_CLASS = (status) => `seg-${(status || "unknown").toLowerCase()}`;

function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d;
}

export default async function render(ctx) {
  ctx.title("Overview");
  const state = {
    network: new Map(),
    transactions: new Map(), // id -> transaction (running, or started today)
    power: new Map(), // transaction id -> W
    pending: [],
    active: [],
    activeTotal: 0,
    failedCommands24h: null, // summary figures
    liveFailures: [], // command.finished events that failed, newest first
    problems: [],
  };

  const clock = h("p", { class: "tile-sub" });
  const tiles = h("div", { class: "tiles overview-tiles" });
  const statusBox = h("div");
  const alertsBox = h("div");
  const stripBox = h("div");
  const feedList = h("ol", { class: "nw-feed", "aria-label": "Recent events, newest first" });
  const feedEmpty = empty("Waiting for events", "Connections, status changes, sessions and commands appear here as they happen.");
  const withMeters = h("input", { type: "checkbox", id: "feed-meters" });
  const feedBox = h("div", {}, feedEmpty, feedList);

  ctx.root.append(
    pageHeader("Overview", clock),
    h("section", { "aria-label": "Key figures" }, tiles),
    h(
      "div",
      { class: "overview-grid" },
      h(
        "div",
        {},
        h("section", { class: "card", "aria-labelledby": "connectors-title" }, h("div", { class: "card-header" }, h("h2", { id: "connectors-title" }, "Connectors by status")), statusBox),
        h("section", { class: "card", "aria-labelledby": "alerts-title" }, h("div", { class: "card-header" }, h("h2", { id: "alerts-title" }, "Needs attention")), alertsBox),
        h(
          "section",
          { class: "card", "aria-labelledby": "strip-title" },
          h("div", { class: "card-header" }, h("h2", { id: "strip-title" }, "Stations"), h("a", { href: "/dashboard/stations" }, "All stations")),
          stripBox,
        ),
      ),
      h(
        "section",
        { class: "card nw-feed-card", "aria-labelledby": "feed-title" },
        h("div", { class: "card-header" }, h("h2", { id: "feed-title" }, "Live activity"), h("label", { class: "nw-check" }, withMeters, " Meter readings")),
        feedBox,
      ),
    ),
  );

  // ---- loading -------------------------------------------------------------------------------
  async function loadTransactions() {
    const [running, today] = await Promise.all([
      fetchAll(ctx.api, "transactions", { state: "running" }, 1000),
      fetchAll(ctx.api, "transactions", { from: startOfToday().toISOString() }, 2000),
    ]);
    state.transactions = new Map([...today, ...running].map((tx) => [tx.transaction_id, tx]));
  }
  async function loadSessions() {
    const [pending, active] = await Promise.all([ctx.api.get("sessions", { state: "pending", limit: 200 }), ctx.api.get("sessions", { state: "active", limit: 200 })]);
    state.pending = pending.items;
    state.active = active.items;
    state.activeTotal = active.total;
  }
  async function loadCommandFigures() {
    const summary = await ctx.api.get("analytics/summary", { from: new Date(Date.now() - 86400_000).toISOString() });
    state.failedCommands24h = summary.commands;
  }
  async function loadAll() {
    const results = await Promise.allSettled([
      loadNetwork(ctx.api).then((network) => (state.network = network)),
      loadTransactions(),
      loadSessions(),
      loadCommandFigures(),
    ]);
    state.problems = results.filter((r) => r.status === "rejected").map((r) => r.reason?.message || String(r.reason));
    if (results[0].status === "rejected") throw results[0].reason;
  }

  // ---- painting ------------------------------------------------------------------------------
  function delivered(tx) {
    if (tx.state === "stopped") return tx.energy_wh ?? 0;
    if (tx.last_meter_wh != null) return Math.max(0, tx.last_meter_wh - tx.meter_start_wh);
    return tx.energy_wh ?? 0;
  }

  function paint() {
    const entries = [...state.network.values()];
    const online = entries.filter((e) => e.station.online).length;
    const connectors = entries.flatMap((e) => outlets(e).map((c) => ({ ...c, cp: e.station.charge_point_id, online: e.station.online })));
    const counts = new Map();
    for (const c of connectors) counts.set(c.status || "Unknown", (counts.get(c.status || "Unknown") || 0) + 1);
    const inUse = connectors.filter((c) => IN_USE.has(c.status)).length;
    const faulted = connectors.filter((c) => c.status === "Faulted").length;
    const available = counts.get("Available") || 0;
    const since = startOfToday().getTime();
    let energyToday = 0;
    let powerNow = 0;
    let runningCount = 0;
    for (const tx of state.transactions.values()) {
      if (Date.parse(tx.start_timestamp) >= since) energyToday += delivered(tx);
      if (tx.state === "running") {
        runningCount++;
        powerNow += state.power.get(tx.transaction_id) || 0;
      }
    }
    clear(
      tiles,
      tile("Stations online", `${online} / ${entries.length}`, entries.length - online ? `${entries.length - online} offline` : entries.length ? "all online" : "no stations yet", {
        tone: entries.length - online ? "warn" : "ok",
        testid: "tile-online",
      }),
      tile("Sessions running", String(runningCount), [powerNow ? `${kw(powerNow)} now` : "charging transactions", state.pending.length ? ` · ${state.pending.length} starting` : ""], { testid: "tile-charging" }),
      tile("Energy today", kwh(energyToday, 1), "delivered since midnight", { testid: "tile-energy" }),
      tile("Connectors free", `${available} / ${connectors.length}`, `${inUse} in use`, { testid: "tile-available" }),
      tile("Faulted connectors", String(faulted), faulted ? "see below" : "none", { tone: faulted ? "bad" : undefined, testid: "tile-faulted" }),
    );
    paintStatus(connectors, counts);
    paintAlerts(entries);
    paintStrip(entries);
    clock.textContent = `Updated ${time(new Date().toISOString())}`;
  }

  function paintStatus(connectors, counts) {
    if (!connectors.length) {
      clear(statusBox, empty("No connectors yet", "They appear as stations report their status."));
      return;
    }
    const order = [...STATUS_ORDER, ...[...counts.keys()].filter((s) => !STATUS_ORDER.includes(s))].filter((s) => counts.get(s));
    const bar = h("div", { class: "status-bar", role: "img", "aria-label": order.map((s) => `${counts.get(s)} ${s}`).join(", ") });
    for (const status of order) {
      const segment = h("span", { class: `status-seg ${STATUS_CLASS(status)}`, title: `${status}: ${counts.get(status)}` });
      segment.style.width = `${(100 * counts.get(status)) / connectors.length}%`;
      bar.append(segment);
    }
    const offlineCount = connectors.filter((c) => !c.online).length;
    clear(
      statusBox,
      bar,
      h(
        "ul",
        { class: "status-legend", "data-testid": "connector-counts" },
        order.map((status) => h("li", { "data-status": status }, h("span", { class: `legend-swatch ${STATUS_CLASS(status)}`, "aria-hidden": "true" }), h("span", { class: "legend-label" }, status), h("strong", {}, String(counts.get(status))))),
      ),
      offlineCount ? h("p", { class: "tile-sub" }, `${offlineCount} of these are on offline stations (last known status).`) : null,
    );
  }

  function alerts(entries) {
    const now = Date.now();
    const list = [];
    const stationLink = (cp, connector) => h("a", { href: stationHref(cp) }, connector ? `${cp} / ${connector}` : cp);
    for (const e of entries) {
      const s = e.station;
      if (!s.online) {
        list.push({
          tone: s.disconnected_at ? "warn" : "muted",
          rank: s.disconnected_at ? 2 : 4,
          at: s.disconnected_at,
          body: [stationLink(s.charge_point_id), s.disconnected_at ? [" is offline since ", relative(s.disconnected_at)] : " has never connected"],
          label: s.disconnected_at ? "Offline" : "Not connected",
        });
      }
      if (s.registration_status !== "Accepted") {
        list.push({ tone: "warn", rank: 3, body: [stationLink(s.charge_point_id), ` registration is ${s.registration_status}`], label: s.registration_status });
      }
      for (const c of e.connectors.values()) {
        const fault = c.status === "Faulted" || (c.error_code && c.error_code !== "NoError");
        if (!fault) continue;
        list.push({
          tone: "bad",
          rank: 0,
          at: c.status_at,
          body: [stationLink(s.charge_point_id, c.connector_id || null), c.connector_id ? "" : " (station)", ` ${c.status}`, c.error_code && c.error_code !== "NoError" ? `: ${c.error_code}` : "", c.info ? ` — ${c.info}` : "", c.status_at ? [" · ", relative(c.status_at)] : ""],
          label: "Fault",
        });
      }
    }
    for (const session of state.pending) {
      if (now - Date.parse(session.requestedAt) < STUCK_PENDING_MS) continue;
      list.push({
        tone: "warn",
        rank: 1,
        body: [h("a", { href: `/dashboard/sessions/${session.sessionId}` }, `Session #${session.sessionId}`), " on ", stationLink(session.chargingStationId, session.connectorId), " is still waiting for the charger to start, requested ", relative(session.requestedAt)],
        label: "Stuck start",
      });
    }
    for (const session of state.active) {
      const last = session.lastReadingAt || session.startedAt;
      if (!last || now - Date.parse(last) < SILENT_SESSION_MS) continue;
      list.push({
        tone: "warn",
        rank: 2,
        body: [h("a", { href: `/dashboard/sessions/${session.sessionId}` }, `Session #${session.sessionId}`), " on ", stationLink(session.chargingStationId, session.connectorId), " has had no meter reading since ", relative(last)],
        label: "Silent session",
      });
    }
    for (const failure of state.liveFailures) {
      list.push({
        tone: "bad",
        rank: 1,
        body: [failure.data.action, " to ", stationLink(failure.chargingStationId), " failed: ", failure.data.outcome || failure.data.state, " · ", relative(failure.at)],
        label: "Command failed",
      });
    }
    const figures = state.failedCommands24h;
    if (figures && figures.total > figures.succeeded) {
      const failing = figures.by_action
        .filter((a) => a.total > a.succeeded)
        .map((a) => `${a.action} ${a.total - a.succeeded}/${a.total}`)
        .join(", ");
      list.push({
        tone: "warn",
        rank: 3,
        body: [`${figures.total - figures.succeeded} of ${figures.total} commands failed in the last 24 h`, failing ? ` (${failing})` : "", " — ", h("a", { href: "/dashboard/analytics" }, "analytics")],
        label: "Commands",
      });
    }
    for (const problem of state.problems) list.push({ tone: "muted", rank: 5, body: [`Part of this page could not be loaded: ${problem}`], label: "Note" });
    return list.sort((a, b) => a.rank - b.rank || String(b.at || "").localeCompare(String(a.at || "")));
  }

  // The stations at a glance: troubled ones first.
  function paintStrip(entries) {
    if (!entries.length) {
      clear(stripBox, empty("No stations yet", "Stations appear here once they are added."));
      return;
    }
    const trouble = (e) => (!e.station.online ? 1 : 0) + ([...e.connectors.values()].some((c) => c.status === "Faulted") ? 2 : 0);
    const sorted = [...entries].sort((a, b) => trouble(b) - trouble(a) || a.station.charge_point_id.localeCompare(b.station.charge_point_id));
    const shown = sorted.slice(0, 12);
    clear(
      stripBox,
      h(
        "ul",
        { class: "station-strip" },
        shown.map((e) =>
          h(
            "li",
            { "data-station": e.station.charge_point_id },
            h("a", { href: stationHref(e.station.charge_point_id), class: "station-link" }, e.station.charge_point_id),
            onlineBadge(e.station),
            h("span", {}, outlets(e).map((c) => connectorChip(c, { offline: !e.station.online }))),
          ),
        ),
      ),
      entries.length > shown.length ? h("p", { class: "tile-sub" }, h("a", { href: "/dashboard/stations" }, `All ${entries.length} stations →`)) : null,
    );
  }

  function paintAlerts(entries) {
    const list = alerts(entries);
    if (!list.length) {
      clear(alertsBox, h("div", { class: "nw-all-good", role: "status" }, h("span", { class: "nw-all-good-mark", "aria-hidden": "true" }, "✓"), h("div", {}, h("p", { class: "state-title" }, "All clear"), h("p", { class: "tile-sub" }, "No offline stations, faults, stuck sessions or failed commands."))));
      return;
    }
    const shown = list.slice(0, 30);
    clear(
      alertsBox,
      h("ul", { class: "nw-alerts", "data-testid": "alerts" }, shown.map((a) => h("li", { class: `nw-alert nw-alert-${a.tone}` }, badge(a.label, a.tone), h("span", { class: "nw-alert-body" }, a.body)))),
      list.length > shown.length ? h("p", { class: "tile-sub" }, `and ${list.length - shown.length} more`) : null,
    );
  }

  // ---- the feed ------------------------------------------------------------------------------
  function addToFeed(event) {
    if ((event.type === "meter_values" || event.type === "session.updated") && !withMeters.checked) return;
    const { tone, text } = describe(event);
    const cp = event.chargingStationId;
    feedEmpty.remove();
    feedList.prepend(
      h(
        "li",
        { class: `nw-feed-item nw-feed-${tone}`, "data-type": event.type },
        h("time", { datetime: event.at, class: "nw-feed-time" }, time(event.at)),
        h("span", { class: `nw-feed-dot nw-dot-${tone}`, "aria-hidden": "true" }),
        h("span", { class: "nw-feed-text" }, cp ? [h("a", { href: stationHref(cp) }, cp), " "] : "", text),
      ),
    );
    while (feedList.children.length > FEED_SIZE) feedList.lastElementChild.remove();
  }

  // ---- live ----------------------------------------------------------------------------------
  const repaint = coalesce(paint);
  const reloadSessions = debounce(() => loadSessions().then(repaint, () => {}), 500);
  const reloadTransactions = debounce(() => loadTransactions().then(repaint, () => {}), 500);
  const fetchStation = stationFetcher(ctx.api, (cp, fresh) => {
    state.network.set(cp, fresh);
    repaint();
  });

  ctx.subscribe("*", (event) => {
    addToFeed(event);
    const cp = event.chargingStationId;
    if (event.type.startsWith("station.") || event.type === "connector.status") {
      if (!cp) return;
      const entry = state.network.get(cp);
      if (!entry) {
        fetchStation(cp);
        return;
      }
      if (applyEvent(entry, event)) repaint();
    } else if (event.type === "meter_values") {
      const d = event.data || {};
      const tx = state.transactions.get(d.transactionId);
      if (d.powerW != null && d.transactionId != null) state.power.set(d.transactionId, d.powerW);
      if (!tx) {
        if (d.transactionId != null) reloadTransactions();
        return;
      }
      if (d.energyWh != null) {
        tx.last_meter_wh = d.energyWh;
        tx.last_meter_at = d.timestamp || event.at;
      }
      repaint();
    } else if (event.type.startsWith("session.")) {
      reloadSessions();
      if (event.type !== "session.updated") reloadTransactions();
    } else if (event.type === "transaction.stopped") {
      reloadTransactions();
    } else if (event.type === "command.finished" && commandFailed(event.data || {})) {
      state.liveFailures.unshift(event);
      state.liveFailures.splice(10);
      repaint();
    }
  });
  // A transaction begins with a StatusNotification (Preparing/Charging): look for it then.
  ctx.subscribe("connector.status", (event) => {
    if (IN_USE.has(event.data?.status) || event.data?.status === "Available") reloadTransactions();
  });
  ctx.onResync(() => loadAll().then(repaint, () => {}));
  every(ctx, 5000, () => refreshRelative(ctx.root));
  every(ctx, 60_000, () => repaint()); // stuck/silent sessions age into alerts
  ctx.onCleanup(() => {
    reloadSessions.cancel();
    reloadTransactions.cancel();
  });

  await loadAll();
  paint();
}
