// One station: its details and live status, connectors with their current charging, health,
// every OCPP command with a form, its configuration keys, smart charging, the local list and its
// OCPP message log.

import { badge, clear, dateTime, dialog, empty, failure, h, kw, kwh, spinner, table, time, toast } from "/static/common/ui.js";
import { createTracker, groupedButtons, openCommand, stateBadge } from "./network-commands.js";
import {
  BASE,
  can,
  card,
  commandBadge,
  debounce,
  every,
  loadStation,
  onlineBadge,
  outlets,
  prettyJson,
  refreshRelative,
  relative,
} from "./network-kit.js";
import { stationCharging } from "./station-charging.js"; // the Smart charging tab
import { stationLocalList } from "./station-local-list.js"; // the Local list tab
import { stationSettings } from "./station-settings.js"; // settings (stations:write)

const TABS = [
  ["status", "Status"],
  ["commands", "Commands"],
  ["configuration", "Configuration"],
  ["charging", "Smart charging"],
  ["local-list", "Local list"],
  ["messages", "Message log"],
];

const ACTIONS = [
  "Authorize", "BootNotification", "DataTransfer", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
  "StopTransaction", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "GetConfiguration", "RemoteStartTransaction",
  "RemoteStopTransaction", "Reset", "TriggerMessage", "UnlockConnector", "FirmwareStatusNotification", "DiagnosticsStatusNotification",
];

