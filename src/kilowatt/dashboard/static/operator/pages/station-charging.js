// The station page's "Smart charging" tab (docs/smart-charging.md): the profiles Kilowatt
// believes the station holds, the history of Set/Clear changes with their answers, a form to
// limit the station or a connector, and the composite schedule the station reports next to the
// one Kilowatt expects. station.js mounts it and calls load() when the tab is first opened;
// charging_profile.updated events keep it current after that.

import { lineChart } from "/static/common/chart.js";
import { badge, clear, dateTime, duration, failure, field, h, kw, spinner, table } from "/static/common/ui.js";
import { confirmDialog, problemBox } from "./manage-kit.js";
import { can, card, debounce, relative } from "./network-kit.js";

const HISTORY_LIMIT = 25;
const DURATIONS = [
  [900, "15 minutes"],
  [3600, "1 hour"],
  [6 * 3600, "6 hours"],
  [86400, "24 hours"],
  [7 * 86400, "7 days"],
];
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

// A limit as the station holds it: amperes per phase, or watts (shown in kW).
export function formatLimit(value, unit) {
  if (value === null || value === undefined) return "no limit";
  return unit === "W" ? kw(Number(value)) : `${oneDecimal.format(Number(value))} A`;
}

const changeTone = (status) =>
  status === "Accepted" ? "ok" : status === "Pending" ? "info" : status === "Unknown" ? "muted" : "bad";

