// A site's "Load management" panel on the Sites page (docs/load-management.md): the limit in
// force now, the latest allocation (live on load.allocated), the allocation over time as a chart
// (load per phase against the limit), the windows that lower the limit and the settings (on/off,
// the grid limit in A or kW as one value or per phase, minimum and maximum current, voltage,
// priorities by token group). Changes need stations:write; others read.
//
// sites.js repaints its cards on every station event, so each site's panel is made once here and
// moved into the new card: an open panel keeps its state and the form its edits. A panel reads
// nothing until it is first opened (a site that is not load-managed answers 404).

import { lineChart } from "/static/common/chart.js";
import { badge, clear, dateTime, empty, failure, field, h, spinner, table, toast } from "/static/common/ui.js";
import { confirmDialog, facts, problemBox } from "./manage-kit.js";
import { can, coalesce, debounce, relative, stationHref, tile } from "./network-kit.js";

const PERIODS = [
  [3600, "1 hour"],
  [6 * 3600, "6 hours"],
  [86400, "24 hours"],
  [7 * 86400, "7 days"],
];
const PAGE = 200; // the API's largest page: the chart shows at most this many allocations
const PHASES = ["l1", "l2", "l3"];
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const amps = (value) => `${oneDecimal.format(Number(value))} A`;
const sameOnEach = (limit) => limit.l1 === limit.l2 && limit.l2 === limit.l3;

// A tile's value and what it is per phase: "40 A" on each phase, or "63 / 63 / 40 A".
function phasesTile(limit) {
  const [l1, l2, l3] = PHASES.map((p) => Number(limit[p]));
  if (l1 === l2 && l2 === l3) return [amps(l1), "on each phase"];
  return [`${[l1, l2].map((v) => oneDecimal.format(v)).join(" / ")} / ${amps(l3)}`, "on L1 / L2 / L3"];
}

// Amperes per phase, as one value when the phases agree.
export function phasesText(limit) {
  const [l1, l2, l3] = PHASES.map((p) => Number(limit[p]));
  return l1 === l2 && l2 === l3 ? `${amps(l1)} on each phase` : `L1 ${amps(l1)} · L2 ${amps(l2)} · L3 ${amps(l3)}`;
}

// Every site's panel, and the one subscription that feeds them.
export function siteLoadPanels(ctx) {
  const panels = new Map();
  ctx.subscribe("load.allocated", (event) => panels.get(event.data?.site_id)?.allocated(event.data));
  ctx.onResync(() => panels.forEach((panel) => panel.resync()));
  ctx.onCleanup(() => panels.forEach((panel) => panel.dispose()));
  return {
    panelFor(site) {
      if (!panels.has(site.id)) panels.set(site.id, sitePanel(ctx, site));
      const panel = panels.get(site.id);
      panel.rename(site); // edited on the page: captions follow
      return panel.element;
    },
    // forget the panels of sites that are gone
    keep(ids) {
      for (const [id, panel] of panels) {
        if (ids.has(id)) continue;
        panel.dispose();
        panels.delete(id);
      }
    },
  };
}

