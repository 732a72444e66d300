// Sessions: live and past charging sessions of the tenant, filtered, live, exportable as CSV.

import { clear, dateTime, duration, empty, failure, field, h, kw, kwh, spinner, toast } from "/static/common/ui.js";
import { can, dayAfter, dayStart, dayValue, daysAgo, downloadResponse, pageHeader, pager, scopePage, select } from "./manage-kit.js";
import { costCell, stateBadge } from "./manage-sessions-kit.js";

const LIMIT = 25;
const STATES = [
  ["", "Any state"],
  ["active", "Charging"],
  ["pending", "Starting"],
  ["completed", "Completed"],
  ["failed", "Failed"],
  ["expired", "Expired"],
  ["cancelled", "Cancelled"],
];

export default async function render(ctx) {
  ctx.title("Sessions");
  scopePage(ctx, "sessions");
  const { api, root } = ctx;
  const filters = {
    state: ctx.query.get("state") || "",
    station: ctx.query.get("station") || "",
    from: ctx.query.get("from") || "",
    to: ctx.query.get("to") || "",
    offset: Number(ctx.query.get("offset")) || 0,
  };

  const exportButton = can(ctx, "billing:read")
    ? h("button", { type: "button", class: "button", onclick: () => exportCsv() }, "Export CSV")
    : null;
  root.append(pageHeader("Sessions", "Charging sessions on your network, newest first. Charging ones update live.", exportButton));

  // ---- filters ----------------------------------------------------------------------------
  const stateSelect = select("state", STATES, filters.state);
  const stationSelect = select("station", [["", "All stations"]], filters.station);
  const fromInput = h("input", { type: "date", name: "from", value: filters.from });
  const toInput = h("input", { type: "date", name: "to", value: filters.to });
  const form = h(
    "form",
    {
      class: "filters card",
      role: "search",
      "aria-label": "Filter sessions",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(filters, { state: stateSelect.value, station: stationSelect.value, from: fromInput.value, to: toInput.value, offset: 0 });
        load();
      },
    },
    field("State", stateSelect),
    field("Station", stationSelect),
    field("From", fromInput),
    field("To (including)", toInput),
    h(
      "div",
      { class: "filters-actions" },
      h("button", { type: "submit", class: "button button-primary" }, "Apply"),
      h(
        "button",
        {
          type: "button",
          class: "button",
          onclick: () => {
            stateSelect.value = stationSelect.value = fromInput.value = toInput.value = "";
            Object.assign(filters, { state: "", station: "", from: "", to: "", offset: 0 });
            load();
          },
        },
        "Reset",
      ),
    ),
  );
  const listHost = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(form, listHost);

  if (can(ctx, "stations:read")) {
    api
      .get("stations", { limit: 200 })
      .then((page) => {
        for (const station of page.items) stationSelect.append(h("option", { value: station.charge_point_id, selected: station.charge_point_id === filters.station }, station.charge_point_id));
      })
      .catch(() => {});
  } else if (filters.station) {
    stationSelect.append(h("option", { value: filters.station, selected: true }, filters.station));
  }

  // ---- the list ---------------------------------------------------------------------------
  let rows = new Map(); // sessionId -> {session, cells}
  let loading = 0;

  function syncUrl() {
    const params = new URLSearchParams();
    for (const key of ["state", "station", "from", "to"]) if (filters[key]) params.set(key, filters[key]);
    if (filters.offset) params.set("offset", String(filters.offset));
    const search = params.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }

  async function load({ quiet = false } = {}) {
    const serial = ++loading;
    syncUrl();
    if (!quiet) clear(listHost, spinner("Loading sessions…"));
    let page;
    try {
      page = await api.get("sessions", {
        state: filters.state,
        station: filters.station,
        from: dayStart(filters.from),
        to: dayAfter(filters.to),
        limit: LIMIT,
        offset: filters.offset,
      });
    } catch (error) {
      if (serial === loading) clear(listHost, failure(error, () => load()));
      return;
    }
    if (serial !== loading) return;
    rows = new Map();
    if (!page.items.length) {
      const filtered = filters.state || filters.station || filters.from || filters.to;
      clear(listHost, empty(filtered ? "No sessions match these filters." : "No sessions yet.", filtered ? "Change or reset the filters." : "Sessions appear here as soon as a driver starts charging."));
      return;
    }
    const tbody = h("tbody", {}, page.items.map((s) => row(s)));
    clear(
      listHost,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "sessions-table" },
          h("caption", { class: "visually-hidden" }, "Charging sessions"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Session", "State", "Station", "Card", "Started", "Duration", "Energy", "Power", "Cost"].map((label, i) =>
                h("th", { scope: "col", class: i >= 5 ? "num" : undefined }, label),
              ),
            ),
          ),
          tbody,
        ),
      ),
      h(
        "div",
        { class: "card-footer" },
        pager(page, (offset) => {
          filters.offset = offset;
          load();
        }),
      ),
    );
  }

  function row(s) {
    const cells = {
      state: h("td", {}, stateBadge(s.state)),
      duration: h("td", { class: "num" }, duration(s.durationSeconds)),
      energy: h("td", { class: "num" }, kwh(s.energyWh)),
      power: h("td", { class: "num" }, s.state === "active" ? kw(s.powerW) : "–"),
      cost: h("td", { class: "num" }, costCell(s.cost)),
    };
    const tr = h(
      "tr",
      { "data-session": s.sessionId, class: s.state === "active" ? "row-live" : undefined },
      h("td", {}, h("a", { href: `/dashboard/sessions/${s.sessionId}`, "aria-label": `Session ${s.sessionId}` }, `#${s.sessionId}`)),
      cells.state,
      h("td", {}, h("span", { class: "mono" }, s.chargingStationId), h("span", { class: "muted" }, ` · ${s.connectorId}`)),
      h("td", { class: "mono" }, s.chargeTagId),
      h("td", {}, dateTime(s.startedAt || s.requestedAt)),
      cells.duration,
      cells.energy,
      cells.power,
      cells.cost,
    );
    rows.set(s.sessionId, { session: { ...s }, cells, tr });
    return tr;
  }

  function patch(entry, data) {
    const s = entry.session;
    if (data.state) s.state = data.state;
    if (data.energyWh !== undefined) s.energyWh = data.energyWh;
    if (data.powerW !== undefined) s.powerW = data.powerW;
    if (data.cost) s.cost = { ...(s.cost || {}), ...data.cost };
    clear(entry.cells.state, stateBadge(s.state));
    clear(entry.cells.energy, kwh(s.energyWh));
    clear(entry.cells.power, s.state === "active" ? kw(s.powerW) : "–");
    clear(entry.cells.cost, costCell(s.cost));
    entry.tr.classList.toggle("row-live", s.state === "active");
  }

  // ---- live -------------------------------------------------------------------------------
  let reloadTimer = null;
  const reloadSoon = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => load({ quiet: true }), 400);
  };
  ctx.onCleanup(() => clearTimeout(reloadTimer));
  ctx.subscribe("session.*", (event) => {
    const id = event.data?.sessionId;
    const entry = rows.get(id);
    if (event.type === "session.updated" && entry) {
      patch(entry, event.data);
      // a session that stopped charging: re-read it for its final duration and bill
      if (event.data.state && event.data.state !== "active") reloadSoon();
      return;
    }
    if (entry || (event.type === "session.created" && filters.offset === 0)) reloadSoon();
  });
  ctx.onResync(() => load({ quiet: true }));
  const ticker = setInterval(() => {
    for (const entry of rows.values()) {
      const s = entry.session;
      if (s.state === "active" && s.startedAt) clear(entry.cells.duration, duration((Date.now() - Date.parse(s.startedAt)) / 1000));
    }
  }, 1000);
  ctx.onCleanup(() => clearInterval(ticker));

  // ---- CSV export -------------------------------------------------------------------------
  async function exportCsv() {
    const from = dayStart(filters.from || fromInput.value) || dayStart(dayValue(daysAgo(30)));
    const to = dayAfter(filters.to || toInput.value) || new Date().toISOString();
    exportButton.disabled = true;
    try {
      const response = await api.request("GET", "billing/sessions.csv", { query: { from, to }, raw: true, headers: { Accept: "text/csv" } });
      if (!response.ok) {
        let detail = response.statusText;
        try {
          detail = (await response.json()).detail || detail;
        } catch {
          // not a problem document
        }
        throw new Error(detail);
      }
      const name = await downloadResponse(response, "sessions.csv");
      toast(`Downloaded ${name}`, "ok");
    } catch (error) {
      toast(`Export failed: ${error.message}`, "bad");
    } finally {
      exportButton.disabled = false;
    }
  }

  await load();
}