// opts: {cp, connectorIds: () => [1, 2, …], panel: the tab panel to fill}
export function stationCharging(ctx, { cp, connectorIds, panel }) {
  const path = `stations/${encodeURIComponent(cp)}`;
  const mayCommand = can(ctx.me, "commands:send");
  let loaded = false;

  // the station's answer to the last Set or Clear, next to the button that sent it
  const limitOutcome = h("div", { class: "tile-sub", role: "status", "data-testid": "limit-outcome" });
  const clearOutcome = h("div", { class: "tile-sub", role: "status", "data-testid": "clear-outcome" });
  const installedBox = h("div", { "data-testid": "installed-profiles" }, spinner("Loading profiles…"));
  const historyBox = h("div", { "data-testid": "profile-history" });
  const limitForm = mayCommand ? limitFormView() : null;
  const composite = compositeFormView();
  panel.append(
    card("Installed profiles", [h("p", { class: "tile-sub" }, "What Kilowatt believes the station holds: a profile is installed when the station accepts it."), installedBox, clearOutcome], {
      id: "charging-profiles",
      actions: mayCommand && h("button", { type: "button", class: "button button-small", onclick: () => clearAll() }, "Clear all profiles"),
    }),
    limitForm ? card("Apply a limit", limitForm.element, { id: "charging-limit" }) : h("p", { class: "nw-note" }, "Your role can see this station's charging profiles but not change them."),
    card("Composite schedule", composite.element, { id: "composite-schedule" }),
    card("History of changes", historyBox, { id: "profile-history" }),
  );

  // Connector 0 is the station as a whole (a ChargePointMaxProfile).
  function fillConnectors(select) {
    const chosen = select.value;
    const ids = [0, ...connectorIds()];
    clear(select, ids.map((id) => h("option", { value: id, selected: String(id) === chosen }, id === 0 ? "0 · the whole station" : `Connector ${id}`)));
    if (!ids.some((id) => String(id) === chosen) && ids.length > 1) select.value = String(ids[1]);
  }

  // ---- installed profiles and history ---------------------------------------------------------
  async function load() {
    limitForm && fillConnectors(limitForm.connector);
    fillConnectors(composite.connector);
    try {
      const data = await ctx.api.get(`${path}/charging-profiles`, { limit: HISTORY_LIMIT });
      clear(installedBox, installedTable(data.installed));
      clear(historyBox, historyTable(data.history, data.history_total));
    } catch (error) {
      clear(installedBox, failure(error, load));
      clear(historyBox);
    }
  }
  const reload = debounce(() => loaded && load(), 300);

  function periodsText(schedule) {
    const unit = schedule?.chargingRateUnit;
    return (schedule?.chargingSchedulePeriod || []).map((p) => h("div", { class: "nowrap" }, p.startPeriod ? `after ${duration(p.startPeriod)}: ` : "from the start: ", formatLimit(p.limit, unit), p.numberPhases ? ` (${p.numberPhases} phase${p.numberPhases === 1 ? "" : "s"})` : ""));
  }

  function validity(p) {
    const s = p.profile.chargingSchedule || {};
    const bits = [];
    if (s.startSchedule) bits.push(h("div", {}, "starts ", dateTime(s.startSchedule)));
    if (s.duration) bits.push(h("div", {}, `lasts ${duration(s.duration)}`));
    if (p.profile.validFrom) bits.push(h("div", {}, "valid from ", dateTime(p.profile.validFrom)));
    if (p.profile.validTo) bits.push(h("div", {}, "valid to ", dateTime(p.profile.validTo)));
    if (p.transaction_id != null) bits.push(h("div", {}, `transaction ${p.transaction_id}`));
    return bits.length ? bits : "always";
  }

  function installedTable(rows) {
    const sorted = [...rows].sort((a, b) => a.connector_id - b.connector_id || b.stack_level - a.stack_level);
    const columns = [
      { label: "Connector", cell: (p) => (p.connector_id === 0 ? "0 · station" : String(p.connector_id)) },
      { label: "Profile", cell: (p) => `#${p.charging_profile_id}` },
      { label: "Purpose", cell: (p) => p.purpose },
      { label: "Stack level", class: "num", cell: (p) => String(p.stack_level) },
      { label: "Kind, unit", cell: (p) => [p.profile.chargingProfileKind, p.profile.recurrencyKind ? ` (${p.profile.recurrencyKind})` : "", `, ${p.profile.chargingSchedule?.chargingRateUnit || "–"}`] },
      { label: "Periods", cell: (p) => periodsText(p.profile.chargingSchedule) },
      { label: "Validity", cell: (p) => validity(p) },
      { label: "In force", cell: (p) => (p.in_force ? badge("Yes", "ok") : badge("No: its transaction ended", "muted")) },
    ];
    if (mayCommand) {
      columns.push({
        label: h("span", { class: "visually-hidden" }, "Actions"),
        class: "num",
        cell: (p) => h("button", { type: "button", class: "button button-small", "aria-label": `Clear profile ${p.charging_profile_id}`, onclick: () => clearOne(p) }, "Clear"),
      });
    }
    return table(columns, sorted, { empty: "No charging profile installed: the station charges at its own maximum.", caption: `${rows.length} profile${rows.length === 1 ? "" : "s"}, by connector` });
  }

  function historyTable(rows, total) {
    return table(
      [
        { label: "When", cell: (c) => relative(c.created_at) },
        { label: "Change", cell: (c) => h("strong", {}, c.operation === "remote_start" ? "set with a remote start" : c.operation) },
        { label: "Connector", cell: (c) => (c.connector_id == null ? "any" : String(c.connector_id)) },
        { label: "Profile", cell: (c) => [c.charging_profile_id != null ? `#${c.charging_profile_id}` : "any", c.purpose ? ` ${c.purpose}` : "", c.stack_level != null ? ` · stack ${c.stack_level}` : ""] },
        { label: "Outcome", cell: (c) => badge(c.status, changeTone(c.status)) },
        { label: "By", cell: (c) => c.requested_by || "–" },
        {
          label: "Details",
          cell: (c) => h("details", { class: "json-details" }, h("summary", {}, c.operation === "clear" ? "Criteria" : "Profile"), h("pre", {}, JSON.stringify(c.operation === "clear" ? c.criteria : c.profile, null, 2))),
        },
      ],
      rows,
      { empty: "No profile has been set or cleared on this station yet.", caption: total > rows.length ? `The newest ${rows.length} of ${total} changes` : `${total} change${total === 1 ? "" : "s"}, newest first` },
    );
  }

  async function clearOne(p) {
    const ok = await confirmDialog(`Clear profile ${p.charging_profile_id}?`, `Sends ClearChargingProfile for profile ${p.charging_profile_id} (${p.purpose}, connector ${p.connector_id}) to ${cp}.`, { confirmLabel: "Clear profile" });
    if (ok) await changed(clearOutcome, () => ctx.api.del(`${path}/charging-profiles/${p.charging_profile_id}`), `Profile ${p.charging_profile_id} cleared`);
  }

  async function clearAll() {
    const ok = await confirmDialog(`Clear every profile of ${cp}?`, "Sends ClearChargingProfile with no criteria: the station drops every profile it holds, including any set by another system.", { confirmLabel: "Clear all profiles" });
    if (ok) await changed(clearOutcome, () => ctx.api.post(`${path}/charging-profiles/clear`, {}), "Every profile cleared");
  }

  // Send a Set or Clear and show the station's answer in `outcome`.
  async function changed(outcome, send, accepted) {
    clear(outcome, h("span", { class: "spinner", "aria-hidden": "true" }), "Waiting for the station…");
    try {
      const change = await send();
      const text = change.status === "Accepted" ? accepted : change.status === "Pending" ? "Sent; the station has not answered yet." : change.status === "Unknown" ? "The station held no such profile." : `The station answered ${change.status}.`;
      clear(outcome, badge(change.status, changeTone(change.status)), " ", text);
    } catch (error) {
      clear(outcome, problemBox(error));
    }
    reload();
  }

  // ---- the limit form -------------------------------------------------------------------------
  function limitFormView() {
    const connector = h("select", { name: "connector_id" });
    const limit = h("input", { type: "number", name: "limit", min: "0", step: "0.1", required: true, inputmode: "decimal", class: "input-short" });
    const unit = h("select", { name: "unit" }, h("option", { value: "A" }, "A (per phase)"), h("option", { value: "W" }, "W"));
    const until = h("input", { type: "datetime-local", name: "until" });
    const element = h(
      "div",
      {},
      h(
        "form",
        {
          class: "log-filters",
          "aria-label": "Apply a limit",
          onsubmit: (event) => {
            event.preventDefault();
            const body = { connector_id: Number(connector.value), limit: limit.value, unit: unit.value };
            if (until.value) body.until = new Date(until.value).toISOString(); // the browser's local time
            changed(limitOutcome, () => ctx.api.post(`${path}/limit`, body), `${body.connector_id === 0 ? "The station" : `Connector ${body.connector_id}`} is limited to ${formatLimit(body.limit, body.unit)}.`);
          },
        },
        field("Apply to", connector),
        field("Limit", limit),
        field("Unit", unit),
        field("Until (optional)", until),
        h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary" }, "Apply limit")),
      ),
      h("p", { class: "hint" }, "Connector 0 gets a ChargePointMaxProfile; a connector gets a TxProfile while a transaction runs on it, else a TxDefaultProfile. A new limit replaces the previous one."),
      limitOutcome,
    );
    return { element, connector };
  }

  // ---- the composite schedule ------------------------------------------------------------------
  function compositeFormView() {
    const connector = h("select", { name: "connector" });
    const span = h("select", { name: "duration" }, DURATIONS.map(([seconds, label]) => h("option", { value: seconds, selected: seconds === 3600 }, label)));
    const unit = h("select", { name: "unit" }, h("option", { value: "A" }, "A (per phase)"), h("option", { value: "W" }, "W"));
    const result = h("div", { "aria-live": "polite", "data-testid": "composite" });
    const ask = async () => {
      clear(result, spinner("Asking the station (GetCompositeSchedule)…"));
      try {
        const answer = await ctx.api.get(`${path}/composite-schedule`, { connector: connector.value, duration: span.value, unit: unit.value });
        clear(result, compositeView(answer));
      } catch (error) {
        clear(result, failure(error, ask));
      }
    };
    const element = h(
      "div",
      {},
      h(
        "form",
        {
          class: "log-filters",
          "aria-label": "Composite schedule",
          onsubmit: (event) => {
            event.preventDefault();
            ask();
          },
        },
        field("Connector", connector),
        field("Duration", span),
        field("Unit", unit),
        h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary" }, "Ask the station")),
      ),
      result,
    );
    return { element, connector };
  }

  ctx.subscribe("charging_profile.*", (event) => event.chargingStationId === cp && reload());
  // a TxProfile stops being in force when its transaction ends
  ctx.subscribe("transaction.stopped", (event) => event.chargingStationId === cp && reload());
  ctx.onResync(() => reload());
  ctx.onCleanup(() => reload.cancel());

  return {
    load() {
      loaded = true;
      return load();
    },
  };
}

