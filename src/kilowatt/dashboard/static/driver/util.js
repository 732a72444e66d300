// Helpers of the driver app's pages (the shared ones live in /static/common/ui.js).

import { h, money } from "/static/common/ui.js";

// A connector's status in a driver's words: [headline, tone].
const CONNECTOR_WORDS = {
  Available: ["Available", "ok"],
  Preparing: ["Ready — cable plugged in", "ok"],
  Charging: ["Occupied — charging", "warn"],
  SuspendedEV: ["Occupied — paused by the car", "warn"],
  SuspendedEVSE: ["Occupied — paused by the charger", "warn"],
  Finishing: ["Occupied — finishing", "warn"],
  Reserved: ["Reserved", "warn"],
  Unavailable: ["Out of service", "muted"],
  Faulted: ["Out of order", "bad"],
};

export function connectorWords(connector) {
  if (!connector.online) return ["Charger offline", "muted"];
  return CONNECTOR_WORDS[connector.status] || [connector.status || "Unknown", "muted"];
}

const SESSION_WORDS = {
  pending: ["Starting", "warn"],
  active: ["Charging", "info"],
  completed: ["Completed", "ok"],
  failed: ["Did not start", "bad"],
  expired: ["Did not start", "muted"],
  cancelled: ["Cancelled", "muted"],
};

export function sessionWords(state) {
  return SESSION_WORDS[state] || [state, "muted"];
}

export function pill(text, tone) {
  return h("span", { class: `badge badge-${tone}` }, text);
}

// A unit price as the server wrote it, without trailing zeros past the cents ("0.4760" → "0.476").
export function unitPrice(amount, currency) {
  if (amount === null || amount === undefined) return "–";
  let text = String(amount);
  if (text.includes(".")) {
    const [whole, part] = text.split(".");
    const trimmed = part.replace(/0+$/, "");
    text = `${whole}.${trimmed.padEnd(2, "0")}`;
  }
  return money(text, currency);
}

// The AFIR price (VAT included) as rows of a definition list.
export function priceRows(price) {
  if (!price) return [["Price", "Free charging"]];
  const c = price.currency;
  const money = unitPrice;
  const rows = [];
  if (price.perKwh) rows.push(["Energy", `${money(price.perKwh, c)} per kWh`]);
  if (price.perMinute) rows.push(["Charging time", `${money(price.perMinute, c)} per minute`]);
  if (price.perSession) rows.push(["Session fee", `${money(price.perSession, c)} once`]);
  if (price.idlePerMinute) {
    const grace = price.idleGraceMinutes ? ` after ${price.idleGraceMinutes} min` : "";
    rows.push(["Idle fee", `${money(price.idlePerMinute, c)} per minute${grace} once full`]);
  }
  if (!rows.length) rows.push(["Price", "Free charging"]);
  return rows;
}

export function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

export function panel(...children) {
  return h("section", { class: "panel" }, ...children);
}

// "Live" / "Reconnecting…" for an event stream (or "Updated every 15 s" when polling).
export function liveBadge(live, { polling = "Refreshes every 15 s" } = {}) {
  const dot = h("span", { class: "live-dot", "aria-hidden": "true" });
  const text = h("span", {}, polling);
  const element = h("span", { class: "live-note", "data-testid": "live-state" }, dot, text);
  if (!live) return { element, stop: () => {} };
  const stop = live.onState((state) => {
    dot.className = `live-dot ${state}`;
    text.textContent = state === "live" ? "Live" : state === "reconnecting" ? "Reconnecting…" : "Connecting…";
  });
  return { element, stop };
}

export function appTagId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `APP-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase().slice(0, 12)}`;
}

export function isAppTag(idTag) {
  return /^APP-[0-9A-F]{12}$/.test(idTag);
}

// Explain an API refusal of a start in plain words.
export function startProblem(error) {
  const detail = error?.problem?.message || error?.problem?.detail || error?.message || "";
  const answer = error?.problem?.ocppStartStatus;
  if (error?.problem?.sessionId && answer) {
    return ["Charging did not start", `${detail} Nothing was billed.`];
  }
  switch (error?.status) {
    case 402:
      return ["A payment card is needed", detail || "Add a payment card before charging."];
    case 403:
      return ["Your charge card was not accepted", detail];
    case 404:
      return ["This charger is not available to your account", detail];
    case 409:
      return ["The connector is busy", detail || "Another session is starting or running on it."];
    case 422:
      return ["Could not start", detail];
    case 503:
      return ["The charger is offline", detail];
    case 504:
      return ["The charger did not answer", detail];
    default:
      return ["Could not start charging", detail];
  }
}

// The form to find a charger by its ID (EVSE ID): opens /start?evse=… for what is typed.
export function evseForm(navigate, label) {
  const input = h("input", {
    id: "evse-input",
    name: "evse",
    required: true,
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    placeholder: "e.g. DE*KWT*E1*1",
  });
  return h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (value) navigate(`/start?evse=${encodeURIComponent(value)}`);
      },
    },
    h("div", { class: "field" }, h("label", { for: "evse-input" }, label), input),
    h("button", { class: "button button-primary button-block", type: "submit" }, "Find the charger"),
  );
}
