// Reservations: the tenant's reservations (OCPP ReserveNow), filtered by state and station, live
// from reservation.* events; reserve a connector (or any connector of a station) for a card, and
// cancel one (CancelReservation). A used reservation links to the session that used it.

import { badge, clear, dateTime, empty, failure, field, h, money, spinner, toast } from "/static/common/ui.js";
import { button, can, formDialog, pageHeader, pager, scopePage, select } from "./manage-kit.js";
import { fetchAll, stationHref } from "./network-kit.js";

const LIMIT = 25;
const STATE_INFO = {
  requested: ["Requested", "warn"],
  accepted: ["Held", "ok"],
  used: ["Used", "info"],
  expired: ["Expired", "muted"],
  cancelled: ["Cancelled", "muted"],
  cancel_rejected: ["Cancel rejected", "muted"],
  terminated: ["Terminated", "bad"],
  faulted: ["Faulted", "bad"],
  occupied: ["Occupied", "bad"],
  rejected: ["Rejected", "bad"],
  unavailable: ["Unavailable", "bad"],
  failed: ["Failed", "bad"],
};
// "active"/"ended" filter with the API's active=true/false; the rest are the API's states.
const STATES = [
  ["", "Any state"],
  ["active", "Active (requested or held)"],
  ["ended", "Ended"],
  ...Object.entries(STATE_INFO).map(([state, [label]]) => [state, label]),
];

export function reservationBadge(state) {
  const [label, tone] = STATE_INFO[state] || [state, "muted"];
  const element = badge(label, tone);
  element.dataset.state = state;
  return element;
}

// The reservation fee, when the API gives one ({status, total, currency, …}): none, pending
// while it is active, on the bill of the session that used it, or its own final bill.
function costOf(r) {
  const cost = r.cost;
  if (cost === null || cost === undefined) return h("span", { class: "muted" }, "–");
  if (typeof cost !== "object") return money(cost, r.currency);
  if (cost.status === "none") return h("span", { class: "muted" }, "No fee");
  if (cost.status === "pending") return badge("Pending", "info");
  if (cost.status === "session") return h("span", { class: "muted" }, "On the session's bill");
  if (cost.total === null || cost.total === undefined) return cost.status ? badge(cost.status, "muted") : "–";
  return h("span", { class: "cost-cell" }, money(cost.total, cost.currency), cost.payment?.state ? h("span", { class: "muted" }, ` · ${cost.payment.state}`) : null);
}

