// Analytics: the seed's success metrics as tiles, time series, and uptime per connector (NEVI and
// CEC), over a chosen period and scope (the whole network, a site or a station).

import { barChart, lineChart } from "/static/common/chart.js";
import { badge, clear, duration, empty, failure, field, h, kwh, spinner } from "/static/common/ui.js";
import { can, dayAfter, dayStart, dayValue, daysAgo, pageHeader, percent, scopePage, section, select } from "./manage-kit.js";
import { confirmDialog, formDialog, sectionWith } from "./manage-kit.js"; // outage exclusions
import { dateTime, toast } from "/static/common/ui.js"; // outage exclusions

const PERIODS = [
  ["1", "Last 24 hours"],
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
  ["90", "Last 90 days"],
  ["365", "Last 12 months"],
  ["custom", "Custom…"],
];
const NEVI_TARGET = 97;

export default async function render(ctx) {
  ctx.title("Analytics");
  scopePage(ctx, "analytics");
  const { api, root } = ctx;
  const state = {
    period: ctx.query.get("period") || "30",
    from: ctx.query.get("from") || dayValue(daysAgo(30)),
    to: ctx.query.get("to") || dayValue(new Date()),
    site: ctx.query.get("site") || "",
    station: ctx.query.get("station") || "",
  };
  root.append(pageHeader("Analytics", "How well the network serves drivers: commands, sessions, errors and uptime."));

  if (!can(ctx, "stations:read")) {
    root.append(empty("Analytics needs the stations:read permission.", "Ask an administrator of your network."));
    return;
  }
  const summaryAllowed = can(ctx, "sessions:read");

  // ---- controls -----------------------------------------------------------------------------
  const periodSelect = select("period", PERIODS, state.period);
  const fromInput = h("input", { type: "date", name: "from", value: state.from });
  const toInput = h("input", { type: "date", name: "to", value: state.to });
  const fromField = field("From", fromInput);
  const toField = field("To (including)", toInput);
  const siteSelect = select("site", [["", "All sites"]], state.site);
  const stationSelect = select("station", [["", "All stations"]], state.station);
  const showCustom = () => (fromField.hidden = toField.hidden = periodSelect.value !== "custom");
  periodSelect.addEventListener("change", showCustom);
  siteSelect.addEventListener("change", () => {
    if (siteSelect.value) stationSelect.value = "";
  });
  stationSelect.addEventListener("change", () => {
    if (stationSelect.value) siteSelect.value = "";
  });
  showCustom();
  const form = h(
    "form",
    {
      class: "filters card",
      "aria-label": "Period and scope",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(state, { period: periodSelect.value, from: fromInput.value, to: toInput.value, site: siteSelect.value, station: stationSelect.value });
        load();
      },
    },
    field("Period", periodSelect),
    fromField,
    toField,
    field("Site", siteSelect),
    field("Station", stationSelect),
    h("div", { class: "filters-actions" }, h("button", { type: "submit", class: "button button-primary" }, "Show")),
  );
  const host = h("div", { "aria-live": "polite" });
  root.append(form, host);

  api
    .get("sites", { limit: 200 })
    .then((page) => {
      for (const site of page.items || []) siteSelect.append(h("option", { value: site.id, selected: String(site.id) === state.site }, site.name));
    })
    .catch(() => {});
  api
    .get("stations", { limit: 200 })
    .then((page) => {
      for (const st of page.items || []) stationSelect.append(h("option", { value: st.charge_point_id, selected: st.charge_point_id === state.station }, st.charge_point_id));
    })
    .catch(() => {});

  function range() {
    if (state.period === "custom") {
      const from = dayStart(state.from);
      const to = dayAfter(state.to);
      return { from, to: to && Date.parse(to) > Date.now() ? new Date().toISOString() : to };
    }
    const days = Number(state.period);
    const to = new Date();
    return { from: new Date(to.getTime() - days * 86400_000).toISOString(), to: to.toISOString() };
  }

  let serial = 0;
  async function load() {
    const mine = ++serial;
    const params = new URLSearchParams();
    for (const key of ["period", "site", "station"]) if (state[key]) params.set(key, state[key]);
    if (state.period === "custom") {
      params.set("from", state.from);
      params.set("to", state.to);
    }
    history.replaceState(null, "", `${location.pathname}?${params}`);
    clear(host, spinner("Computing the figures…"));
    const { from, to } = range();
    const scope = { from, to, site_id: state.site || undefined, station: state.station || undefined };
    const spanHours = (Date.parse(to) - Date.parse(from)) / 3600_000;
    const bucket = spanHours <= 72 ? "hour" : "day";
    const series = (metric) => api.get("analytics/timeseries", { ...scope, metric, bucket });
    try {
      const [summary, sessions, completed, energy, success, uptime, exclusions] = await Promise.all([
        summaryAllowed ? api.get("analytics/summary", scope) : null,
        summaryAllowed ? series("sessions") : null,
        summaryAllowed ? series("completed_sessions") : null,
        summaryAllowed ? series("energy_wh") : null,
        summaryAllowed ? series("command_success_percent") : null,
        api.get("analytics/uptime", { ...scope, limit: 200 }),
        api.get("analytics/exclusions", { ...scope, limit: 200 }),
      ]);
      if (mine !== serial) return;
      clear(
        host,
        summary ? summaryTiles(summary) : h("p", { class: "notice" }, "The success metrics need the sessions:read permission; uptime is below."),
        summary
          ? h(
              "div",
              { class: "analytics-grid" },
              section(
                "Sessions",
                lineChart({
                  title: `Sessions per ${bucket}`,
                  series: [
                    { name: "Requested", points: sessions.points.map((p) => [p.at, p.value]) },
                    { name: "Completed", points: completed.points.map((p) => [p.at, p.value]) },
                  ],
                  format: (v) => String(Math.round(v * 10) / 10),
                }),
              ),
              section(
                "Energy delivered",
                barChart({
                  title: `Energy delivered per ${bucket} (kWh)`,
                  bars: energy.points.map((p) => ({ label: bucketLabel(p.at, bucket), value: p.value === null ? null : p.value / 1000 })),
                  format: (v) => `${round(v)} kWh`,
                }),
              ),
              section(
                "Command success rate",
                lineChart({ title: `OCPP command success per ${bucket} (%)`, series: [{ name: "Success", points: success.points.map((p) => [p.at, p.value]) }], format: (v) => `${Math.round(v)} %` }),
              ),
              errorsCard(summary),
            )
          : null,
        summary ? commandsCard(summary) : null,
        uptimeCard(uptime),
        exclusionsCard(ctx, exclusions, { from, to, station: state.station }, () => load()),
      );
    } catch (error) {
      if (mine === serial) clear(host, failure(error, () => load()));
    }
  }

  await load();
}

