// /app/sessions: the driver's sessions, newest first; each opens its details or receipt.

import { clear, dateTime, duration, empty, h, kwh, money, toast } from "/static/common/ui.js";
import { pill, sessionWords } from "../util.js";

const PAGE = 20;

export default async function render(ctx) {
  ctx.title("My sessions");
  const list = h("ul", { class: "session-list", "aria-label": "Sessions" });
  const more = h("button", { class: "button button-block", type: "button", hidden: true }, "Show older sessions");
  let offset = 0;
  let total = 0;

  async function load() {
    more.disabled = true;
    const page = await ctx.api.get("sessions", { limit: PAGE, offset });
    total = page.total;
    offset += page.items.length;
    list.append(...page.items.map(item));
    more.hidden = offset >= total;
    more.disabled = false;
  }
  more.addEventListener("click", () =>
    load().catch((error) => {
      more.disabled = false;
      toast(`Could not load older sessions: ${error.message}`, "bad");
    }),
  );

  await load();
  clear(
    ctx.root,
    h("div", { class: "page-title" }, h("h1", {}, "My sessions"), total ? h("span", { class: "muted" }, `${total} in all`) : null),
    total
      ? [list, more]
      : h(
          "section",
          { class: "panel" },
          empty("No sessions yet", "Scan the QR code on a charger to start your first charge."),
          h("a", { class: "button button-primary button-block", href: "/app/" }, "Start charging"),
        ),
  );

  let reloading = null;
  ctx.subscribe("session.*", (event) => {
    // A session started, ended or was billed: re-read the list (live meter readings are left to
    // the session's own page).
    if ("powerW" in (event.data || {}) || reloading) return;
    reloading = setTimeout(async () => {
      try {
        const fresh = await ctx.api.get("sessions", { limit: Math.min(200, Math.max(PAGE, offset)) });
        total = fresh.total;
        offset = fresh.items.length;
        list.replaceChildren(...fresh.items.map(item));
        more.hidden = offset >= total;
      } catch {
        // the next event (or a reload) tries again
      } finally {
        reloading = null;
      }
    }, 300);
  });
  ctx.onCleanup(() => clearTimeout(reloading));
}

function item(s) {
  const [word, tone] = sessionWords(s.state);
  const when = s.startedAt || s.requestedAt;
  const cost = s.cost?.total ? money(s.cost.total, s.cost.currency) : s.cost?.status === "none" ? "Free" : "–";
  return h(
    "li",
    {},
    h(
      "a",
      { class: "session-item", href: `/app/sessions/${s.sessionId}`, "data-testid": `session-${s.sessionId}` },
      h(
        "span",
        { class: "session-item-main" },
        h("span", { class: "session-item-when" }, dateTime(when)),
        h("span", { class: "session-item-where" }, `${s.chargingStationId} · connector ${s.connectorId}`),
        h(
          "span",
          { class: "session-item-facts" },
          s.energyWh !== null && s.energyWh !== undefined ? kwh(s.energyWh) : "–",
          s.durationSeconds ? ` · ${duration(s.durationSeconds)}` : "",
        ),
      ),
      h("span", { class: "session-item-side" }, h("span", { class: "session-item-cost" }, cost), pill(word, tone)),
    ),
  );
}