export default async function render(ctx) {
  ctx.title("Reservations");
  scopePage(ctx, "reservations");
  const { api, root } = ctx;
  const writable = can(ctx, "reservations:write");
  root.append(
    pageHeader(
      "Reservations",
      "Connectors held for a card until it starts charging there or the time runs out. New reservations, answers and cancellations show up live.",
      writable ? button("New reservation", () => reserve(), { primary: true }) : null,
    ),
  );
  if (!can(ctx, "reservations:read")) {
    root.append(empty("Your role may not see reservations."));
    return;
  }

  // ---- filters ----------------------------------------------------------------------------
  const filters = { state: ctx.query.get("state") || "", station: ctx.query.get("station") || "", offset: Number(ctx.query.get("offset")) || 0 };
  const stateSelect = select("state", STATES, filters.state);
  const stationSelect = select("station", [["", "All stations"]], filters.station);
  const form = h(
    "form",
    {
      class: "filters card",
      role: "search",
      "aria-label": "Filter reservations",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(filters, { state: stateSelect.value, station: stationSelect.value, offset: 0 });
        load();
      },
    },
    field("State", stateSelect),
    field("Station", stationSelect),
    h(
      "div",
      { class: "filters-actions" },
      h("button", { type: "submit", class: "button button-primary" }, "Apply"),
      button("Reset", () => {
        stateSelect.value = stationSelect.value = "";
        Object.assign(filters, { state: "", station: "", offset: 0 });
        load();
      }),
    ),
  );
  const listHost = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(form, listHost);

  let stations = [];
  const stationsLoaded = can(ctx, "stations:read")
    ? fetchAll(api, "stations").then(
        (items) => {
          stations = items.sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
          for (const s of stations) stationSelect.append(h("option", { value: s.charge_point_id, selected: s.charge_point_id === filters.station }, s.charge_point_id));
        },
        () => {},
      )
    : Promise.resolve();
  if (!can(ctx, "stations:read") && filters.station) stationSelect.append(h("option", { value: filters.station, selected: true }, filters.station));

  // ---- the list ---------------------------------------------------------------------------
  let rows = new Map(); // reservationId -> {tr, reservation}
  let withCost = false;
  let loading = 0;

  function syncUrl() {
    const params = new URLSearchParams();
    for (const key of ["state", "station"]) if (filters[key]) params.set(key, filters[key]);
    if (filters.offset) params.set("offset", String(filters.offset));
    const search = params.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }

  function query() {
    const state = filters.state;
    return {
      state: state === "active" || state === "ended" ? undefined : state,
      active: state === "active" ? "true" : state === "ended" ? "false" : undefined,
      station: filters.station,
      limit: LIMIT,
      offset: filters.offset,
    };
  }

  async function load({ quiet = false } = {}) {
    const serial = ++loading;
    syncUrl();
    if (!quiet) clear(listHost, spinner("Loading reservations…"));
    let page;
    try {
      page = await api.get("reservations", query());
    } catch (error) {
      if (serial === loading) clear(listHost, failure(error, () => load()));
      return;
    }
    if (serial !== loading) return;
    rows = new Map();
    if (!page.items.length) {
      const filtered = filters.state || filters.station;
      clear(
        listHost,
        empty(
          filtered ? "No reservations match these filters." : "No reservations yet.",
          filtered ? "Change or reset the filters." : writable ? "Reserve a connector for a card with “New reservation”." : null,
        ),
      );
      return;
    }
    // the fee column appears once the API gives reservations a cost
    withCost = page.items.some((r) => "cost" in r);
    const heads = ["Reservation", "State", "Station", "Card", "Expires", "Outcome", "Used by", withCost ? "Fee" : null, "Created", h("span", { class: "visually-hidden" }, "Actions")].filter(Boolean);
    clear(
      listHost,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "reservations-table" },
          h("caption", { class: "visually-hidden" }, "Reservations"),
          h("thead", {}, h("tr", {}, heads.map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, page.items.map((r) => row(r))),
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
    linkSessions(page.items);
  }

  function row(r) {
    const usedBy = h("td", { "data-cell": "used-by" }, r.transactionId ? `transaction ${r.transactionId}` : h("span", { class: "muted" }, "–"));
    if (r.transactionId && r.cost?.sessionId) sessionLink(usedBy, r.cost.sessionId, r.transactionId);
    const tr = h(
      "tr",
      { "data-reservation": r.reservationId, class: r.active ? "row-live" : undefined },
      h("th", { scope: "row" }, `#${r.reservationId}`),
      h("td", {}, reservationBadge(r.state)),
      h(
        "td",
        {},
        h("a", { class: "station-link", href: stationHref(r.chargingStationId) }, r.chargingStationId),
        h("span", { class: "muted" }, r.connectorId ? ` · connector ${r.connectorId}` : " · any connector"),
      ),
      h("td", { class: "mono" }, r.idTag),
      h("td", {}, dateTime(r.expiresAt)),
      h("td", { class: "rs-outcome" }, r.message || r.reason || "–"),
      usedBy,
      withCost ? h("td", { class: "rs-fee" }, costOf(r)) : null,
      h("td", { title: r.requestedBy ? `by ${r.requestedBy}` : undefined }, dateTime(r.createdAt)),
      h("td", { class: "actions" }, writable && r.active ? button("Cancel", () => cancel(r), { small: true, danger: true, testid: `cancel-${r.reservationId}` }) : null),
    );
    rows.set(r.reservationId, { tr, reservation: r, usedBy });
    return tr;
  }

  // The session a used reservation started, when its fee does not name it: GET /sessions has no
  // transaction filter, so read the sessions of each station since its earliest used
  // reservation and match the transaction.
  async function linkSessions(items) {
    if (!can(ctx, "sessions:read")) return;
    const byStation = new Map();
    for (const r of items.filter((x) => x.transactionId && !x.cost?.sessionId)) {
      const earliest = byStation.get(r.chargingStationId);
      if (!earliest || r.createdAt < earliest) byStation.set(r.chargingStationId, r.createdAt);
    }
    for (const [station, from] of byStation) {
      let sessions = [];
      try {
        sessions = (await api.get("sessions", { station, from, limit: 200 })).items;
      } catch {
        continue; // the transaction number stays
      }
      for (const entry of rows.values()) {
        const r = entry.reservation;
        const session = r.chargingStationId === station && r.transactionId ? sessions.find((s) => s.transactionId === r.transactionId) : null;
        if (session) sessionLink(entry.usedBy, session.sessionId, r.transactionId);
      }
    }
  }

  function sessionLink(cell, sessionId, transactionId) {
    clear(cell, h("a", { href: `/dashboard/sessions/${sessionId}` }, `Session #${sessionId}`), h("span", { class: "muted" }, ` · transaction ${transactionId}`));
  }

  // ---- live -------------------------------------------------------------------------------
  // A shown reservation is re-read and its row replaced; a new one reloads the first page.
  let reloadTimer = null;
  const reloadSoon = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => load({ quiet: true }), 300);
  };
  ctx.onCleanup(() => clearTimeout(reloadTimer));
  async function refreshRow(id) {
    let fresh;
    try {
      fresh = await api.get(`reservations/${id}`);
    } catch {
      return;
    }
    const entry = rows.get(id);
    if (!entry) return;
    const replacement = row(fresh);
    entry.tr.replaceWith(replacement);
    if (fresh.transactionId) linkSessions([fresh]);
  }
  ctx.subscribe("reservation.*", (event) => {
    const id = event.data?.reservationId;
    const entry = rows.get(id);
    if (entry) {
      // the new state at once, the rest (message, transaction) from the API
      const cell = entry.tr.querySelector("[data-state]")?.parentElement;
      if (cell && event.data.state) clear(cell, reservationBadge(event.data.state));
      refreshRow(id);
    } else if (event.type === "reservation.created" && filters.offset === 0) {
      reloadSoon();
    }
  });
  ctx.onResync(() => load({ quiet: true }));

  // ---- actions ----------------------------------------------------------------------------
  async function cancel(r) {
    try {
      const done = await api.del(`reservations/${r.reservationId}`);
      toast(done.state === "cancelled" ? `Reservation #${r.reservationId} cancelled` : done.message, done.state === "cancelled" ? "ok" : "warn");
    } catch (error) {
      toast(error.message, "bad");
    }
    refreshRow(r.reservationId);
  }

  async function reserve() {
    await stationsLoaded;
    const stationChoice = select("station", [["", stations.length ? "Choose a station" : "No stations"], ...stations.map((s) => [s.charge_point_id, `${s.charge_point_id}${s.online ? "" : " (offline)"}`])], filters.station);
    stationChoice.required = true;
    const connectorChoice = select("connector", [["0", "Any connector"]], "0");
    const card = h("input", { type: "text", name: "id_tag", required: true, maxlength: 20, autocomplete: "off", class: "mono", list: "reservation-cards" });
    const cards = h("datalist", { id: "reservation-cards" });
    const minutes = h("input", { type: "number", name: "minutes", min: 1, max: 1440, step: 1, value: 15, class: "input-short" });
    const until = h("input", { type: "datetime-local", name: "until" });
    // the connectors of the chosen station, with their last known status
    stationChoice.addEventListener("change", async () => {
      clear(connectorChoice, h("option", { value: "0" }, "Any connector"));
      const cp = stationChoice.value;
      if (!cp) return;
      try {
        const page = await api.get(`stations/${encodeURIComponent(cp)}/connectors`, { limit: 200 });
        if (stationChoice.value !== cp) return;
        for (const c of page.items.filter((x) => x.connector_id > 0)) connectorChoice.append(h("option", { value: String(c.connector_id) }, `Connector ${c.connector_id} · ${c.status}`));
      } catch {
        // "any connector" still works
      }
    });
    if (stationChoice.value) stationChoice.dispatchEvent(new Event("change"));
    if (can(ctx, "tokens:read")) {
      api.get("tokens", { status: "Accepted", limit: 200 }).then((page) => {
        for (const t of page.items) cards.append(h("option", { value: t.id_tag }));
      }, () => {});
    }
    let refused = null;
    const done = await formDialog(
      "New reservation",
      [
        h("div", { class: "form-grid" }, field("Station", stationChoice), field("Connector", connectorChoice)),
        field("Card (id tag)", card, "The card that may start there: it, or a card of its group."),
        cards,
        h("div", { class: "form-grid" }, field("Minutes", minutes, "How long it holds (up to 24 h)."), field("Or until", until, "Instead of minutes: when it ends.")),
      ],
      {
        submitLabel: "Reserve",
        submit: async () => {
          const body = {
            station: stationChoice.value,
            connector_number: Number(connectorChoice.value),
            id_tag: card.value.trim(),
          };
          if (until.value) body.expires_at = new Date(until.value).toISOString();
          else if (minutes.value) body.minutes = Number(minutes.value);
          try {
            return await api.post("reservations", body);
          } catch (error) {
            // the charger's refusal is recorded: the reservation comes back with a 409/503/504
            if (error.problem?.reservationId) {
              refused = error.problem;
              return refused;
            }
            throw error;
          }
        },
      },
    );
    if (!done) return;
    if (refused) toast(`Not reserved: ${refused.message || refused.reason || refused.state}`, "bad");
    else toast(done.message || `Reservation #${done.reservationId} held`, "ok");
    filters.offset = 0;
    await load({ quiet: true });
  }

  await load();
}