function tile(label, value, sub, testid) {
  return h("div", { class: "tile", "data-testid": testid }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value), sub && h("div", { class: "tile-sub" }, sub));
}

function summaryTiles(s) {
  const c = s.commands;
  const se = s.sessions;
  const u = s.unlocks;
  return h(
    "div",
    { class: "tiles metric-tiles", "aria-label": "Success metrics", role: "group" },
    tile("Command success", percent(c.success_percent), `${c.succeeded} of ${c.total} commands${c.in_flight ? ` · ${c.in_flight} in flight` : ""}`, "metric-commands"),
    tile("Session completion", percent(se.completion_percent), `${se.completed} completed · ${se.failed} failed · ${se.expired} expired`, "metric-completion"),
    tile("Sessions", String(se.requested), `${se.open} open · ${se.cancelled} cancelled by the driver`, "metric-sessions"),
    tile("Average duration", duration(se.average_duration_seconds), "of completed sessions", "metric-duration"),
    tile("Average energy", kwh(se.average_energy_wh), `${kwh(se.energy_wh, 1)} in total`, "metric-energy"),
    tile("Unlock requests", String(u.requests), `${u.per_day === null ? "–" : round(u.per_day)} per day · ${u.per_100_sessions === null ? "–" : round(u.per_100_sessions)} per 100 sessions`, "metric-unlocks"),
  );
}