export default async function render(ctx) {
  const cp = ctx.params.id;
  ctx.title(cp);
  const path = `stations/${encodeURIComponent(cp)}`;
  let data;
  try {
    data = await loadStation(ctx.api, cp);
  } catch (error) {
    if (error.status === 404) {
      ctx.root.append(
        h("h1", {}, cp),
        empty("No such station", "It is not registered, or it belongs to another tenant."),
        h("p", {}, h("a", { href: `${BASE}/stations` }, "← All stations")),
      );
      return;
    }
    throw error;
  }
  const mayCommand = can(ctx.me, "commands:send");
  const running = new Map(); // connector id -> {tx, powerW, socPercent}

  // ---- the page and its tabs ----------------------------------------------------------------
  const page = {
    cp,
    connectorIds: () => outlets(data).map((c) => c.connector_id),
    tracker: null,
  };
  page.tracker = createTracker(ctx, cp, {
    onFinished: (command) => {
      if (command.action === "GetConfiguration" || command.action === "ChangeConfiguration") reloadStation();
    },
  });

  const headerLine = h("p", { class: "station-sub" });
  const headerBadge = h("span");
  const header = h(
    "div",
    { class: "page-header station-header" },
    h("div", {}, h("p", { class: "nw-crumbs" }, h("a", { href: `${BASE}/stations` }, "Stations"), " / "), h("h1", {}, cp, " ", headerBadge), headerLine),
  );

  const panels = {};
  const tabButtons = {};
  const tablist = h("div", { class: "nw-tabs", role: "tablist", "aria-label": "Station sections" });
  let current = TABS.some(([id]) => id === ctx.query.get("tab")) ? ctx.query.get("tab") : "status";
  for (const [id, label] of TABS) {
    const button = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${id}`,
        "aria-controls": `panel-${id}`,
        class: "nw-tab",
        onclick: () => select(id, true),
        onkeydown: (event) => {
          const index = TABS.findIndex(([t]) => t === id);
          let next = null;
          if (event.key === "ArrowRight") next = TABS[(index + 1) % TABS.length][0];
          if (event.key === "ArrowLeft") next = TABS[(index + TABS.length - 1) % TABS.length][0];
          if (event.key === "Home") next = TABS[0][0];
          if (event.key === "End") next = TABS[TABS.length - 1][0];
          if (next) {
            event.preventDefault();
            select(next, true);
            tabButtons[next].focus();
          }
        },
      },
      label,
    );
    tabButtons[id] = button;
    tablist.append(button);
    panels[id] = h("div", { role: "tabpanel", id: `panel-${id}`, "aria-labelledby": `tab-${id}`, class: "nw-tab-panel", tabindex: "0" });
  }
  const loaders = {};
  const loaded = new Set();
  function select(id, remember) {
    current = id;
    for (const [tab] of TABS) {
      tabButtons[tab].setAttribute("aria-selected", String(tab === id));
      tabButtons[tab].tabIndex = tab === id ? 0 : -1;
      panels[tab].hidden = tab !== id;
    }
    if (remember) {
      const url = new URL(location.href);
      if (id === "status") url.searchParams.delete("tab");
      else url.searchParams.set("tab", id);
      history.replaceState(null, "", url);
    }
    if (!loaded.has(id)) {
      loaded.add(id);
      loaders[id]?.();
    }
  }

  // ---- settings (station-settings.js): a banner while not accepted, a card, max power ---------
  const settings = stationSettings(ctx, { cp, station: () => data.station, tracker: page.tracker, reload: () => reloadStation() });

  ctx.root.append(header, settings.banner, page.tracker.element, tablist, ...Object.values(panels));

  // ---- status: details, connectors, health --------------------------------------------------
  const details = h("div");
  const connectorsBox = h("div", { class: "nw-connector-grid" });
  const healthBox = h("div", {}, spinner("Loading health…"));
  panels.status.append(
    card("Connectors", connectorsBox, { id: "connectors" }),
    h("div", { class: "grid grid-2" }, card("Details", details, { id: "details" }), card("Health, last 7 days", healthBox, { id: "health" })),
    ...(settings.card ? [settings.card] : []),
  );

  function paintHeader() {
    const s = data.station;
    clear(headerBadge, onlineBadge(s));
    const bits = [[s.vendor, s.model].filter(Boolean).join(" ") || "Model not reported yet", s.firmware_version && `firmware ${s.firmware_version}`];
    clear(
      headerLine,
      bits.filter(Boolean).join(" · "),
      " · ",
      s.online
        ? s.last_heartbeat_at
          ? ["last heartbeat ", relative(s.last_heartbeat_at)]
          : ["connected ", relative(s.connected_at)]
        : s.disconnected_at
          ? ["offline since ", relative(s.disconnected_at)]
          : "never connected",
    );
  }

  function paintDetails() {
    const s = data.station;
    const zero = data.connectors.get(0);
    const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? "–")];
    clear(
      details,
      h(
        "dl",
        { class: "facts" },
        fact("Connection", s.online ? [onlineBadge(s), " since ", dateTime(s.connected_at)] : [onlineBadge(s), s.disconnected_at ? ` since ${dateTime(s.disconnected_at)}` : ""]),
        fact("Station status", zero ? [badge(zero.status), zero.error_code && zero.error_code !== "NoError" ? ` ${zero.error_code}` : ""] : "–"),
        fact("Registration", badge(s.registration_status, s.registration_status === "Accepted" ? "ok" : s.registration_status === "Pending" ? "warn" : "bad")),
        fact("Vendor", s.vendor),
        fact("Model", s.model),
        fact("Serial number", s.serial_number),
        fact("Firmware", s.firmware_version),
        fact("Firmware status", s.firmware_status),
        fact("Diagnostics status", s.diagnostics_status),
        fact("Last boot", s.last_boot_at ? [dateTime(s.last_boot_at), " (", relative(s.last_boot_at), ")"] : "never"),
        fact("Last heartbeat", s.last_heartbeat_at ? relative(s.last_heartbeat_at) : "never"),
        fact("Password (Basic auth)", s.basic_auth ? "set" : "none"),
      ),
    );
  }

  function paintConnectors() {
    const list = outlets(data);
    if (!list.length) {
      clear(connectorsBox, empty("No connectors reported yet", "They appear when the station sends its StatusNotifications."));
      return;
    }
    clear(connectorsBox, list.map(connectorCard));
  }

  function connectorCard(c) {
    const live = running.get(c.connector_id);
    const offline = !data.station.online;
    const faulted = c.error_code && c.error_code !== "NoError";
    let charging = null;
    if (live) {
      const tx = live.tx;
      const energy = tx.last_meter_wh != null ? tx.last_meter_wh - tx.meter_start_wh : tx.energy_wh;
      charging = h(
        "div",
        { class: "nw-charging", "data-testid": `charging-${c.connector_id}` },
        h("div", { class: "nw-charging-title" }, "Transaction ", h("strong", {}, String(tx.transaction_id)), " · card ", h("code", {}, tx.id_tag), " · started ", relative(tx.start_timestamp)),
        h(
          "div",
          { class: "nw-charging-figures" },
          h("div", {}, h("span", { class: "tile-label" }, "Energy"), h("span", { class: "nw-figure", "data-testid": `energy-${c.connector_id}` }, kwh(energy ?? 0, 2))),
          h("div", {}, h("span", { class: "tile-label" }, "Power"), h("span", { class: "nw-figure", "data-testid": `power-${c.connector_id}` }, live.powerW != null ? kw(live.powerW) : "–")),
          live.socPercent != null && h("div", {}, h("span", { class: "tile-label" }, "Battery"), h("span", { class: "nw-figure" }, `${Math.round(live.socPercent)} %`)),
        ),
        h(
          "p",
          { class: "tile-sub" },
          tx.last_meter_at ? ["last reading ", relative(tx.last_meter_at)] : "no meter reading yet",
          live.session ? [" · ", h("a", { href: `${BASE}/sessions/${live.session.sessionId}` }, `session #${live.session.sessionId}`)] : "",
        ),
      );
    }
    const actions = mayCommand
      ? h(
          "div",
          { class: "button-row" },
          h("button", { type: "button", class: "button button-small", onclick: () => openCommand(page, "UnlockConnector", { connectorId: c.connector_id }) }, "Unlock"),
          live
            ? h("button", { type: "button", class: "button button-small", onclick: () => openCommand(page, "RemoteStopTransaction", { connectorId: c.connector_id, transactionId: live.tx.transaction_id }) }, "Stop charging")
            : h("button", { type: "button", class: "button button-small", onclick: () => openCommand(page, "RemoteStartTransaction", { connectorId: c.connector_id }) }, "Start charging"),
          h(
            "button",
            { type: "button", class: "button button-small", onclick: () => openCommand(page, "ChangeAvailability", { connectorId: c.connector_id }) },
            c.status === "Unavailable" ? "Make available" : "Make unavailable",
          ),
          qrButton(c),
          settings.maxPowerButton(c),
        )
      : h("div", { class: "button-row" }, qrButton(c), settings.maxPowerButton(c));
    return h(
      "article",
      { class: `nw-connector nw-connector-${(c.status || "unknown").toLowerCase()}${offline ? " nw-connector-stale" : ""}`, "aria-labelledby": `connector-${c.connector_id}-title`, "data-testid": `connector-${c.connector_id}` },
      h(
        "div",
        { class: "nw-connector-head" },
        h("h3", { id: `connector-${c.connector_id}-title` }, `Connector ${c.connector_id}`),
        h("span", { "data-testid": `status-${c.connector_id}` }, badge(c.status || "Unknown")),
      ),
      h(
        "p",
        { class: "tile-sub" },
        c.status_at ? ["since ", relative(c.status_at)] : "no status yet",
        offline && c.status_at ? " · last known, the station is offline" : "",
        c.max_power_w ? ` · max ${kw(c.max_power_w)}` : "",
      ),
      faulted && h("p", { class: "nw-connector-error" }, badge(c.error_code, "bad"), c.info ? ` ${c.info}` : "", c.vendor_error_code ? ` (vendor code ${c.vendor_error_code})` : ""),
      !faulted && c.info && h("p", { class: "tile-sub" }, c.info),
      charging,
      actions,
    );
  }

  // The sticker for the charger: its QR code opens the driver app's start page.
  function qrButton(c) {
    return h(
      "button",
      {
        type: "button",
        class: "button button-small",
        onclick: async () => {
          const info = await ctx.api.get(`connectors/${c.id}`);
          const base = `/api/v1/connectors/${c.id}`;
          await dialog(
            `QR code · connector ${c.connector_id}`,
            h(
              "div",
              { class: "nw-qr" },
              h("img", { src: `${base}/qr.svg`, alt: `QR code opening ${info.startUrl}`, width: 240, height: 240 }),
              h("p", {}, "EVSE id ", h("code", {}, info.evseId)),
              h("p", { class: "tile-sub" }, "Opens ", h("a", { href: info.startUrl, target: "_blank", rel: "noopener" }, info.startUrl)),
              h(
                "div",
                { class: "button-row" },
                h("a", { class: "button button-small", href: `${base}/qr.svg`, download: `${info.evseId}.svg` }, "Download SVG"),
                h("a", { class: "button button-small", href: `${base}/qr.png`, download: `${info.evseId}.png` }, "Download PNG"),
              ),
            ),
          );
        },
      },
      "QR code",
    );
  }

  async function loadRunning() {
    let transactions = [];
    try {
      transactions = (await ctx.api.get("transactions", { station: cp, state: "running", limit: 50 })).items;
    } catch {
      return;
    }
    let sessions = [];
    try {
      sessions = (await ctx.api.get("sessions", { state: "active", limit: 200 })).items.filter((x) => x.chargingStationId === cp);
    } catch {
      sessions = [];
    }
    const previous = new Map(running);
    running.clear();
    for (const tx of transactions) {
      const before = [...previous.values()].find((r) => r.tx.transaction_id === tx.transaction_id);
      const session = sessions.find((x) => x.transactionId === tx.transaction_id);
      running.set(tx.connector_id, { tx, session, powerW: before?.powerW ?? session?.powerW ?? null, socPercent: before?.socPercent ?? session?.stateOfChargePercent ?? null });
    }
    // the latest power of a transaction we have not seen a reading of yet
    await Promise.all(
      [...running.values()]
        .filter((r) => r.powerW == null)
        .map(async (r) => {
          try {
            const detail = await ctx.api.get(`transactions/${r.tx.transaction_id}`);
            const power = detail.meter_values.filter((m) => m.measurand === "Power.Active.Import" && !m.phase && m.value != null).at(-1);
            const soc = detail.meter_values.filter((m) => m.measurand === "SoC" && m.value != null).at(-1);
            if (power) r.powerW = Number(power.value) * (power.unit === "kW" ? 1000 : 1);
            if (soc) r.socPercent = Number(soc.value);
          } catch {
            // the figures stay "–" until the next reading
          }
        }),
    );
    paintConnectors();
  }
  const reloadRunning = debounce(loadRunning, 300);

  async function loadHealth() {
    try {
      const health = await ctx.api.get(`${path}/health`);
      clear(healthBox, healthView(health));
    } catch (error) {
      clear(healthBox, failure(error, loadHealth));
    }
  }
  const reloadHealth = debounce(loadHealth, 1500);

  function healthView(health) {
    const figures = h(
      "div",
      { class: "nw-mini-tiles" },
      h("div", { class: "nw-mini-tile" }, h("span", { class: "tile-label" }, "Reconnects"), h("strong", {}, String(health.reconnects.total))),
      h("div", { class: "nw-mini-tile" }, h("span", { class: "tile-label" }, "Boots"), h("strong", {}, String(health.boots.total))),
      h("div", { class: `nw-mini-tile ${health.recent_call_errors.length ? "nw-mini-bad" : ""}` }, h("span", { class: "tile-label" }, "CALLERRORs"), h("strong", {}, String(health.recent_call_errors.length))),
      h("div", { class: `nw-mini-tile ${health.open_sessions.length ? "nw-mini-info" : ""}` }, h("span", { class: "tile-label" }, "Open sessions"), h("strong", {}, String(health.open_sessions.length))),
    );
    const all = [figures];
    if (health.status_error_codes.length) {
      all.push(h("h3", {}, "Error codes reported"), h("ul", { class: "nw-plain-list" }, health.status_error_codes.map((e) => h("li", {}, badge(e.error_code, "bad"), ` ×${e.count}, last `, relative(e.last_seen)))));
    }
    if (health.failing_commands.length) {
      all.push(
        h("h3", {}, "Failing commands"),
        h("ul", { class: "nw-plain-list" }, health.failing_commands.map((f) => h("li", {}, h("strong", {}, f.action), " ", badge(f.outcome || f.state, "bad"), ` ×${f.count}, last `, relative(f.last_at)))),
      );
    }
    if (health.recent_call_errors.length) {
      all.push(
        h("h3", {}, "Recent CALLERRORs"),
        h("ul", { class: "nw-plain-list" }, health.recent_call_errors.slice(0, 5).map((e) => h("li", {}, relative(e.at), " ", h("strong", {}, e.action || "?"), " ", badge(e.error_code || "error", "bad"), ` ${e.direction === "in" ? "from" : "to"} the station`))),
      );
    }
    if (health.open_sessions.length) {
      all.push(
        h("h3", {}, "Open sessions"),
        h(
          "ul",
          { class: "nw-plain-list" },
          health.open_sessions.map((s) => h("li", {}, h("a", { href: `${BASE}/sessions/${s.session_id}` }, `Session #${s.session_id}`), ` · connector ${s.connector_id} · `, badge(s.state), ` · ${s.origin} · requested `, relative(s.requested_at))),
        ),
      );
    }
    if (all.length === 1) all.push(h("p", { class: "health-ok" }, "No errors, failing commands or CALLERRORs in the last 7 days."));
    return all;
  }

  async function reloadStation() {
    try {
      const fresh = await loadStation(ctx.api, cp);
      data.station = fresh.station;
      data.connectors = fresh.connectors;
      paintAll();
      if (loaded.has("configuration")) paintConfiguration();
    } catch (error) {
      console.warn(error);
    }
  }

  function paintAll() {
    paintHeader();
    paintDetails();
    paintConnectors();
    settings.paint();
  }

  // ---- commands -----------------------------------------------------------------------------
  const commandLog = h("div", {}, spinner("Loading commands…"));
  panels.commands.append(
    mayCommand
      ? card("Send a command", groupedButtons(page), { id: "send" })
      : h("p", { class: "nw-note" }, "Your role can see this station's commands but not send them."),
    card("Recent commands", commandLog, { id: "command-log", actions: h("button", { type: "button", class: "button button-small", onclick: () => loadCommands() }, "Refresh") }),
  );
  async function loadCommands() {
    try {
      const page = await ctx.api.get(`${path}/commands`, { limit: 30 });
      clear(
        commandLog,
        table(
          [
            { label: "Sent", cell: (c) => relative(c.created_at) },
            { label: "Command", cell: (c) => h("strong", {}, c.action) },
            { label: "Outcome", cell: (c) => [commandBadge(c), ["error", "timeout", "offline"].includes(c.state) && c.outcome && c.outcome.toLowerCase() !== c.state ? [" ", stateBadge(c.state)] : null] },
            { label: "Latency", class: "num", cell: (c) => (c.latency_ms != null ? `${c.latency_ms} ms` : "–") },
            { label: "By", cell: (c) => c.requested_by || "–" },
            {
              label: "Details",
              cell: (c) =>
                h(
                  "details",
                  { class: "json-details" },
                  h("summary", {}, "Request and answer"),
                  h("pre", {}, `request ${JSON.stringify(c.request, null, 2)}`),
                  c.response && h("pre", {}, `response ${JSON.stringify(c.response, null, 2)}`),
                  c.error_description && h("p", { class: "form-error" }, c.error_description),
                ),
            },
          ],
          page.items,
          { empty: "No command has been sent to this station yet.", caption: `${page.total} command${page.total === 1 ? "" : "s"} in all, newest first` },
        ),
      );
    } catch (error) {
      clear(commandLog, failure(error, loadCommands));
    }
  }
  loaders.commands = loadCommands;
  const reloadCommands = debounce(() => loaded.has("commands") && loadCommands(), 300);

  // ---- configuration ------------------------------------------------------------------------
  const configSearch = h("input", { type: "search", placeholder: "Filter keys", "aria-label": "Filter configuration keys", oninput: () => paintConfiguration() });
  const configBox = h("div");
  panels.configuration.append(
    card(
      "Configuration keys",
      [
        h("p", { class: "tile-sub" }, "As last read with GetConfiguration or set with ChangeConfiguration."),
        h("div", { class: "nw-toolbar" }, configSearch),
        configBox,
      ],
      {
        id: "configuration",
        actions: mayCommand && [
          h("button", { type: "button", class: "button button-small button-primary", onclick: () => page.tracker.send("GetConfiguration", {}).catch((e) => alertFailure(e)) }, "Read from station"),
          h("button", { type: "button", class: "button button-small", onclick: () => openCommand(page, "ChangeConfiguration") }, "Change a key"),
        ],
      },
    ),
  );
  function paintConfiguration() {
    const filter = configSearch.value.trim().toLowerCase();
    const rows = Object.entries(data.station.configuration || {})
      .filter(([key, value]) => !filter || key.toLowerCase().includes(filter) || String(value ?? "").toLowerCase().includes(filter))
      .sort(([a], [b]) => a.localeCompare(b));
    const columns = [
      { label: "Key", cell: ([key]) => h("code", {}, key) },
      { label: "Value", cell: ([, value]) => (value == null ? h("span", { class: "tile-sub" }, "(no value)") : h("code", { class: "config-value" }, value)) },
    ];
    if (mayCommand) {
      columns.push({
        label: h("span", { class: "visually-hidden" }, "Actions"),
        class: "num",
        cell: ([key, value]) => h("button", { type: "button", class: "button button-small", "aria-label": `Change ${key}`, onclick: () => openCommand(page, "ChangeConfiguration", { key, value }) }, "Change"),
      });
    }
    clear(
      configBox,
      table(columns, rows, {
        empty: Object.keys(data.station.configuration || {}).length ? "No key matches the filter." : mayCommand ? "Not read yet: use “Read from station”." : "Not read yet.",
      }),
    );
  }
  loaders.configuration = paintConfiguration;

  // ---- smart charging and the local list (their own modules) ---------------------------------
  loaders.charging = stationCharging(ctx, { cp, connectorIds: page.connectorIds, panel: panels.charging }).load;
  loaders["local-list"] = stationLocalList(ctx, { cp, panel: panels["local-list"] }).load;

  // ---- message log --------------------------------------------------------------------------
  const actionInput = h("input", { type: "text", name: "action", list: "ocpp-actions", placeholder: "any", autocomplete: "off" });
  const directionSelect = h("select", { name: "direction" }, h("option", { value: "" }, "both"), h("option", { value: "in" }, "from the station"), h("option", { value: "out" }, "to the station"));
  const typeSelect = h("select", { name: "message_type" }, h("option", { value: "" }, "any"), h("option", { value: "2" }, "CALL"), h("option", { value: "3" }, "CALLRESULT"), h("option", { value: "4" }, "CALLERROR"));
  const txInput = h("input", { type: "number", name: "transaction_id", min: "0", placeholder: "any", inputmode: "numeric" });
  const errorsBox = h("input", { type: "checkbox", name: "errors" });
  const limitSelect = h("select", { name: "limit" }, [50, 100, 250, 1000].map((n) => h("option", { value: n, selected: n === 100 }, String(n))));
  const followBox = h("input", { type: "checkbox", name: "follow", checked: true });
  const labelled = (text, control) => {
    control.id = `log-${control.name}`;
    return h("div", { class: "field" }, h("label", { for: control.id }, text), control);
  };
  const messageBox = h("div", { "aria-live": "polite", "aria-busy": "false" });
  const logForm = h(
    "form",
    {
      class: "log-filters",
      "aria-label": "Message log filters",
      onsubmit: (event) => {
        event.preventDefault();
        loadMessages();
      },
      onchange: (event) => {
        if (event.target !== followBox && event.target !== actionInput && event.target !== txInput) loadMessages();
      },
    },
    labelled("Action", actionInput),
    h("datalist", { id: "ocpp-actions" }, ACTIONS.map((a) => h("option", { value: a }))),
    labelled("Direction", directionSelect),
    labelled("Type", typeSelect),
    labelled("Transaction id", txInput),
    labelled("Newest", limitSelect),
    h("div", { class: "field field-check" }, h("label", {}, errorsBox, " Errors only")),
    h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary" }, "Apply"), h("button", { type: "button", class: "button", onclick: () => resetFilters() }, "Clear")),
  );
  panels.messages.append(card("OCPP message log", [logForm, messageBox], { id: "messages", actions: h("label", { class: "nw-check" }, followBox, " Follow live") }));
  function resetFilters() {
    logForm.reset();
    followBox.checked = true;
    loadMessages();
  }
  let messageSerial = 0;
  async function loadMessages() {
    const serial = ++messageSerial;
    messageBox.setAttribute("aria-busy", "true");
    const query = {
      limit: limitSelect.value,
      action: actionInput.value.trim(),
      direction: directionSelect.value,
      message_type: typeSelect.value,
      transaction_id: txInput.value,
      errors: errorsBox.checked ? "true" : undefined,
    };
    try {
      const messages = await ctx.api.get(`${path}/messages`, query);
      if (serial !== messageSerial) return;
      clear(messageBox, messageList(messages));
    } catch (error) {
      if (serial === messageSerial) clear(messageBox, failure(error, loadMessages));
    } finally {
      messageBox.setAttribute("aria-busy", "false");
    }
  }
  loaders.messages = loadMessages;
  const reloadMessages = debounce(() => loaded.has("messages") && followBox.checked && current === "messages" && loadMessages(), 800);

  function messageList(messages) {
    if (!messages.length) return empty("No messages match", "Change the filters, or wait for the station to talk.");
    const TYPES = { 0: "unreadable", 2: "CALL", 3: "CALLRESULT", 4: "CALLERROR" };
    // an answer does not name its action: take it from its call, when that is in the list
    const calls = new Map(messages.filter((m) => m.message_type === 2 && m.action).map((m) => [`${m.direction}:${m.message_id}`, m.action]));
    const actionOf = (m) => m.action || calls.get(`${m.direction === "in" ? "out" : "in"}:${m.message_id}`);
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "message-log" },
        h("caption", { class: "visually-hidden" }, "OCPP messages, newest first"),
        h("thead", {}, h("tr", {}, ["Time", "Direction", "Type", "Action", "Message id", "Frame"].map((label) => h("th", { scope: "col" }, label)))),
        h(
          "tbody",
          {},
          messages.map((m) =>
            h(
              "tr",
              { class: m.error_code ? "row-error" : "", "data-testid": "message" },
              h("td", { class: "nowrap" }, h("time", { datetime: m.at, title: dateTime(m.at) }, time(m.at))),
              h("td", {}, m.direction === "in" ? badge("← in", "info") : badge("→ out", "muted")),
              h("td", {}, m.message_type === 4 ? badge("CALLERROR", "bad") : TYPES[m.message_type] || m.message_type, m.error_code && m.message_type !== 4 ? [" ", badge(m.error_code, "bad")] : ""),
              h(
                "td",
                {},
                m.action || (actionOf(m) ? h("span", { class: "answer-of", title: "the answer to this call" }, `↳ ${actionOf(m)}`) : "–"),
                m.latency_ms != null ? h("span", { class: "tile-sub" }, ` ${Math.round(m.latency_ms)} ms`) : "",
              ),
              h("td", {}, h("code", { class: "message-id" }, m.message_id || "–")),
              h("td", { class: "frame-cell" }, h("details", { class: "json-details" }, h("summary", {}, h("code", { class: "frame-preview" }, m.frame.length > 90 ? `${m.frame.slice(0, 90)}…` : m.frame)), h("pre", {}, prettyJson(m.frame)))),
            ),
          ),
        ),
      ),
    );
  }

  function alertFailure(error) {
    toast(error.message, "bad");
  }

  // ---- live ----------------------------------------------------------------------------------
  ctx.subscribe("*", (event) => {
    if (event.chargingStationId !== cp) return;
    const d = event.data || {};
    switch (event.type) {
      case "station.connected":
      case "station.disconnected":
        data.station.online = data.station.connected = event.type === "station.connected";
        if (event.type === "station.connected") data.station.connected_at = event.at;
        else data.station.disconnected_at = event.at;
        paintAll();
        reloadHealth();
        break;
      case "station.booted":
        reloadStation();
        reloadHealth();
        break;
      case "connector.status": {
        const id = event.connectorId ?? 0;
        const old = data.connectors.get(id) || { connector_id: id, max_power_w: null, vendor_error_code: null };
        data.connectors.set(id, { ...old, status: d.status, error_code: d.errorCode, info: d.info ?? null, status_at: d.timestamp || event.at });
        data.station.online = true;
        data.station.last_heartbeat_at = event.at;
        paintAll();
        reloadRunning();
        if (d.errorCode && d.errorCode !== "NoError") reloadHealth();
        break;
      }
      case "meter_values": {
        const entry = running.get(event.connectorId);
        if (entry && d.transactionId === entry.tx.transaction_id) {
          if (d.energyWh != null) {
            entry.tx.last_meter_wh = d.energyWh;
            entry.tx.last_meter_at = d.timestamp || event.at;
          }
          if (d.powerW != null) entry.powerW = d.powerW;
          if (d.socPercent != null) entry.socPercent = d.socPercent;
          paintConnectors();
        } else if (d.transactionId != null) {
          reloadRunning();
        }
        break;
      }
      case "command.sent":
      case "command.finished":
        reloadCommands();
        if (event.type === "command.finished") reloadHealth();
        break;
      default:
        if (event.type.startsWith("session.") || event.type === "transaction.stopped") {
          reloadRunning();
          reloadHealth();
        }
    }
    reloadMessages();
  });
  ctx.onResync(() => {
    reloadStation();
    loadRunning();
    loadHealth();
    if (loaded.has("commands")) loadCommands();
    if (loaded.has("messages")) loadMessages();
  });
  every(ctx, 5000, () => refreshRelative(ctx.root));
  ctx.onCleanup(() => {
    reloadRunning.cancel();
    reloadHealth.cancel();
    reloadCommands.cancel();
    reloadMessages.cancel();
  });

  paintAll();
  select(current, false);
  await Promise.all([loadRunning(), loadHealth()]);
}
