// The OCPP 1.6 commands an operator can send from a station's page: each with a small form for
// its parameters (POST /api/v1/stations/{cp}/commands/{action}), and a tracker of their outcomes.

import { badge, h } from "/static/common/ui.js";
import { commandBadge, formDialog, prettyJson } from "./network-kit.js";

const iso = (local) => (local ? new Date(local).toISOString() : undefined);
const clean = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined && v !== null && v !== ""));
const json = (text, what = "payload") => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`The ${what} is not valid JSON: ${error.message}`);
  }
};
const connectorField = (ctx, { required = true, zero = false, label = "Connector" } = {}) => ({
  name: "connectorId",
  label,
  type: "select",
  required,
  value: ctx.connectorId ?? (zero ? 0 : ctx.connectors[0] ?? 1),
  options: [
    ...(required ? [] : [["", "Any / not given"]]),
    ...(zero ? [[0, "0 · the whole station"]] : []),
    ...ctx.connectors.map((id) => [id, `Connector ${id}`]),
  ],
});
const soon = (minutes) => {
  const d = new Date(Date.now() + minutes * 60_000);
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const jsonField = (template, hint) => ({ name: "payload", label: "Request (JSON)", type: "textarea", required: true, value: JSON.stringify(template, null, 2), hint, rows: 10 });
const asJson = (v) => json(v.payload);

const TRIGGERABLE = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "FirmwareStatusNotification", "DiagnosticsStatusNotification"];
const EXTENDED_TRIGGERABLE = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "FirmwareStatusNotification", "LogStatusNotification", "SignChargePointCertificate"];

