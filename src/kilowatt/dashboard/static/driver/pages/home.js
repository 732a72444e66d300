// /app/: the start of the app — a session in progress, or how to start one (scan or type an ID).

import { clear, h, kwh, money } from "/static/common/ui.js";
import { evseForm, panel, pill, sessionWords } from "../util.js";

export default async function render(ctx) {
  ctx.title("Charge");
  let open = [];
  if (ctx.me) {
    const page = await ctx.api.get("sessions", { limit: 10 });
    open = page.items.filter((s) => s.state === "pending" || s.state === "active");
  }
  const name = ctx.me?.user?.name?.split(" ")[0];
  clear(
    ctx.root,
    open.map((s) => {
      const [word, tone] = sessionWords(s.state);
      return h(
        "a",
        { class: "panel panel-link current-session", href: `/app/sessions/${s.sessionId}` },
        h("div", { class: "panel-head" }, h("h2", {}, s.state === "active" ? "You are charging" : "Your charge is starting"), pill(word, tone)),
        h("p", { class: "muted" }, `${s.chargingStationId} · connector ${s.connectorId}`),
        s.state === "active" &&
          h("p", { class: "big-number small-big" }, kwh(s.energyWh ?? 0), s.cost?.total ? h("span", { class: "muted" }, ` · ${money(s.cost.total, s.cost.currency)}`) : null),
        h("span", { class: "link-more" }, "Show the session →"),
      );
    }),
    panel(
      h("h1", {}, name ? `Hello, ${name}` : "Charge your car"),
      h("p", {}, "Scan the QR code on the charger with your phone's camera. The charger's page opens here, with its status and price."),
      evseForm(ctx.navigate, "Or type the charger ID (EVSE ID)"),
    ),
    !ctx.me &&
      panel(
        h("h2", {}, "Your account"),
        h("p", { class: "muted" }, "Sign in to see your sessions, receipts and charge cards."),
        h(
          "div",
          { class: "stack" },
          h("a", { class: "button button-block", href: ctx.signInUrl("/app/") }, "Sign in"),
          h("a", { class: "button button-block", href: ctx.signInUrl("/app/", { mode: "register" }) }, "Create an account"),
        ),
      ),
  );
}