function errorsCard(s) {
  const e = s.errors;
  const rows = [
    ["Network (station offline)", e.network],
    ["Timeout (no answer)", e.timeout],
    ["Charger (refused, CALLERROR)", e.charger],
    ["Authorization (card refused)", e.authorization],
  ];
  const details = [
    ...Object.entries(e.charger_outcomes || {}).map(([word, n]) => `${word}: ${n}`),
    ...Object.entries(e.authorization_statuses || {}).map(([word, n]) => `${word}: ${n}`),
  ];
  return section(
    "Error rates by type",
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "data-testid": "error-rates" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), h("th", { scope: "col", class: "num" }, "Errors"), h("th", { scope: "col", class: "num" }, "Of"), h("th", { scope: "col", class: "num" }, "Rate"))),
        h(
          "tbody",
          {},
          rows.map(([label, f]) =>
            h("tr", {}, h("th", { scope: "row" }, label), h("td", { class: "num" }, String(f.count)), h("td", { class: "num" }, String(f.attempts)), h("td", { class: "num" }, rateBar(f.percent))),
          ),
        ),
      ),
    ),
    details.length ? h("p", { class: "tile-sub" }, `Outcomes: ${details.join(" · ")}`) : null,
    h("p", { class: "tile-sub" }, `Faulted status notifications: ${e.faulted_status_notifications}`),
  );
}

function rateBar(value) {
  if (value === null || value === undefined) return "–";
  const fill = h("span", { class: "rate-fill" });
  fill.style.width = `${Math.min(100, value)}%`;
  return h("span", { class: "rate" }, h("span", { class: "rate-bar", "aria-hidden": "true" }, fill), percent(value));
}

function commandsCard(s) {
  const rows = s.commands.by_action;
  return section(
    "Commands by action",
    rows.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Action"), h("th", { scope: "col", class: "num" }, "Sent"), h("th", { scope: "col", class: "num" }, "Succeeded"), h("th", { scope: "col", class: "num" }, "Success"), h("th", { scope: "col" }, "Outcomes"))),
            h(
              "tbody",
              {},
              rows.map((a) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, a.action),
                  h("td", { class: "num" }, String(a.total)),
                  h("td", { class: "num" }, String(a.succeeded)),
                  h("td", { class: "num" }, percent(a.success_percent)),
                  h("td", {}, Object.entries(a.outcomes).map(([word, n]) => h("span", { class: "outcome" }, `${word} ${n}`))),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No commands in this period."),
  );
}

function uptimeCard(page) {
  const items = page.items;
  const status = (value) => (value === null ? badge("–", "muted") : badge(`${value.toFixed(2)} %`, value >= NEVI_TARGET ? "ok" : "bad"));
  return section(
    "Uptime per connector",
    h("p", { class: "tile-sub" }, `NEVI (23 CFR 680.116(b)) and CEC rules, target ${NEVI_TARGET} %, from the station's registration up to now. Excluded: outages outside the operator's control.`),
    items.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "data-testid": "uptime" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Station", "Connector", "NEVI uptime", "CEC uptime", "Outage", "Offline", "Faulted / unavailable", "Excluded (NEVI)", "Excluded (CEC)"].map((label, i) => h("th", { scope: "col", class: i >= 2 ? "num" : undefined }, label)),
              ),
            ),
            h(
              "tbody",
              {},
              items.map((u) =>
                h(
                  "tr",
                  {},
                  h("td", {}, h("a", { href: `/dashboard/stations/${encodeURIComponent(u.charge_point_id)}`, class: "mono" }, u.charge_point_id)),
                  h("td", {}, String(u.connector_id)),
                  h("td", { class: "num" }, status(u.nevi.uptime_percent)),
                  h("td", { class: "num" }, status(u.cec.uptime_percent)),
                  h("td", { class: "num" }, minutes(u.outage_minutes)),
                  h("td", { class: "num" }, minutes(u.offline_minutes)),
                  h("td", { class: "num" }, minutes(u.status_outage_minutes)),
                  h("td", { class: "num" }, minutes(u.nevi.excluded_minutes)),
                  h("td", { class: "num" }, minutes(u.cec.excluded_minutes)),
                ),
              ),
            ),
          ),
        )
      : empty("No connectors in this scope.", "Connectors appear once their station has reported them."),
    page.total > items.length ? h("p", { class: "tile-sub" }, `Showing ${items.length} of ${page.total} connectors.`) : null,
  );
}

