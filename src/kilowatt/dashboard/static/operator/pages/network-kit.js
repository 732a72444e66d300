// Helpers shared by the network pages (overview, stations, a station): loading the network,
// describing events, connector chips, a form dialog that stays open on errors, and small timers.

import { ago, badge, field, h, kw, kwh, statusTone } from "/static/common/ui.js";

export const BASE = "/dashboard";
export const stationHref = (cp) => `${BASE}/stations/${encodeURIComponent(cp)}`;

export const can = (me, permission) => Boolean(me?.permissions?.includes(permission));

// Every page of a paged list (limit 200 a page), up to `max` items.
export async function fetchAll(api, path, query = {}, max = 2000) {
  const items = [];
  for (let offset = 0; offset < max; offset += 200) {
    const page = await api.get(path, { ...query, limit: 200, offset });
    items.push(...page.items);
    if (items.length >= page.total || !page.items.length) break;
  }
  return items;
}

// Run `fn` over `items`, at most `width` at a time.
export async function pool(items, width, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

// The stations with their connectors: Map charge point id -> {station, connectors: Map id -> c}.
export async function loadNetwork(api) {
  const stations = await fetchAll(api, "stations");
  const network = new Map();
  await pool(stations, 8, async (station) => {
    let connectors = [];
    try {
      connectors = (await api.get(`stations/${encodeURIComponent(station.charge_point_id)}/connectors`, { limit: 200 })).items;
    } catch {
      connectors = [];
    }
    network.set(station.charge_point_id, { station, connectors: new Map(connectors.map((c) => [c.connector_id, c])) });
  });
  return new Map([...network.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export async function loadStation(api, cp) {
  const [station, connectors] = await Promise.all([
    api.get(`stations/${encodeURIComponent(cp)}`),
    api.get(`stations/${encodeURIComponent(cp)}/connectors`, { limit: 200 }),
  ]);
  return { station, connectors: new Map(connectors.items.map((c) => [c.connector_id, c])) };
}

// Apply a live event to an entry of loadNetwork's map; true when it changed something.
export function applyEvent(entry, event) {
  if (!entry) return false;
  const station = entry.station;
  const data = event.data || {};
  switch (event.type) {
    case "station.connected":
      station.online = station.connected = true;
      station.connected_at = event.at;
      return true;
    case "station.disconnected":
      station.online = station.connected = false;
      station.disconnected_at = event.at;
      return true;
    case "station.booted":
      station.vendor = data.vendor ?? station.vendor;
      station.model = data.model ?? station.model;
      station.firmware_version = data.firmwareVersion ?? station.firmware_version;
      station.registration_status = data.registrationStatus ?? station.registration_status;
      station.last_boot_at = event.at;
      station.online = true;
      return true;
    case "connector.status": {
      const id = event.connectorId ?? 0;
      const old = entry.connectors.get(id) || { connector_id: id, max_power_w: null, vendor_error_code: null };
      entry.connectors.set(id, {
        ...old,
        status: data.status,
        error_code: data.errorCode,
        info: data.info ?? null,
        status_at: data.timestamp || event.at,
      });
      station.online = true;
      return true;
    }
    default:
      return false;
  }
}

// Load the stations a page has not seen yet, once at a time each: found(cp, entry) gets one; a
// station the user may not see is left out.
export function stationFetcher(api, found) {
  const fetching = new Set();
  return async (cp) => {
    if (fetching.has(cp)) return;
    fetching.add(cp);
    try {
      found(cp, await loadStation(api, cp));
    } catch {
      // not ours to see
    } finally {
      fetching.delete(cp);
    }
  };
}

// ---- connectors -----------------------------------------------------------------------------
export const IN_USE = new Set(["Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"]);
export const STATUS_ORDER = ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved", "Unavailable", "Faulted"];

// The outlets (connector 0 is the station as a whole, reported separately).
export const outlets = (entry) => [...entry.connectors.values()].filter((c) => c.connector_id > 0).sort((a, b) => a.connector_id - b.connector_id);

export function connectorChip(connector, { offline = false } = {}) {
  const status = connector.status || "Unknown";
  const title = `Connector ${connector.connector_id}: ${status}${connector.error_code && connector.error_code !== "NoError" ? ` (${connector.error_code})` : ""}`;
  const chip = badge(`${connector.connector_id} · ${status}`, statusTone(status));
  chip.classList.add("nw-chip");
  if (offline) chip.classList.add("nw-chip-stale");
  chip.title = offline ? `${title}, last known (the station is offline)` : title;
  chip.dataset.connector = String(connector.connector_id);
  return chip;
}

export function onlineBadge(station) {
  return station.online ? badge("Online", "ok") : badge("Offline", "muted");
}

// ---- events -----------------------------------------------------------------------------------
export function describe(event) {
  const d = event.data || {};
  const on = event.connectorId ? ` (connector ${event.connectorId})` : "";
  switch (event.type) {
    case "station.connected":
      return { tone: "ok", text: "connected" };
    case "station.disconnected":
      return { tone: "muted", text: "disconnected" };
    case "station.booted":
      return { tone: "info", text: `booted: ${[d.vendor, d.model].filter(Boolean).join(" ") || "unknown model"}${d.firmwareVersion ? `, firmware ${d.firmwareVersion}` : ""}${d.registrationStatus !== "Accepted" ? ` (${d.registrationStatus})` : ""}` };
    case "connector.status": {
      const error = d.errorCode && d.errorCode !== "NoError" ? `, ${d.errorCode}` : "";
      const where = event.connectorId ? `connector ${event.connectorId}` : "station";
      return { tone: d.status === "Faulted" ? "bad" : d.status === "Available" ? "ok" : "info", text: `${where} ${d.status}${error}` };
    }
    case "meter_values":
      return { tone: "muted", text: `meter values${on}: ${d.energyWh != null ? kwh(d.energyWh, 3) + " register" : ""}${d.powerW != null ? ", " + kw(d.powerW) : ""}${d.transactionId ? ` · tx ${d.transactionId}` : ""}` };
    case "session.created":
      return { tone: "info", text: `session #${d.sessionId} requested${on}` };
    case "session.started":
      return { tone: "info", text: `session #${d.sessionId} started charging${on}` };
    case "session.updated":
      return { tone: "muted", text: `session #${d.sessionId} updated${d.energyWh != null ? `: ${kwh(d.energyWh)}` : ""}` };
    case "session.ended":
      return { tone: "ok", text: `session #${d.sessionId} ended${d.energyWh != null ? `: ${kwh(d.energyWh)}` : ""}` };
    case "session.failed":
      return { tone: "bad", text: `session #${d.sessionId} ${d.state}${d.failureReason ? `: ${d.failureReason}` : ""}` };
    case "command.sent":
      return { tone: "muted", text: `${d.action} sent` };
    case "command.finished":
      return { tone: commandTone(d), text: `${d.action} → ${d.outcome || d.state}${d.latencyMs != null ? ` (${d.latencyMs} ms)` : ""}` };
    case "transaction.stopped":
      return { tone: "info", text: `transaction ${d.transactionId} stopped` };
    case "security.connection_replaced":
      return { tone: "warn", text: `connection replaced: ${d.reason}` };
    case "security.connection_refused":
      return { tone: "bad", text: `connection refused: ${d.reason}` };
    case "token.authorized":
      return { tone: "muted", text: `card ${d.idTag} ${d.status}` };
    case "token.refused":
      return { tone: "warn", text: `card ${d.idTag} refused (${d.status})` };
    default:
      return { tone: "muted", text: event.type };
  }
}

const POSITIVE = new Set(["Accepted", "Unlocked", "Scheduled", "RebootRequired", "NotImplemented"]);
export function commandTone(command) {
  const state = command.state;
  if (state === "pending" || state === "sent") return "info";
  if (state === "completed" && POSITIVE.has(command.outcome)) return command.outcome === "NotImplemented" ? "warn" : "ok";
  return "bad";
}
export const commandFailed = (command) => commandTone(command) === "bad";

export function commandBadge(command) {
  const text = command.state === "pending" || command.state === "sent" ? command.state : command.outcome || command.state;
  return badge(text, commandTone(command));
}

// ---- small pieces of page -------------------------------------------------------------------
export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", {}, title), h("div", { class: "button-row" }, actions));
}

export function card(title, body, { actions, id, headingLevel = "h2" } = {}) {
  const headingId = id ? `${id}-title` : undefined;
  return h(
    "section",
    { class: "card", id, "aria-labelledby": headingId },
    h("div", { class: "card-header" }, h(headingLevel, { id: headingId }, title), actions && h("div", { class: "button-row" }, actions)),
    body,
  );
}

export function tile(label, value, sub, { tone, testid } = {}) {
  return h(
    "div",
    { class: `tile ${tone ? `tile-${tone}` : ""}`, "data-testid": testid },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value" }, value),
    sub && h("div", { class: "tile-sub" }, sub),
  );
}

// A relative time that keeps itself current (see everySecond).
export function relative(iso) {
  const element = h("time", { class: "ago", datetime: iso || "" }, ago(iso));
  if (iso) element.title = new Date(iso).toLocaleString();
  return element;
}

export function refreshRelative(root) {
  for (const element of root.querySelectorAll("time.ago")) {
    const iso = element.getAttribute("datetime");
    if (iso) element.textContent = ago(iso);
  }
}

export function every(ctx, ms, fn) {
  const timer = setInterval(fn, ms);
  ctx.onCleanup(() => clearInterval(timer));
}

// Run fn at most once per frame however many events ask for it.
export function coalesce(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

// Run fn once, `ms` after the last call.
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

export function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---- a form in a modal dialog -----------------------------------------------------------------
// fields: [{name, label, type: text|number|select|checkbox|textarea|datetime-local|password,
//           options: [[value, label]], value, required, hint, min, max, placeholder}]
// submit(values) may throw: the error is shown in the dialog, which stays open. Resolves with
// submit's result, or null when cancelled.
export function formDialog(title, fields, submit, { submitLabel = "Send", danger = false, intro } = {}) {
  return new Promise((resolve) => {
    const controls = {};
    const error = h("p", { class: "form-error", role: "alert" });
    const body = fields.map((f) => {
      let control;
      if (f.type === "select") {
        control = h("select", { name: f.name, required: f.required }, f.options.map(([value, label]) => h("option", { value, selected: String(f.value ?? "") === String(value) }, label)));
      } else if (f.type === "textarea") {
        control = h("textarea", { name: f.name, required: f.required, rows: f.rows || 8, spellcheck: "false", placeholder: f.placeholder });
        control.value = f.value ?? "";
      } else if (f.type === "checkbox") {
        control = h("input", { type: "checkbox", name: f.name, checked: Boolean(f.value) });
      } else {
        control = h("input", {
          type: f.type || "text",
          name: f.name,
          required: f.required,
          min: f.min,
          max: f.max,
          step: f.step,
          placeholder: f.placeholder,
          autocomplete: "off",
          value: f.value ?? "",
        });
      }
      controls[f.name] = control;
      if (f.type === "checkbox") {
        return h("div", { class: "field field-check" }, h("label", {}, control, ` ${f.label}`), f.hint && h("p", { class: "hint" }, f.hint));
      }
      return field(f.label, control, f.hint);
    });
    const submitButton = h("button", { type: "submit", class: `button ${danger ? "button-danger" : "button-primary"}` }, submitLabel);
    const element = h("dialog", { class: "dialog form-dialog", "aria-label": title });
    const cancel = h("button", { type: "button", class: "button", onclick: () => element.close("cancel") }, "Cancel");
    const form = h(
      "form",
      {
        novalidate: false,
        onsubmit: async (event) => {
          event.preventDefault();
          error.textContent = "";
          const values = {};
          for (const f of fields) {
            const control = controls[f.name];
            if (f.type === "checkbox") values[f.name] = control.checked;
            else if (f.type === "number") values[f.name] = control.value === "" ? null : Number(control.value);
            else values[f.name] = control.value.trim() === "" ? null : control.value.trim();
          }
          submitButton.disabled = true;
          try {
            const result = await submit(values);
            element.close("done");
            resolve(result);
          } catch (failed) {
            error.textContent = failed?.problem?.detail || failed?.message || String(failed);
            submitButton.disabled = false;
          }
        },
      },
      h("h2", {}, title),
      intro && h("p", { class: "tile-sub" }, intro),
      h("div", { class: "dialog-body" }, body),
      error,
      h("div", { class: "dialog-actions" }, cancel, submitButton),
    );
    element.append(form);
    element.addEventListener("close", () => {
      if (element.returnValue !== "done") resolve(null);
      element.remove();
    });
    document.body.append(element);
    element.showModal();
    const first = form.querySelector("input, select, textarea");
    first?.focus();
  });
}
