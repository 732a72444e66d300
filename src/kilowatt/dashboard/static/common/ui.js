// Small DOM and formatting helpers shared by the dashboard and the driver app.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// ---- formatting -------------------------------------------------------------------------------
const numberFormat = (digits) =>
  new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function kwh(wh, digits = 2) {
  if (wh === undefined || wh === null) return "–";
  return `${numberFormat(digits).format(wh / 1000)} kWh`;
}

export function kw(w, digits = 1) {
  if (w === undefined || w === null) return "–";
  return `${numberFormat(digits).format(w / 1000)} kW`;
}

// Amounts arrive as decimal strings already rounded to the currency's minor unit ("12.30"), so
// the display keeps exactly the server's digits.
export function money(amount, currency) {
  if (amount === undefined || amount === null || amount === "") return "–";
  const digits = String(amount).split(".")[1]?.length ?? 0;
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(Number(amount));
  } catch {
    return `${amount} ${currency || ""}`.trim();
  }
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null) return "–";
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${rest} s`;
}

export function since(iso, now = Date.now()) {
  if (!iso) return "–";
  return duration((now - Date.parse(iso)) / 1000);
}

export function dateTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function time(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleTimeString(undefined, { timeStyle: "medium" });
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

// ---- components -------------------------------------------------------------------------------
const STATUS_TONE = {
  Available: "ok",
  Preparing: "info",
  Charging: "info",
  SuspendedEV: "warn",
  SuspendedEVSE: "warn",
  Finishing: "info",
  Reserved: "warn",
  Unavailable: "muted",
  Faulted: "bad",
  online: "ok",
  offline: "muted",
  pending: "warn",
  active: "info",
  completed: "ok",
  failed: "bad",
  expired: "muted",
  cancelled: "muted",
  Accepted: "ok",
  Rejected: "bad",
  Timeout: "bad",
  Offline: "muted",
};

// The tone of a status's badge (a connector's, a station's, a session's, a command's result).
export function statusTone(status) {
  return STATUS_TONE[status] || "muted";
}

export function badge(text, tone = statusTone(text)) {
  return h("span", { class: `badge badge-${tone}` }, text ?? "–");
}

export function spinner(label = "Loading…") {
  return h("div", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

export function empty(title, hint) {
  return h("div", { class: "state state-empty" }, h("p", { class: "state-title" }, title), hint && h("p", {}, hint));
}

export function failure(error, retry) {
  const message = error?.message || String(error);
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("p", { class: "state-title" }, "Something went wrong"),
    h("p", {}, message),
    retry && h("button", { class: "button", type: "button", onclick: retry }, "Try again"),
  );
}

let toastHost = null;
export function toast(message, tone = "info") {
  toastHost ??= document.body.appendChild(h("div", { class: "toasts", "aria-live": "polite" }));
  const item = h("div", { class: `toast toast-${tone}`, role: tone === "bad" ? "alert" : "status" }, message);
  toastHost.append(item);
  setTimeout(() => item.remove(), 6000);
  return item;
}

// A labelled form control; `control` is an <input>, <select> or <textarea> (given an id here).
let fieldSerial = 0;
export function field(label, control, hint) {
  const id = control.id || `field-${++fieldSerial}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint && h("p", { class: "hint", id: `${id}-hint` }, hint),
  );
}

export function table(columns, rows, { empty: emptyText = "Nothing here yet.", caption } = {}) {
  if (!rows.length) return empty(emptyText);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption && h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(row))))),
      ),
    ),
  );
}

// A modal dialog (native <dialog>): resolves with the value of the button that closed it.
export function dialog(title, body, buttons = [{ label: "Close", value: "close" }]) {
  return new Promise((resolve) => {
    const element = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h("h2", {}, title),
      h("div", { class: "dialog-body" }, body),
      h(
        "div",
        { class: "dialog-actions" },
        buttons.map((b) =>
          h(
            "button",
            {
              type: "button",
              class: `button ${b.primary ? "button-primary" : ""} ${b.danger ? "button-danger" : ""}`,
              onclick: () => element.close(b.value),
            },
            b.label,
          ),
        ),
      ),
    );
    element.addEventListener("close", () => {
      resolve(element.returnValue || "close");
      element.remove();
    });
    document.body.append(element);
    element.showModal();
  });
}