function sitePanel(ctx, site) {
  const mayWrite = can(ctx.me, "stations:write");
  const path = `sites/${site.id}/load`;
  const ids = `sl-${site.id}`;
  let loaded = false;
  let view = null; // GET …/load, or null: not load-managed
  let windows = [];
  let history = []; // allocations of the chart's period, oldest first
  let historyTotal = 0;
  let period = 6 * 3600;

  const body = h("div", { class: "sl-body" });
  const element = h(
    "details",
    { class: "sl-panel", "data-testid": `site-load-${site.id}`, ontoggle: () => element.open && !loaded && load() },
    h("summary", { class: "sl-summary" }, "Load management"),
    body,
  );
  const inForceBox = h("div", { "data-testid": "load-in-force", "aria-live": "polite" });
  const allocationBox = h("div", { "data-testid": "load-allocation" });
  const chartBox = h("div", { "data-testid": "load-chart" });
  const windowsBox = h("div", { "data-testid": "load-windows" });

  const section = (key, title, ...children) =>
    h("section", { class: "sl-section", "aria-labelledby": `${ids}-${key}` }, h("h3", { id: `${ids}-${key}` }, title), children);

  // ---- reading ------------------------------------------------------------------------------
  async function readView() {
    try {
      view = await ctx.api.get(path);
    } catch (error) {
      if (error.status !== 404 || error.problem?.title !== "Not load-managed") throw error;
      view = null;
    }
    windows = view ? await ctx.api.get(`${path}/windows`) : [];
  }

  async function readHistory() {
    if (!view) {
      history = [];
      return;
    }
    const since = new Date(Date.now() - period * 1000).toISOString();
    const page = await ctx.api.get(`${path}/allocations`, { since, limit: PAGE });
    history = page.items.reverse();
    historyTotal = page.total;
  }

  async function load() {
    loaded = true;
    clear(body, spinner("Loading load management…"));
    try {
      await readView();
      await readHistory();
      paintAll();
    } catch (error) {
      clear(body, failure(error, load));
    }
  }

  // After an allocation or a change: what is in force, the windows; never the settings form,
  // which may be half edited.
  const refresh = debounce(async () => {
    const managed = Boolean(view);
    try {
      await readView();
      if (managed !== Boolean(view)) paintAll(); // turned into (or out of) a managed site elsewhere
      else paintLive();
    } catch (error) {
      clear(inForceBox, failure(error, refresh));
    }
  }, 300);
  const repaintAllocation = coalesce(() => {
    clear(allocationBox, allocationView());
    clear(chartBox, chartView());
  });

  // ---- painting -------------------------------------------------------------------------------
  function paintAll() {
    paintLive();
    if (!view) {
      clear(body, section("now", "Limit in force", inForceBox), section("settings", "Settings", settingsView()));
      return;
    }
    clear(
      body,
      section("now", "Limit in force", inForceBox),
      section("allocation", "Latest allocation", allocationBox),
      section("chart", "Allocation over time", periodPicker(), chartBox),
      section("windows", "Windows that lower the limit", windowsBox, mayWrite && windowForm()),
      section("settings", "Settings", settingsView()),
    );
  }

  function paintLive() {
    clear(inForceBox, inForceView());
    clear(windowsBox, windowsTable());
    clear(allocationBox, allocationView());
    clear(chartBox, chartView());
  }

  function inForceView() {
    if (!view) {
      return empty("Not load-managed", mayWrite ? "Set the site's grid limit below: Kilowatt then divides it among the site's charging sessions." : "An administrator sets it up.");
    }
    const now = view.in_force;
    const lowering = windows.filter((w) => now.window_ids.includes(w.id));
    const [inForce, inForcePhases] = phasesTile(now.limit_a);
    const [own, ownPhases] = phasesTile(view.limit_a);
    return h(
      "div",
      { class: "tiles sl-tiles" },
      tile("Load management", view.enabled ? badge("On", "ok") : badge("Off", "muted"), view.enabled ? "sessions are steered" : "no profiles are sent"),
      tile("Limit in force now", inForce, `${inForcePhases} · ${lowering.length ? `lowered by ${lowering.map((w) => w.source).join(", ")}` : "the site's own limit"}`, { testid: "limit-in-force" }),
      view.limit_kw != null
        ? tile("The site's limit", `${oneDecimal.format(Number(view.limit_kw))} kW`, `${phasesText(view.limit_a)} at ${oneDecimal.format(Number(view.voltage))} V`)
        : tile("The site's limit", own, ownPhases),
      tile("Next change", now.next_change_at ? dateTime(now.next_change_at) : "none planned"),
    );
  }

  function shareState(share) {
    if (share.fixed) return [badge("Fixed", "warn"), ` counted at its last draw: ${share.why || "not steered"}`];
    if (share.paused) return [badge("Paused", "warn"), " its minimum did not fit"];
    return badge("Steered", "ok");
  }

  function allocationView() {
    const latest = view?.allocation;
    if (!latest) return empty("No allocation yet", "One is made when a session starts or stops, or the limit changes.");
    return [
      h("p", { class: "sl-load", "data-testid": "load-now" }, "Load ", h("strong", {}, phasesText(latest.load_a)), " of ", phasesText(latest.limit_a), " · ", relative(latest.at), ` (${latest.reason})`),
      table(
        [
          { label: "Station", cell: (s) => h("a", { class: "station-link", href: stationHref(s.charging_station_id) }, s.charging_station_id) },
          { label: "Connector", class: "num", cell: (s) => String(s.connector_id) },
          { label: "Phases", cell: (s) => s.phases.map((p) => `L${p}`).join(" ") },
          { label: "Card group", cell: (s) => [s.token_group || h("span", { class: "muted" }, "none"), ` · priority ${s.priority}`] },
          { label: "Share", class: "num", cell: (s) => h("strong", {}, amps(s.current_a)) },
          { label: "Min – max", class: "num", cell: (s) => `${amps(s.min_a)} – ${amps(s.max_a)}` },
          { label: "State", cell: shareState },
        ],
        latest.sessions,
        { empty: "No session is charging at the site.", caption: `Shares of ${site.name}'s limit, per phase` },
      ),
    ];
  }

  function periodPicker() {
    const choice = h("select", { name: "period" }, PERIODS.map(([seconds, label]) => h("option", { value: seconds, selected: seconds === period }, label)));
    choice.addEventListener("change", async () => {
      period = Number(choice.value);
      clear(chartBox, spinner("Loading allocations…"));
      try {
        await readHistory();
        clear(chartBox, chartView());
      } catch (error) {
        clear(chartBox, failure(error));
      }
    });
    return h("div", { class: "log-filters" }, field("Period", choice));
  }

  // A step chart: each allocation holds until the next one (the last until now).
  function chartView() {
    if (!history.length) return empty("No allocation in this period.");
    const until = Date.now();
    const steps = (value) =>
      history.flatMap((a, i) => {
        const end = i + 1 < history.length ? history[i + 1].at : until;
        return [
          [a.at, value(a)],
          [end, value(a)],
        ];
      });
    const oneLimit = history.every((a) => sameOnEach(a.limit_a));
    const series = PHASES.map((p, i) => ({ name: `Load L${i + 1}`, points: steps((a) => Number(a.load_a[p])) }));
    if (oneLimit) series.push({ name: "Limit", points: steps((a) => Number(a.limit_a.l1)) });
    else PHASES.forEach((p, i) => series.push({ name: `Limit L${i + 1}`, points: steps((a) => Number(a.limit_a[p])) }));
    const chart = lineChart({ title: `Load per phase against the limit, ${site.name}`, series, format: amps });
    chart.classList.add("sl-chart", oneLimit ? "sl-chart-one-limit" : "sl-chart-phase-limits");
    const note = historyTotal > history.length ? h("p", { class: "hint" }, `The newest ${history.length} of ${historyTotal} allocations in this period.`) : null;
    return [chart, note];
  }

  // ---- windows --------------------------------------------------------------------------------
  function windowsTable() {
    if (!view) return null;
    const inForce = new Set(view.in_force.window_ids);
    const columns = [
      { label: "From", cell: (w) => dateTime(w.starts_at) },
      { label: "Until", cell: (w) => dateTime(w.ends_at) },
      { label: "Limit", cell: (w) => [phasesText(w.limit_a), w.limit_kw != null ? ` (${oneDecimal.format(Number(w.limit_kw))} kW)` : ""] },
      { label: "Source", cell: (w) => w.source },
      { label: "Added by", cell: (w) => w.created_by || "–" },
      { label: "Now", cell: (w) => (inForce.has(w.id) ? badge("In force", "info") : badge("Not yet", "muted")) },
    ];
    if (mayWrite) {
      columns.push({
        label: h("span", { class: "visually-hidden" }, "Actions"),
        class: "num",
        cell: (w) => h("button", { type: "button", class: "button button-small", "aria-label": `Delete the window from ${dateTime(w.starts_at)}`, onclick: () => deleteWindow(w) }, "Delete"),
      });
    }
    return table(columns, windows, { empty: "No window: the site's own limit holds.", caption: `${windows.length} window${windows.length === 1 ? "" : "s"} not over yet` });
  }

  async function deleteWindow(w) {
    const ok = await confirmDialog("Delete this window?", `The limit of ${phasesText(w.limit_a)} from ${dateTime(w.starts_at)} until ${dateTime(w.ends_at)} no longer applies.`, { confirmLabel: "Delete window" });
    if (!ok) return;
    try {
      await ctx.api.del(`${path}/windows/${w.id}`);
      toast("Window deleted", "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    refresh();
  }

  function windowForm() {
    const now = new Date();
    now.setSeconds(0, 0);
    const starts = h("input", { type: "datetime-local", name: "starts_at", required: true, value: localInput(now) });
    const ends = h("input", { type: "datetime-local", name: "ends_at", required: true, value: localInput(new Date(now.getTime() + 3600_000)) });
    const limit = limitInputs(null);
    const source = h("input", { type: "text", name: "source", required: true, maxlength: 40, value: "operator" });
    const outcome = h("div", { class: "sl-outcome" });
    const form = h(
      "form",
      {
        "aria-label": "Add a window",
        class: "sl-form",
        onsubmit: async (event) => {
          event.preventDefault();
          clear(outcome);
          const body = { starts_at: new Date(starts.value).toISOString(), ends_at: new Date(ends.value).toISOString(), limit: limit.value(), source: source.value.trim() };
          try {
            await ctx.api.post(`${path}/windows`, body);
            toast("Window added", "ok");
            refresh();
          } catch (error) {
            clear(outcome, problemBox(error));
          }
        },
      },
      h("h4", {}, "Add a window"),
      h("div", { class: "log-filters" }, field("From", starts), field("Until", ends), field("Source", source, "operator, grid-operator, tariff…")),
      limit.element,
      h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary" }, "Add window")),
      outcome,
    );
    return form;
  }

  // ---- settings -------------------------------------------------------------------------------
  function settingsView() {
    if (!mayWrite) {
      if (!view) return null;
      const groups = Object.entries(view.priorities);
      return facts([
        ["Minimum current", amps(view.min_current_a)],
        ["Maximum current per session", amps(view.max_current_a)],
        ["Voltage", `${oneDecimal.format(Number(view.voltage))} V`],
        ["Priorities by token group", groups.length ? groups.map(([g, p]) => `${g}: ${p}`).join(", ") : "none: every card has 1"],
        ["Changed", dateTime(view.updated_at)],
      ]);
    }
    return settingsForm();
  }

  function settingsForm() {
    const enabled = h("input", { type: "checkbox", name: "enabled", checked: view ? view.enabled : true });
    const limit = limitInputs(view && currentLimit(view));
    const number = (name, value, step) => h("input", { type: "number", name, min: "0", step, required: true, inputmode: "decimal", class: "input-short", value });
    const min = number("min_current_a", view ? view.min_current_a : "6", "0.1");
    const max = number("max_current_a", view ? view.max_current_a : "32", "0.1");
    const voltage = number("voltage", view ? view.voltage : "230", "0.1");
    const priorities = prioritiesEditor(view ? view.priorities : {});
    const outcome = h("div", { class: "sl-outcome" });
    return h(
      "form",
      {
        "aria-label": "Load management settings",
        class: "sl-form",
        onsubmit: async (event) => {
          event.preventDefault();
          clear(outcome);
          const body = { enabled: enabled.checked, limit: limit.value(), min_current_a: min.value, max_current_a: max.value, voltage: voltage.value, priorities: priorities.value() };
          try {
            view = await ctx.api.put(path, body);
            windows = await ctx.api.get(`${path}/windows`);
            await readHistory();
            toast("Load management saved", "ok");
            paintAll();
          } catch (error) {
            clear(outcome, problemBox(error));
          }
        },
      },
      h("div", { class: "field field-check" }, h("label", {}, enabled, " Load management on")),
      limit.element,
      h("div", { class: "log-filters" }, field("Minimum current (A)", min, "Less than this: the session pauses."), field("Maximum current (A)", max, "Per session, where its connector sets none."), field("Voltage (V)", voltage, "Phase to neutral: turns kW into A.")),
      priorities.element,
      h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary" }, "Save settings")),
      outcome,
    );
  }

  return {
    element,
    rename(renamed) {
      site = renamed;
    },
    allocated(data) {
      if (!loaded) return;
      if (!view) {
        refresh(); // made load-managed elsewhere
        return;
      }
      view.allocation = data;
      history.push(data);
      historyTotal += 1;
      repaintAllocation();
      refresh(); // the windows in force and the next change
    },
    resync() {
      if (loaded) load();
    },
    dispose() {
      refresh.cancel();
    },
  };
}

// ---- form pieces ----------------------------------------------------------------------------
// The settings' limit as the form shows it: kW where one three-phase value was given in kW,
// else the amperes the manager holds (a per-phase kW limit is shown in A).
function currentLimit(view) {
  if (view.limit_kw != null && sameOnEach(view.limit_a)) return { unit: "kW", value: view.limit_kw };
  if (sameOnEach(view.limit_a)) return { unit: "A", value: view.limit_a.l1 };
  return { unit: "A", ...view.limit_a };
}

// A limit: a unit, and one value for every phase or one per phase. value() is the API's LimitIn.
function limitInputs(initial) {
  const perPhase = initial != null && initial.value === undefined;
  const unit = h("select", { name: "unit" }, h("option", { value: "A", selected: initial?.unit !== "kW" }, "A (per phase)"), h("option", { value: "kW", selected: initial?.unit === "kW" }, "kW"));
  const mode = h("select", { name: "mode" }, h("option", { value: "one", selected: !perPhase }, "Same on each phase"), h("option", { value: "phases", selected: perPhase }, "Per phase"));
  const input = (name, value) => h("input", { type: "number", name, min: "0", step: "any", inputmode: "decimal", class: "input-short", value: value ?? "" });
  const one = input("limit", perPhase ? "" : initial?.value);
  const phases = PHASES.map((p) => input(p, perPhase ? initial[p] : ""));
  const oneField = field("Limit", one, "kW: over three phases.");
  const phaseFields = phases.map((control, i) => field(`L${i + 1}`, control));
  const sync = () => {
    const split = mode.value === "phases";
    oneField.hidden = split;
    one.required = !split;
    for (const [i, control] of phases.entries()) {
      phaseFields[i].hidden = !split;
      control.required = split;
    }
  };
  mode.addEventListener("change", sync);
  sync();
  return {
    element: h("div", { class: "log-filters" }, field("Unit", unit), field("Limit given", mode), oneField, phaseFields),
    value: () => (mode.value === "phases" ? { unit: unit.value, ...Object.fromEntries(PHASES.map((p, i) => [p, phases[i].value])) } : { unit: unit.value, value: one.value }),
  };
}

// Token group -> priority, as rows that can be added and removed.
function prioritiesEditor(initial) {
  const rows = [];
  const list = h("div", { class: "sl-priorities" });
  const addRow = (group = "", priority = 2) => {
    const name = h("input", { type: "text", name: "group", maxlength: 40, value: group, autocomplete: "off" });
    const value = h("input", { type: "number", name: "priority", min: "1", max: "100", step: "1", required: true, class: "input-short", value: priority });
    const row = h("div", { class: "sl-priority" }, field("Token group", name), field("Priority", value));
    const entry = { name, value, row };
    row.append(
      h("button", { type: "button", class: "button button-small", "aria-label": "Remove this group's priority", onclick: () => (rows.splice(rows.indexOf(entry), 1), row.remove()) }, "Remove"),
    );
    rows.push(entry);
    list.append(row);
    return name;
  };
  for (const [group, priority] of Object.entries(initial)) addRow(group, priority);
  const element = h(
    "fieldset",
    { class: "sl-fieldset" },
    h("legend", {}, "Priorities by token group"),
    h("p", { class: "hint" }, "A higher priority is served first and gets a proportionally larger share; cards of other groups have 1."),
    list,
    h("button", { type: "button", class: "button button-small", onclick: () => addRow().focus() }, "Add a group"),
  );
  return {
    element,
    value: () => Object.fromEntries(rows.filter((r) => r.name.value.trim()).map((r) => [r.name.value.trim(), Number(r.value.value)])),
  };
}

// A datetime-local input's value: the browser's local time, to the minute.
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