// ---- the composite schedule: reported vs expected --------------------------------------------
// Both schedules as [{start (s from the schedule's start), limit (number or null)}], cut at
// `end` seconds: the station's ends where its duration does.
function stepsOf(periods, end) {
  return periods.filter((p) => p.start < end).sort((a, b) => a.start - b.start);
}

function limitAt(steps, t, end) {
  if (steps === null || t >= end) return undefined; // not covered
  let value;
  for (const step of steps) if (step.start <= t) value = step.limit;
  return value;
}

// Points for lineChart that draw a step: each period flat to the next one's start.
function stepPoints(steps, start, end) {
  return steps.flatMap((step, i) => {
    const until = i + 1 < steps.length ? steps[i + 1].start : end;
    return [
      [start + step.start * 1000, step.limit],
      [start + until * 1000, step.limit],
    ];
  });
}

export function compositeView(answer) {
  const reported = answer.station;
  const expected = answer.expected;
  const unit = expected.unit;
  const schedule = reported.charging_schedule;
  const start = Date.parse(reported.schedule_start || expected.schedule_start);
  const end = expected.duration;
  const reportedEnd = Math.min(end, schedule?.duration ?? end);
  const ours = stepsOf(
    expected.periods.map((p) => ({ start: p.start_period, limit: p.limit === null ? null : Number(p.limit) })),
    end,
  );
  const theirs = schedule ? stepsOf((schedule.chargingSchedulePeriod || []).map((p) => ({ start: p.startPeriod, limit: Number(p.limit) })), reportedEnd) : null;
  const theirUnit = schedule?.chargingRateUnit || unit;
  const where = answer.connector_id === 0 ? "the whole station" : `connector ${answer.connector_id}`;
  const status = reported.status || reported.state;

  const boundaries = [...new Set([...ours, ...(theirs || [])].map((s) => s.start).concat(theirs ? [reportedEnd] : []))].filter((t) => t < end).sort((a, b) => a - b);
  const rows = boundaries.map((from, i) => {
    const to = i + 1 < boundaries.length ? boundaries[i + 1] : end;
    const station = limitAt(theirs, from, reportedEnd);
    const kilowatt = limitAt(ours, from, end);
    return { from, to, station, kilowatt };
  });
  const at = (seconds) => new Date(start + seconds * 1000).toISOString();
  const show = (value, u) => (value === undefined ? "–" : formatLimit(value, u));
  // "no limit" expected: the station fills such periods with its own maximum
  const comparable = theirs !== null && theirUnit === unit;
  const agree = (r) => r.station !== undefined && (r.station === r.kilowatt || r.kilowatt === null);

  const series = [];
  if (theirs) series.push({ name: "Reported by the station", points: stepPoints(theirs, start, reportedEnd) });
  series.push({ name: "Expected by Kilowatt", points: stepPoints(ours, start, end) });
  return [
    h(
      "p",
      { "data-testid": "composite-status" },
      "The station answered ",
      badge(status, status === "Accepted" ? "ok" : "bad"),
      theirs ? [` for ${where}, from `, dateTime(at(0)), ` (${duration(end)}, ${theirUnit}).`] : ": it reported no schedule, so only Kilowatt's expectation is shown.",
    ),
    theirs && theirUnit !== unit ? h("p", { class: "nw-note" }, `The station reported in ${theirUnit}, Kilowatt's expectation is in ${unit}.`) : null,
    lineChart({ title: `Composite schedule of ${where}`, series, format: (v) => formatLimit(v, unit) }),
    table(
      [
        { label: "From", cell: (r) => h("time", { datetime: at(r.from) }, dateTime(at(r.from))) },
        { label: "Until", cell: (r) => h("time", { datetime: at(r.to) }, dateTime(at(r.to))) },
        { label: "Reported by the station", class: "num", cell: (r) => show(r.station, theirUnit) },
        { label: "Expected by Kilowatt", class: "num", cell: (r) => show(r.kilowatt, unit) },
        { label: "Comparison", cell: (r) => (!comparable ? "–" : agree(r) ? badge("matches", "ok") : badge("differs", "warn")) },
      ],
      rows,
      { empty: "No periods.", caption: `Periods of ${where}; “no limit”: no profile limits that period` },
    ),
  ];
}