// ctx: {connectors: [ids], connectorId?, transactionId?, key?, value?}
export const COMMANDS = [
  // ---- everyday ----
  {
    action: "UnlockConnector", label: "Unlock connector", group: "Everyday",
    fields: (c) => [connectorField(c)],
    payload: (v) => ({ connectorId: Number(v.connectorId) }),
  },
  {
    action: "RemoteStartTransaction", label: "Remote start", group: "Everyday",
    fields: (c) => [connectorField(c, { required: false }), { name: "idTag", label: "Card (idTag)", required: true, placeholder: "e.g. 04A1B2C3", hint: "The charger authorizes this card (up to 20 characters)." }],
    payload: (v) => clean({ idTag: v.idTag, connectorId: v.connectorId === null ? undefined : Number(v.connectorId) }),
  },
  {
    action: "RemoteStopTransaction", label: "Remote stop", group: "Everyday",
    fields: (c) => [{ name: "transactionId", label: "Transaction id", type: "number", required: true, value: c.transactionId ?? "", min: 0 }],
    payload: (v) => ({ transactionId: v.transactionId }),
  },
  {
    action: "Reset", label: "Reset", group: "Everyday", danger: true,
    intro: "A hard reset reboots the charger at once, stopping any charging; a soft reset waits for transactions to stop.",
    fields: () => [{ name: "type", label: "Type", type: "select", value: "Soft", options: [["Soft", "Soft"], ["Hard", "Hard"]] }],
    payload: (v) => ({ type: v.type }),
  },
  {
    action: "ChangeAvailability", label: "Change availability", group: "Everyday",
    fields: (c) => [connectorField(c, { zero: true }), { name: "type", label: "Make it", type: "select", value: "Inoperative", options: [["Operative", "Operative (available)"], ["Inoperative", "Inoperative (unavailable)"]] }],
    payload: (v) => ({ connectorId: Number(v.connectorId), type: v.type }),
  },
  {
    action: "TriggerMessage", label: "Trigger message", group: "Everyday",
    fields: (c) => [
      { name: "requestedMessage", label: "Message", type: "select", value: "StatusNotification", options: TRIGGERABLE.map((m) => [m, m]) },
      connectorField(c, { required: false }),
    ],
    payload: (v) => clean({ requestedMessage: v.requestedMessage, connectorId: v.connectorId === null ? undefined : Number(v.connectorId) }),
  },
  // ---- configuration ----
  {
    action: "GetConfiguration", label: "Get configuration", group: "Configuration",
    fields: () => [{ name: "keys", label: "Keys", placeholder: "all keys", hint: "Comma-separated; empty reads every key." }],
    payload: (v) => (v.keys ? { key: v.keys.split(",").map((k) => k.trim()).filter(Boolean) } : {}),
  },
  {
    action: "ChangeConfiguration", label: "Change configuration", group: "Configuration",
    fields: (c) => [{ name: "key", label: "Key", required: true, value: c.key ?? "", placeholder: "e.g. HeartbeatInterval" }, { name: "value", label: "Value", required: true, value: c.value ?? "" }],
    payload: (v) => ({ key: v.key, value: v.value ?? "" }),
  },
  { action: "ClearCache", label: "Clear cache", group: "Configuration", intro: "Clears the charger's authorization cache.", fields: () => [], payload: () => ({}) },
  {
    action: "DataTransfer", label: "Data transfer", group: "Configuration",
    fields: () => [{ name: "vendorId", label: "Vendor id", required: true }, { name: "messageId", label: "Message id" }, { name: "data", label: "Data", type: "textarea", rows: 4 }],
    payload: (v) => clean({ vendorId: v.vendorId, messageId: v.messageId, data: v.data }),
  },
  // ---- reservations and local list ----
  {
    action: "ReserveNow", label: "Reserve now", group: "Reservations & local list",
    fields: (c) => [
      connectorField(c, { zero: true }),
      { name: "idTag", label: "Card (idTag)", required: true },
      { name: "expiryDate", label: "Until", type: "datetime-local", required: true, value: soon(30) },
      { name: "reservationId", label: "Reservation id", type: "number", required: true, value: Math.floor(Date.now() / 1000) % 1_000_000, min: 0 },
    ],
    payload: (v) => ({ connectorId: Number(v.connectorId), idTag: v.idTag, expiryDate: iso(v.expiryDate), reservationId: v.reservationId }),
  },
  {
    action: "CancelReservation", label: "Cancel reservation", group: "Reservations & local list",
    fields: () => [{ name: "reservationId", label: "Reservation id", type: "number", required: true, min: 0 }],
    payload: (v) => ({ reservationId: v.reservationId }),
  },
  { action: "GetLocalListVersion", label: "Get local list version", group: "Reservations & local list", fields: () => [], payload: () => ({}) },
  {
    action: "SendLocalList", label: "Send local list", group: "Reservations & local list",
    fields: () => [jsonField({ listVersion: 1, updateType: "Full", localAuthorizationList: [{ idTag: "04A1B2C3", idTagInfo: { status: "Accepted" } }] })],
    payload: asJson,
  },
  // ---- smart charging ----
  {
    action: "SetChargingProfile", label: "Set charging profile", group: "Smart charging",
    fields: (c) => [
      jsonField({
        connectorId: c.connectorId ?? c.connectors[0] ?? 1,
        csChargingProfiles: {
          chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: "TxDefaultProfile", chargingProfileKind: "Absolute",
          chargingSchedule: { chargingRateUnit: "W", chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] },
        },
      }),
    ],
    payload: asJson,
  },
  {
    action: "ClearChargingProfile", label: "Clear charging profile", group: "Smart charging",
    fields: (c) => [
      { name: "id", label: "Profile id", type: "number", min: 0, hint: "Empty: every profile matching the rest." },
      connectorField(c, { required: false, zero: true }),
      { name: "purpose", label: "Purpose", type: "select", value: "", options: [["", "Any"], ["ChargePointMaxProfile", "ChargePointMaxProfile"], ["TxDefaultProfile", "TxDefaultProfile"], ["TxProfile", "TxProfile"]] },
      { name: "stackLevel", label: "Stack level", type: "number", min: 0 },
    ],
    payload: (v) => clean({ id: v.id, connectorId: v.connectorId === null ? undefined : Number(v.connectorId), chargingProfilePurpose: v.purpose, stackLevel: v.stackLevel }),
  },
  {
    action: "GetCompositeSchedule", label: "Get composite schedule", group: "Smart charging",
    fields: (c) => [connectorField(c, { zero: true }), { name: "duration", label: "Duration (s)", type: "number", required: true, value: 3600, min: 1 }, { name: "unit", label: "Rate unit", type: "select", value: "", options: [["", "Charger's choice"], ["W", "W"], ["A", "A"]] }],
    payload: (v) => clean({ connectorId: Number(v.connectorId), duration: v.duration, chargingRateUnit: v.unit }),
  },
  // ---- firmware and diagnostics ----
  {
    action: "UpdateFirmware", label: "Update firmware", group: "Firmware & diagnostics", danger: true,
    fields: () => [{ name: "location", label: "Firmware URL", required: true, type: "url" }, { name: "retrieveDate", label: "Download from", type: "datetime-local", required: true, value: soon(1) }, { name: "retries", label: "Retries", type: "number", min: 0 }, { name: "retryInterval", label: "Retry interval (s)", type: "number", min: 0 }],
    payload: (v) => clean({ location: v.location, retrieveDate: iso(v.retrieveDate), retries: v.retries, retryInterval: v.retryInterval }),
  },
  {
    action: "GetDiagnostics", label: "Get diagnostics", group: "Firmware & diagnostics",
    fields: () => [{ name: "location", label: "Upload to (URL)", required: true, type: "url" }, { name: "startTime", label: "From", type: "datetime-local" }, { name: "stopTime", label: "To", type: "datetime-local" }, { name: "retries", label: "Retries", type: "number", min: 0 }],
    payload: (v) => clean({ location: v.location, startTime: iso(v.startTime), stopTime: iso(v.stopTime), retries: v.retries }),
  },
  {
    action: "SignedUpdateFirmware", label: "Signed firmware update", group: "Firmware & diagnostics", danger: true,
    fields: () => [jsonField({ requestId: 1, firmware: { location: "https://", retrieveDateTime: new Date().toISOString(), signingCertificate: "-----BEGIN CERTIFICATE-----…", signature: "" } })],
    payload: asJson,
  },
  {
    action: "GetLog", label: "Get log", group: "Firmware & diagnostics",
    fields: () => [{ name: "logType", label: "Log", type: "select", value: "DiagnosticsLog", options: [["DiagnosticsLog", "Diagnostics log"], ["SecurityLog", "Security log"]] }, { name: "remoteLocation", label: "Upload to (URL)", required: true, type: "url" }, { name: "requestId", label: "Request id", type: "number", required: true, value: 1, min: 0 }],
    payload: (v) => ({ logType: v.logType, requestId: v.requestId, log: { remoteLocation: v.remoteLocation } }),
  },
  {
    action: "ExtendedTriggerMessage", label: "Extended trigger", group: "Firmware & diagnostics",
    fields: (c) => [{ name: "requestedMessage", label: "Message", type: "select", value: "StatusNotification", options: EXTENDED_TRIGGERABLE.map((m) => [m, m]) }, connectorField(c, { required: false })],
    payload: (v) => clean({ requestedMessage: v.requestedMessage, connectorId: v.connectorId === null ? undefined : Number(v.connectorId) }),
  },
  // ---- security ----
  {
    action: "GetInstalledCertificateIds", label: "Installed certificates", group: "Security",
    fields: () => [{ name: "certificateType", label: "Type", type: "select", value: "CentralSystemRootCertificate", options: [["CentralSystemRootCertificate", "Central system root"], ["ManufacturerRootCertificate", "Manufacturer root"]] }],
    payload: (v) => ({ certificateType: v.certificateType }),
  },
  {
    action: "InstallCertificate", label: "Install certificate", group: "Security",
    fields: () => [{ name: "certificateType", label: "Type", type: "select", value: "CentralSystemRootCertificate", options: [["CentralSystemRootCertificate", "Central system root"], ["ManufacturerRootCertificate", "Manufacturer root"]] }, { name: "certificate", label: "Certificate (PEM)", type: "textarea", required: true }],
    payload: (v) => ({ certificateType: v.certificateType, certificate: v.certificate }),
  },
  {
    action: "DeleteCertificate", label: "Delete certificate", group: "Security", danger: true,
    fields: () => [jsonField({ certificateHashData: { hashAlgorithm: "SHA256", issuerNameHash: "", issuerKeyHash: "", serialNumber: "" } })],
    payload: asJson,
  },
  {
    action: "CertificateSigned", label: "Certificate signed", group: "Security",
    fields: () => [{ name: "certificateChain", label: "Certificate chain (PEM)", type: "textarea", required: true }],
    payload: (v) => ({ certificateChain: v.certificateChain }),
  },
];

