// Webhooks: subscriptions that POST Kilowatt's events to another system (Standard Webhooks,
// signed), with test-fire, the delivery log, redelivery and secret rotation.

import { ago, badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, confirmDialog, formDialog, pageHeader, pager, scopePage, secretDialog, select } from "./manage-kit.js";

const EVENT_TYPES = [
  ["*", "Everything"],
  ["session.*", "Sessions: created, started, updated, ended, failed"],
  ["payment.updated", "Payments"],
  ["connector.status", "Connector status"],
  ["station.*", "Stations: connected, disconnected, booted"],
  ["command.*", "Commands: sent, finished"],
  ["token.*", "Tokens: authorized, refused"],
  ["transaction.stopped", "Transactions stopped"],
  ["meter_values", "Meter values (many)"],
];
const STATE_TONE = { delivered: "ok", failed: "bad", pending: "warn", sending: "info" };

export default async function render(ctx) {
  ctx.title("Webhooks");
  scopePage(ctx, "webhooks");
  const { api, root } = ctx;
  const writable = can(ctx, "webhooks:write");
  root.append(
    pageHeader(
      "Webhooks",
      "Kilowatt POSTs events to your systems as they happen, signed with the subscription's secret (Standard Webhooks).",
      writable ? button("New webhook", () => edit(null), { primary: true }) : null,
    ),
  );
  if (!can(ctx, "webhooks:read")) {
    root.append(empty("Your role may not see webhooks."));
    return;
  }
  const listHost = h("div", { "aria-live": "polite" });
  const logHost = h("div", {});
  root.append(listHost, logHost);
  let selected = Number(ctx.query.get("webhook")) || null;

  async function load() {
    clear(listHost, spinner("Loading webhooks…"));
    let page;
    try {
      page = await api.get("webhooks", { limit: 200 });
    } catch (error) {
      clear(listHost, failure(error, load));
      return;
    }
    if (!page.items.length) {
      clear(listHost, h("div", { class: "card" }, empty("No webhooks yet.", writable ? "Create one to send sessions, payments or faults to your back office." : null)));
      clear(logHost);
      return;
    }
    if (!page.items.some((w) => w.id === selected)) selected = page.items[0].id;
    clear(listHost, h("div", { class: "webhook-list" }, page.items.map(card)));
    deliveries(page.items.find((w) => w.id === selected));
  }

  function card(w) {
    const status = w.active ? badge("Active", "ok") : badge(w.disabled_reason ? "Switched off" : "Paused", w.disabled_reason ? "bad" : "muted");
    return h(
      "article",
      { class: `card webhook ${w.id === selected ? "webhook-selected" : ""}`, "aria-labelledby": `webhook-${w.id}`, "data-webhook": w.url },
      h(
        "div",
        { class: "card-header" },
        h("div", {}, h("h2", { id: `webhook-${w.id}`, class: "webhook-url mono" }, w.url), w.description ? h("p", { class: "tile-sub" }, w.description) : null),
        status,
      ),
      h("div", { class: "chips" }, w.event_types.map((t) => h("span", { class: "chip mono" }, t))),
      w.disabled_reason ? h("p", { class: "notice notice-bad" }, `Switched off: ${w.disabled_reason}`) : null,
      w.consecutive_failures ? h("p", { class: "tile-sub" }, `${w.consecutive_failures} deliveries in a row failed`) : null,
      h(
        "div",
        { class: "button-row webhook-actions" },
        button("Delivery log", () => {
          selected = w.id;
          load();
        }, { small: true, primary: w.id === selected }),
        writable ? button("Send test event", () => test(w), { small: true }) : null,
        writable ? button("Edit", () => edit(w), { small: true }) : null,
        writable ? button(w.active ? "Pause" : "Switch on", () => setActive(w, !w.active), { small: true }) : null,
        writable ? button("Rotate secret", () => rotate(w), { small: true }) : null,
        writable ? button("Delete", () => remove(w), { small: true, danger: true }) : null,
      ),
    );
  }

  // ---- the delivery log -------------------------------------------------------------------
  let logState = "";
  let logOffset = 0;
  async function deliveries(w) {
    if (!w) return clear(logHost);
    const stateSelect = select("state", [["", "All"], ["delivered", "Delivered"], ["failed", "Failed"], ["pending", "Pending"], ["sending", "Sending"]], logState);
    stateSelect.addEventListener("change", () => {
      logState = stateSelect.value;
      logOffset = 0;
      deliveries(w);
    });
    const body = h("div", {}, spinner("Loading deliveries…"));
    clear(
      logHost,
      h(
        "section",
        { class: "card card-flush", "aria-labelledby": "delivery-log" },
        h(
          "div",
          { class: "card-header card-pad" },
          h("h2", { id: "delivery-log" }, "Delivery log ", h("span", { class: "muted mono" }, w.url)),
          h("div", { class: "button-row" }, field("State", stateSelect), button("Refresh", () => deliveries(w), { small: true })),
        ),
        body,
      ),
    );
    let page;
    try {
      page = await api.get(`webhooks/${w.id}/deliveries`, { state: logState, limit: 25, offset: logOffset });
    } catch (error) {
      clear(body, failure(error, () => deliveries(w)));
      return;
    }
    if (!page.items.length) {
      clear(body, empty("No deliveries yet.", writable ? "Send a test event to check that your receiver answers." : null));
      return;
    }
    clear(
      body,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "data-testid": "deliveries" },
          h("caption", { class: "visually-hidden" }, "Deliveries"),
          h("thead", {}, h("tr", {}, ["When", "Event", "State", "Answer", "Attempts", ""].map((l) => h("th", { scope: "col" }, l)))),
          h("tbody", {}, page.items.map((d) => deliveryRow(w, d))),
        ),
      ),
      h("div", { class: "card-footer" }, pager(page, (next) => ((logOffset = next), deliveries(w)))),
    );
  }

  function deliveryRow(w, d) {
    const answer = d.status_code ? `HTTP ${d.status_code}` : d.error || (d.state === "pending" ? "waiting" : "–");
    const attempts = h(
      "details",
      {},
      h("summary", {}, `${d.attempts.length}`),
      h(
        "ol",
        { class: "attempts" },
        d.attempts.map((a) => h("li", {}, `${dateTime(a.at)} · ${a.status_code ? `HTTP ${a.status_code}` : "no answer"} · ${a.duration_ms} ms${a.error ? ` · ${a.error}` : ""}`)),
      ),
      h("pre", { class: "payload" }, JSON.stringify(d.payload, null, 2)),
    );
    return h(
      "tr",
      { "data-delivery": d.id },
      h("td", {}, h("time", { datetime: d.created_at, title: dateTime(d.created_at) }, ago(d.created_at))),
      h("td", { class: "mono" }, d.event_type),
      h("td", {}, badge(d.state, STATE_TONE[d.state]), d.next_attempt_at && d.state === "pending" ? h("span", { class: "tile-sub" }, ` next ${dateTime(d.next_attempt_at)}`) : null),
      h("td", {}, answer, d.duration_ms != null ? h("span", { class: "muted" }, ` · ${d.duration_ms} ms`) : null),
      h("td", {}, attempts),
      h("td", { class: "actions" }, writable && d.state === "failed" ? button("Retry", () => retry(w, d), { small: true }) : null),
    );
  }

  // ---- actions ----------------------------------------------------------------------------
  async function test(w) {
    try {
      const d = await api.post(`webhooks/${w.id}/test`);
      toast(d.state === "delivered" ? `Test delivered (HTTP ${d.status_code})` : `Test failed: ${d.error || `HTTP ${d.status_code}`}`, d.state === "delivered" ? "ok" : "bad");
    } catch (error) {
      toast(error.message, "bad");
    }
    selected = w.id;
    load();
  }

  async function retry(w, d) {
    try {
      const again = await api.post(`webhooks/deliveries/${d.id}/retry`);
      toast(again.state === "delivered" ? "Delivered" : `Failed again: ${again.error || `HTTP ${again.status_code}`}`, again.state === "delivered" ? "ok" : "bad");
    } catch (error) {
      toast(error.message, "bad");
    }
    deliveries(w);
  }

  async function setActive(w, active) {
    try {
      await api.patch(`webhooks/${w.id}`, { active });
      toast(active ? "Switched on" : "Paused", "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  async function rotate(w) {
    if (!(await confirmDialog("Rotate the signing secret?", "The old secret stops working at once: put the new one into your receiver promptly. Deliveries refused meanwhile are retried.", { confirmLabel: "Rotate" }))) return;
    try {
      const rotated = await api.post(`webhooks/${w.id}/rotate-secret`);
      await secretDialog("New signing secret", "Signing secret", rotated.secret);
    } catch (error) {
      toast(error.message, "bad");
    }
  }

  async function remove(w) {
    if (!(await confirmDialog("Delete this webhook?", `Nothing more is sent to ${w.url}, and its delivery log is deleted.`, { confirmLabel: "Delete" }))) return;
    try {
      await api.del(`webhooks/${w.id}`);
      toast("Webhook deleted", "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  async function edit(w) {
    const url = h("input", { type: "url", name: "url", required: true, maxlength: 2000, value: w?.url || "", placeholder: "https://erp.example.com/kilowatt/events" });
    const description = h("input", { type: "text", name: "description", maxlength: 500, value: w?.description || "" });
    const current = new Set(w?.event_types || ["session.*"]);
    const known = new Set(EVENT_TYPES.map(([t]) => t));
    const boxes = EVENT_TYPES.map(([type, label]) => {
      const box = h("input", { type: "checkbox", value: type, checked: current.has(type) });
      return { box, node: h("label", { class: "check" }, box, " ", h("span", { class: "mono" }, type), h("span", { class: "muted" }, ` ${label}`)) };
    });
    const other = h("input", { type: "text", name: "other", value: [...current].filter((t) => !known.has(t)).join(", "), placeholder: "e.g. security.connection_replaced" });
    const done = await formDialog(
      w ? "Edit webhook" : "New webhook",
      [
        field("URL", url, "https; plain http only to localhost. No credentials in the URL."),
        field("Description", description),
        h("fieldset", { class: "event-types" }, h("legend", {}, "Events"), boxes.map((b) => b.node)),
        field("Other event types", other, "Comma-separated: exact types or prefix.* (docs/live.md)."),
      ],
      {
        wide: true,
        submitLabel: w ? "Save" : "Create webhook",
        submit: () => {
          const types = [
            ...boxes.filter((b) => b.box.checked).map((b) => b.box.value),
            ...other.value.split(",").map((t) => t.trim()).filter(Boolean),
          ];
          if (!types.length) throw Object.assign(new Error("Choose at least one event type."), { problem: { title: "No events" } });
          const body = { url: url.value.trim(), event_types: types, description: description.value.trim() || null };
          return w ? api.patch(`webhooks/${w.id}`, body) : api.post("webhooks", body);
        },
      },
    );
    if (!done) return;
    selected = done.id;
    await load();
    if (!w) await secretDialog("Webhook created", "Signing secret", done.secret, "Copy the signing secret now: your receiver verifies every request with it, and it is shown only this once.");
    else toast("Webhook saved", "ok");
  }

  ctx.onResync(() => load());
  await load();
}
