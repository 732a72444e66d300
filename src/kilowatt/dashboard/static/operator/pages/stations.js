// The stations: a live table with online state, connectors' statuses, last heartbeat and
// hardware; search and filters; an "add station" form for admins.

import { clear, empty, h, toast } from "/static/common/ui.js";
import {
  IN_USE,
  applyEvent,
  can,
  coalesce,
  connectorChip,
  every,
  formDialog,
  loadNetwork,
  onlineBadge,
  outlets,
  pageHeader,
  refreshRelative,
  relative,
  stationFetcher,
  stationHref,
} from "./network-kit.js";

const FILTERS = [
  ["all", "All stations"],
  ["online", "Online"],
  ["offline", "Offline"],
  ["charging", "Charging"],
  ["faulted", "With a fault"],
  ["pending", "Not accepted"],
];

export default async function render(ctx) {
  ctx.title("Stations");
  let network = await loadNetwork(ctx.api);

  const search = h("input", {
    type: "search",
    id: "station-search",
    placeholder: "Id, vendor, model, firmware…",
    value: ctx.query.get("q") || "",
    oninput: () => {
      remember();
      paint();
    },
  });
  const filter = h(
    "select",
    {
      id: "station-filter",
      onchange: () => {
        remember();
        paint();
      },
    },
    FILTERS.map(([value, label]) => h("option", { value, selected: value === (ctx.query.get("show") || "all") }, label)),
  );
  const count = h("p", { class: "tile-sub", role: "status", "aria-live": "polite" });
  const body = h("div");
  const addButton =
    can(ctx.me, "stations:write") && h("button", { type: "button", class: "button button-primary", onclick: () => addStation() }, "Add station");

  ctx.root.append(
    pageHeader("Stations", addButton),
    h(
      "div",
      { class: "nw-toolbar" },
      h("div", { class: "field" }, h("label", { for: "station-search" }, "Search"), search),
      h("div", { class: "field" }, h("label", { for: "station-filter" }, "Show"), filter),
      count,
    ),
    h("section", { class: "card nw-card-flush", "aria-label": "Stations" }, body),
  );

  function remember() {
    const url = new URL(location.href);
    if (search.value) url.searchParams.set("q", search.value);
    else url.searchParams.delete("q");
    if (filter.value !== "all") url.searchParams.set("show", filter.value);
    else url.searchParams.delete("show");
    history.replaceState(null, "", url);
  }

  function matches(entry) {
    const s = entry.station;
    const text = search.value.trim().toLowerCase();
    if (text) {
      const hay = [s.charge_point_id, s.vendor, s.model, s.firmware_version, s.serial_number].filter(Boolean).join(" ").toLowerCase();
      if (!text.split(/\s+/).every((word) => hay.includes(word))) return false;
    }
    const list = outlets(entry);
    switch (filter.value) {
      case "online":
        return s.online;
      case "offline":
        return !s.online;
      case "charging":
        return list.some((c) => IN_USE.has(c.status));
      case "faulted":
        return [...entry.connectors.values()].some((c) => c.status === "Faulted" || (c.error_code && c.error_code !== "NoError"));
      case "pending":
        return s.registration_status !== "Accepted";
      default:
        return true;
    }
  }

  function paint() {
    const all = [...network.values()];
    const shown = all.filter(matches);
    const online = all.filter((e) => e.station.online).length;
    const plural = all.length === 1 ? "station" : "stations";
    count.textContent = `${shown.length === all.length ? `${all.length} ${plural}` : `${shown.length} of ${all.length} ${plural}`} · ${online} online`;
    if (!all.length) {
      clear(body, empty("No stations yet", addButton ? "Add a station, then point the charger at its OCPP URL." : "An admin adds stations; they appear here."));
      return;
    }
    if (!shown.length) {
      clear(body, empty("No station matches", "Change the search or the filter."));
      return;
    }
    clear(
      body,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "stations-table" },
          h("caption", { class: "visually-hidden" }, "Stations, live"),
          h(
            "thead",
            {},
            h("tr", {}, ["Station", "State", "Connectors", "Last heartbeat", "Vendor and model", "Firmware"].map((label) => h("th", { scope: "col" }, label))),
          ),
          h("tbody", {}, shown.map(row)),
        ),
      ),
    );
  }

  function row(entry) {
    const s = entry.station;
    const list = outlets(entry);
    return h(
      "tr",
      { "data-station": s.charge_point_id },
      h("th", { scope: "row" }, h("a", { href: stationHref(s.charge_point_id), class: "station-link" }, s.charge_point_id), s.registration_status !== "Accepted" ? h("div", { class: "tile-sub" }, `registration ${s.registration_status}`) : null),
      h("td", { "data-testid": "station-state" }, onlineBadge(s), h("div", { class: "tile-sub" }, s.online ? (s.connected_at ? ["since ", relative(s.connected_at)] : "") : s.disconnected_at ? ["since ", relative(s.disconnected_at)] : "never connected")),
      h("td", { class: "nw-chips" }, list.length ? list.map((c) => connectorChip(c, { offline: !s.online })) : h("span", { class: "tile-sub" }, "none reported")),
      h("td", {}, s.last_heartbeat_at ? relative(s.last_heartbeat_at) : h("span", { class: "tile-sub" }, "never")),
      h("td", {}, [s.vendor, s.model].filter(Boolean).join(" ") || h("span", { class: "tile-sub" }, "not reported")),
      h("td", {}, s.firmware_version || h("span", { class: "tile-sub" }, "–")),
    );
  }

  const repaint = coalesce(paint);
  const fetchOne = stationFetcher(ctx.api, (cp, entry) => {
    network.set(cp, entry);
    network = new Map([...network.entries()].sort(([a], [b]) => a.localeCompare(b)));
    repaint();
  });

  for (const type of ["station.*", "connector.status"]) {
    ctx.subscribe(type, (event) => {
      const cp = event.chargingStationId;
      if (!cp) return;
      const entry = network.get(cp);
      if (!entry) return fetchOne(cp);
      if (applyEvent(entry, event)) {
        if (event.type === "connector.status") entry.station.last_heartbeat_at = event.at;
        repaint();
      }
    });
  }
  ctx.onResync(async () => {
    network = await loadNetwork(ctx.api);
    repaint();
  });
  every(ctx, 5000, () => refreshRelative(ctx.root));

  async function addStation() {
    const created = await formDialog(
      "Add a station",
      [
        { name: "charge_point_id", label: "Charge point id", required: true, placeholder: "e.g. ACME-0042", hint: "The last part of the charger's OCPP URL; unique across Kilowatt." },
        { name: "connectors", label: "Connectors", type: "number", min: 0, max: 64, value: 2, hint: "Made now; the charger's StatusNotifications add any others." },
        { name: "registration_status", label: "When it boots", type: "select", value: "Accepted", options: [["Accepted", "Accept it"], ["Pending", "Keep it pending"], ["Rejected", "Reject it"]] },
        { name: "password", label: "Password (optional)", type: "password", hint: "OCPP security profile 1 (HTTP Basic): 16 to 40 characters." },
      ],
      (values) =>
        ctx.api.post("stations", {
          charge_point_id: values.charge_point_id,
          connectors: values.connectors ?? 0,
          registration_status: values.registration_status,
          ...(values.password ? { password: values.password } : {}),
        }),
      { submitLabel: "Add station" },
    );
    if (!created) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    toast(`Station ${created.charge_point_id} added. Point the charger at ${scheme}://${location.host}/ocpp/${created.charge_point_id}`, "ok");
    await fetchOne(created.charge_point_id);
  }

  paint();
}