function minutes(value) {
  if (!value) return "0 min";
  return duration(value * 60);
}

function round(value) {
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: value >= 100 ? 0 : 1 }).format(value);
}

function bucketLabel(iso, bucket) {
  const d = new Date(iso);
  return bucket === "hour" ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

// ---- outage exclusions (GET/POST /api/v1/analytics/exclusions, DELETE …/{id}) ----------------------
// What each reason is, and which rule excludes it (docs/analytics.md, "Excluded outage").
const REASONS = [
  ["utility", "Utility outage", "Electric utility service interruption, grid power loss.", "Excluded by NEVI and CEC.", "NEVI · CEC"],
  ["vehicle_fault", "Vehicle fault", "The port could not charge because of the vehicle.", "Excluded by NEVI only: it counts as outage under CEC.", "NEVI only"],
  ["vandalism", "Vandalism", "Damage to the station by someone else.", "Excluded by NEVI; CEC excludes at most 10 days per incident (one exclusion is one incident).", "NEVI · CEC ≤ 10 days"],
  ["natural_disaster", "Natural disaster", "Flood, fire, storm, earthquake and the like.", "Excluded by NEVI and CEC.", "NEVI · CEC"],
  ["maintenance", "Scheduled maintenance", "Planned maintenance or upgrades.", "Excluded by NEVI; CEC excludes at most 72 hours per connector per calendar year.", "NEVI · CEC ≤ 72 h/year"],
  ["closed_hours", "Closed hours", "Outside the station's hours of operation, not open to the public.", "Excluded by NEVI only: it counts as outage under CEC.", "NEVI only"],
];
const REASON = Object.fromEntries(REASONS.map(([id, label, what, rule, short]) => [id, { label, what, rule, short }]));

// <input type="datetime-local"> value of a Date (local time, to the minute)
function localValue(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function exclusionsCard(ctx, page, scope, reload) {
  const mayWrite = can(ctx, "stations:write");
  const items = page.items;
  const add = mayWrite && h("button", { type: "button", class: "button button-small button-primary", onclick: () => addExclusion(ctx, scope, reload) }, "Add exclusion");
  const columns = ["Station", "Connector", "From", "To", "Duration", "Reason", "Excluded by", "Note", "By"];
  return sectionWith(
    "Outage exclusions",
    add,
    h("p", { class: "tile-sub" }, "Outages outside the operator's control, declared here, are not counted against uptime (only outage inside an exclusion is excluded). Exclusions overlapping the period are listed."),
    items.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "data-testid": "exclusions" },
            h("thead", {}, h("tr", {}, columns.map((label) => h("th", { scope: "col" }, label)), mayWrite && h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            h(
              "tbody",
              {},
              items.map((x) => {
                const reason = REASON[x.reason] || { label: x.reason, short: "–", rule: "" };
                return h(
                  "tr",
                  {},
                  h("td", {}, h("a", { href: `/dashboard/stations/${encodeURIComponent(x.station)}`, class: "mono" }, x.station)),
                  h("td", {}, x.connector_id == null ? "All" : String(x.connector_id)),
                  h("td", {}, dateTime(x.from)),
                  h("td", {}, dateTime(x.to)),
                  h("td", { class: "nowrap" }, duration((Date.parse(x.to) - Date.parse(x.from)) / 1000)),
                  h("td", {}, badge(reason.label, "info")),
                  h("td", { title: reason.rule }, reason.short),
                  h("td", { class: "st-note" }, x.note || h("span", { class: "muted" }, "–")),
                  h("td", {}, x.created_by || "–"),
                  mayWrite &&
                    h(
                      "td",
                      { class: "actions" },
                      h(
                        "button",
                        {
                          type: "button",
                          class: "button button-small",
                          "aria-label": `Delete the exclusion of ${x.station} from ${dateTime(x.from)}`,
                          onclick: async () => {
                            const ok = await confirmDialog("Delete this exclusion?", `The outage of ${x.station} from ${dateTime(x.from)} to ${dateTime(x.to)} counts against uptime again.`, { confirmLabel: "Delete exclusion" });
                            if (!ok) return;
                            try {
                              await ctx.api.del(`analytics/exclusions/${x.id}`);
                              toast("Exclusion deleted", "ok");
                              reload();
                            } catch (error) {
                              toast(error.message, "bad");
                            }
                          },
                        },
                        "Delete",
                      ),
                    ),
                );
              }),
            ),
          ),
        )
      : empty("No exclusions in this period.", mayWrite ? "Add one for a grid outage, vandalism, maintenance…" : null),
    page.total > items.length ? h("p", { class: "tile-sub" }, `Showing ${items.length} of ${page.total} exclusions.`) : null,
  );
}

async function addExclusion(ctx, scope, reload) {
  let stations = [];
  try {
    stations = (await ctx.api.get("stations", { limit: 200 })).items.map((s) => s.charge_point_id).sort();
  } catch {
    stations = [];
  }
  const station = h("select", { name: "station", required: true }, stations.map((cp) => h("option", { value: cp, selected: cp === scope.station }, cp)));
  const connector = h("select", { name: "connector" }, h("option", { value: "" }, "All connectors"));
  async function loadConnectors() {
    clear(connector, h("option", { value: "" }, "All connectors"));
    if (!station.value) return;
    try {
      const page = await ctx.api.get(`stations/${encodeURIComponent(station.value)}/connectors`, { limit: 200 });
      for (const c of page.items.filter((c) => c.connector_id > 0)) connector.append(h("option", { value: c.connector_id }, `Connector ${c.connector_id}`));
    } catch {
      // all connectors stays possible
    }
  }
  station.addEventListener("change", loadConnectors);
  loadConnectors();
  const now = new Date();
  now.setSeconds(0, 0);
  const start = h("input", { type: "datetime-local", name: "from", required: true, value: localValue(new Date(now.getTime() - 3600_000)) });
  const end = h("input", { type: "datetime-local", name: "to", required: true, value: localValue(now) });
  const reason = h("select", { name: "reason", required: true }, REASONS.map(([id, label]) => h("option", { value: id }, label)));
  const explain = h("p", { class: "hint st-reason-hint", "aria-live": "polite" });
  const paintReason = () => {
    const r = REASON[reason.value];
    clear(explain, r.what, " ", h("strong", {}, r.rule));
  };
  reason.addEventListener("change", paintReason);
  paintReason();
  const note = h("textarea", { name: "note", rows: 2, maxlength: 2000, placeholder: "e.g. grid outage, utility ticket 4711" });
  const reasonField = field("Reason", reason);
  reasonField.append(explain);
  const created = await formDialog(
    "Add an outage exclusion",
    [
      stations.length ? null : h("p", { class: "notice notice-warn" }, "There are no stations to exclude outage of."),
      h("div", { class: "st-form-2" }, field("Station", station), field("Connector", connector)),
      h("div", { class: "st-form-2" }, field("From", start), field("To", end)),
      reasonField,
      field("Note (optional)", note, "Evidence: a ticket number, a police report…"),
    ],
    {
      submitLabel: "Add exclusion",
      submit: async () => {
        if (!start.value || !end.value) throw new Error("Give the start and the end of the outage.");
        return ctx.api.post("analytics/exclusions", {
          station: station.value,
          connector_id: connector.value ? Number(connector.value) : null,
          from: new Date(start.value).toISOString(),
          to: new Date(end.value).toISOString(),
          reason: reason.value,
          note: note.value.trim() || null,
        });
      },
    },
  );
  if (!created) return;
  toast("Exclusion added: uptime recomputed", "ok");
  reload();
}