export const COMMAND = Object.fromEntries(COMMANDS.map((c) => [c.action, c]));

const FINAL = new Set(["completed", "error", "timeout", "offline"]);

// Open the command's form; send it; track its outcome in `tracker`. Resolves with the command
// record as first answered (or null when cancelled).
export function openCommand(page, action, context = {}) {
  const spec = COMMAND[action];
  const c = { connectors: page.connectorIds(), ...context };
  return formDialog(
    spec.label,
    spec.fields(c),
    async (values) => {
      const payload = spec.payload(values);
      return page.tracker.send(action, payload);
    },
    { submitLabel: `Send ${action}`, danger: spec.danger, intro: spec.intro ?? `Sends ${action} to ${page.cp}.` },
  );
}

// The outcomes of the commands sent from this page, newest first, updated when they finish.
export function createTracker(ctx, cp, { onFinished } = {}) {
  const list = h("ol", { class: "nw-outcomes", "aria-label": "Commands sent from this page" });
  const region = h("section", { class: "nw-outcome-panel", "aria-live": "polite", "data-testid": "command-outcomes", hidden: true }, h("h2", { class: "visually-hidden" }, "Command outcomes"), list);
  const items = new Map(); // command id -> {command, row}

  function paint(command) {
    const known = items.get(command.id);
    const final = FINAL.has(command.state);
    const row = h(
      "li",
      { class: `nw-outcome nw-outcome-${final ? "final" : "running"}`, "data-command": command.id, "data-action": command.action },
      h("span", { class: "nw-outcome-action" }, command.action),
      commandBadge(command),
      final
        ? h("span", { class: "tile-sub" }, command.latency_ms != null ? `${command.latency_ms} ms` : "", command.error_description ? ` · ${command.error_description}` : "")
        : h("span", { class: "tile-sub" }, h("span", { class: "spinner", "aria-hidden": "true" }), "waiting for the station…"),
      command.response && Object.keys(command.response).length > 1 && h("details", { class: "nw-outcome-details" }, h("summary", {}, "Response"), h("pre", {}, prettyJson(JSON.stringify(command.response)))),
      h("button", { type: "button", class: "button button-small nw-outcome-dismiss", "aria-label": `Dismiss ${command.action} outcome`, onclick: () => dismiss(command.id) }, "×"),
    );
    if (known) known.row.replaceWith(row);
    else list.prepend(row);
    items.set(command.id, { command, row });
    region.hidden = false;
    while (list.children.length > 4) {
      const last = list.lastElementChild;
      items.delete(last.dataset.command);
      last.remove();
    }
  }

  function dismiss(id) {
    items.get(id)?.row.remove();
    items.delete(id);
    if (!list.children.length) region.hidden = true;
  }

  async function follow(command) {
    for (let tries = 0; tries < 4 && !FINAL.has(command.state); tries++) {
      try {
        command = await ctx.api.get(`commands/${command.id}`, { wait: 30 });
      } catch {
        return;
      }
      if (!items.has(command.id)) return;
      if (FINAL.has(command.state) && FINAL.has(items.get(command.id).command.state)) return;
      paint(command);
      if (FINAL.has(command.state)) onFinished?.(command);
    }
  }

  ctx.subscribe("command.finished", async (event) => {
    const entry = items.get(event.data?.commandId);
    if (!entry || FINAL.has(entry.command.state)) return;
    try {
      const command = await ctx.api.get(`commands/${event.data.commandId}`);
      paint(command);
      onFinished?.(command);
    } catch {
      // follow() will get it
    }
  });

  return {
    element: region,
    async send(action, payload) {
      const command = await ctx.api.post(`stations/${encodeURIComponent(cp)}/commands/${action}`, payload, { wait: 0 });
      paint(command);
      if (FINAL.has(command.state)) onFinished?.(command);
      else follow(command);
      return command;
    },
  };
}

export function groupedButtons(page) {
  const groups = new Map();
  for (const spec of COMMANDS) {
    if (!groups.has(spec.group)) groups.set(spec.group, []);
    groups.get(spec.group).push(spec);
  }
  return h(
    "div",
    { class: "command-groups" },
    [...groups.entries()].map(([group, specs]) =>
      h(
        "div",
        { class: "command-group", role: "group", "aria-label": group },
        h("h3", {}, group),
        h("div", { class: "button-row" }, specs.map((spec) => h("button", { type: "button", class: `button button-small ${spec.danger ? "button-caution" : ""}`, "data-action": spec.action, onclick: () => openCommand(page, spec.action) }, spec.label))),
      ),
    ),
  );
}

export function stateBadge(state) {
  return badge(state, state === "completed" ? "ok" : state === "pending" || state === "sent" ? "info" : "bad");
}
