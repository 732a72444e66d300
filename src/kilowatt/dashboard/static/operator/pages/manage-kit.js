// Helpers shared by the sessions, analytics and management pages (on top of common/ui.js).

import { clear, failure, h, spinner, toast } from "/static/common/ui.js";

export const can = (ctx, permission) => (ctx.me.permissions || []).includes(permission);

// Mark the content area as one of these pages (manage.css styles under .manage-page) until the
// page is left.
export function scopePage(ctx, name) {
  ctx.root.classList.add("manage-page", `page-${name}`);
  ctx.onCleanup(() => ctx.root.classList.remove("manage-page", `page-${name}`));
}

export function pageHeader(title, sub, ...actions) {
  return h(
    "div",
    { class: "page-header" },
    h("div", {}, h("h1", {}, title), sub && h("p", { class: "page-sub" }, sub)),
    actions.length ? h("div", { class: "button-row" }, actions) : null,
  );
}

export function button(label, onclick, { primary, danger, small, disabled, title, testid } = {}) {
  const cls = ["button", primary && "button-primary", danger && "button-danger", small && "button-small"].filter(Boolean).join(" ");
  return h("button", { type: "button", class: cls, onclick, disabled, title, "data-testid": testid }, label);
}

// The messages of an API error: the problem's detail and every item of its `errors`
// (strings from the tariff validator, {loc, msg} from the request schema).
export function problemLines(error) {
  const problem = error?.problem || {};
  const lines = [];
  for (const item of problem.errors || []) {
    if (typeof item === "string") lines.push(item);
    else if (item && typeof item === "object") {
      const loc = (item.loc || []).filter((part) => part !== "body").join(".");
      lines.push(loc ? `${loc}: ${item.msg}` : item.msg);
    }
  }
  return { title: problem.title || (error?.status ? `HTTP ${error.status}` : "Error"), detail: error?.message || String(error), lines };
}

export function problemBox(error) {
  const { title, detail, lines } = problemLines(error);
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("p", { class: "problem-title" }, title),
    detail && detail !== title ? h("p", {}, detail) : null,
    lines.length ? h("ul", {}, lines.map((line) => h("li", {}, line))) : null,
  );
}

// A modal form: `submit(form)` runs on submit; an error (ApiError) is shown inside the dialog
// and the dialog stays open; success closes it and resolves with submit's value.
export function formDialog(title, body, { submitLabel = "Save", submit, wide = false, danger = false }) {
  return new Promise((resolve) => {
    let result;
    const errorHost = h("div", { class: "dialog-error" });
    const submitButton = h("button", { type: "submit", class: `button ${danger ? "button-danger" : "button-primary"}` }, submitLabel);
    const form = h(
      "form",
      {
        novalidate: false,
        onsubmit: async (event) => {
          event.preventDefault();
          submitButton.disabled = true;
          clear(errorHost);
          try {
            result = await submit(form);
            element.close("done");
          } catch (error) {
            clear(errorHost, problemBox(error));
            submitButton.disabled = false;
          }
        },
      },
      h("div", { class: "dialog-body" }, body),
      errorHost,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "button", onclick: () => element.close("cancel") }, "Cancel"),
        submitButton,
      ),
    );
    const element = h("dialog", { class: `dialog ${wide ? "dialog-wide" : ""}`, "aria-label": title }, h("h2", {}, title), form);
    element.addEventListener("close", () => {
      resolve(element.returnValue === "done" ? (result ?? true) : null);
      element.remove();
    });
    document.body.append(element);
    element.showModal();
    form.querySelector("input, select, textarea")?.focus();
  });
}

export function confirmDialog(title, message, { confirmLabel = "Confirm", danger = true } = {}) {
  return new Promise((resolve) => {
    const element = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h("h2", {}, title),
      h("p", {}, message),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "button", onclick: () => element.close("cancel") }, "Cancel"),
        h("button", { type: "button", class: `button ${danger ? "button-danger" : "button-primary"}`, onclick: () => element.close("ok") }, confirmLabel),
      ),
    );
    element.addEventListener("close", () => {
      resolve(element.returnValue === "ok");
      element.remove();
    });
    document.body.append(element);
    element.showModal();
  });
}

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}

// A secret shown once (an API key, a webhook signing secret), with a copy button.
export function secretDialog(title, label, secret, note) {
  const input = h("input", { type: "text", readonly: true, value: secret, class: "mono secret-value", "aria-label": label, "data-testid": "secret" });
  const status = h("span", { class: "copy-status", role: "status" });
  const body = h(
    "div",
    {},
    h("p", { class: "notice notice-warn" }, note || "Copy it now: it is shown only this once."),
    h("div", { class: "field" }, h("span", { class: "field-label" }, label), h("div", { class: "copy-row" }, input, h("button", {
      type: "button",
      class: "button",
      onclick: async () => {
        status.textContent = (await copyText(secret, input)) ? "Copied" : "Select the text and copy it";
      },
    }, "Copy")), status),
  );
  return new Promise((resolve) => {
    const element = h(
      "dialog",
      { class: "dialog dialog-wide", "aria-label": title },
      h("h2", {}, title),
      body,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button button-primary", onclick: () => element.close("ok") }, "I have saved it")),
    );
    element.addEventListener("close", () => {
      element.remove();
      resolve();
    });
    document.body.append(element);
    element.showModal();
    input.select();
  });
}

// "Showing 1–50 of 120" and previous / next.
export function pager({ total, limit, offset }, go) {
  if (total <= limit && offset === 0) return h("p", { class: "pager-info" }, total === 1 ? "1 item" : `${total} items`);
  const last = Math.min(offset + limit, total);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("span", { class: "pager-info" }, `${total ? offset + 1 : 0}–${last} of ${total}`),
    h("button", { type: "button", class: "button button-small", disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, "‹ Previous"),
    h("button", { type: "button", class: "button button-small", disabled: last >= total, onclick: () => go(offset + limit) }, "Next ›"),
  );
}

// Fill host with a spinner while fetch() runs: its result, or null once host shows the failure
// (with retry as its "Try again").
export async function loadInto(host, loading, fetch, retry) {
  clear(host, spinner(loading));
  try {
    return await fetch();
  } catch (error) {
    clear(host, failure(error, retry));
    return null;
  }
}

// A page of items as a table (its caption for screen readers, its column heads, its rows) with
// the pager under it; go(offset) shows another page.
export function pagedTable(caption, heads, rows, page, go) {
  return [
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, heads.map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, rows),
      ),
    ),
    h("div", { class: "card-footer" }, pager(page, go)),
  ];
}

// Dates: <input type="date"> values (local days) to ISO instants and back.
export function dayStart(value) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d).toISOString();
}

export function dayAfter(value) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + 1).toISOString();
}

export function dayValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function daysAgo(days) {
  const d = new Date();
  d.setDate(d.getDate() - days);
  return d;
}

export async function downloadResponse(response, fallbackName) {
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, class: "visually-hidden" }, name);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)),
  );
}

export function percent(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return `${Number(value).toFixed(digits)} %`;
}

export function notify(message, tone = "ok") {
  toast(message, tone);
}

// A small definition list from [label, value] pairs (values may be nodes).
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? "–")]));
}

export function section(title, ...children) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("div", { class: "card-header" }, h("h2", { id }, title)), children);
}

export function sectionWith(title, actions, ...children) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("div", { class: "card-header" }, h("h2", { id }, title), actions && h("div", { class: "button-row" }, actions)),
    children,
  );
}
