// /app/start?evse=<EVSE id>: the page a charger's QR code opens. The connector's status (live
// from the event stream when signed in, refreshed politely when not), its price, and Start.

import { clear, h } from "/static/common/ui.js";
import { appTagId, connectorWords, evseForm, facts, liveBadge, panel, pill, priceRows, startProblem } from "../util.js";
import { createLive } from "/static/common/live.js";

const POLL_MS = 15000;

export default async function render(ctx) {
  const evse = (ctx.query.get("evse") || "").trim();
  if (!evse) return askForEvse(ctx);
  ctx.title("Start charging");

  let connector;
  try {
    connector = await ctx.api.get(`connectors/${encodeURIComponent(evse)}`);
  } catch (error) {
    if (error.status === 404) return unknownEvse(ctx, evse);
    throw error;
  }

  const statusBody = h("div", { class: "status-body" });
  const actionBody = h("div", { class: "action-body" });
  let starting = false;
  let problem = null; // why the last start failed, shown until the next try
  let openSession = null;

  const sameTenant = () => !ctx.me || !connector.operator || connector.operator.tenantId === ctx.me.tenant_id;
  const watching = Boolean(ctx.me) && sameTenant();

  // ---- live status: the stream when signed in (same operator), else a polite poll ------------
  let live = null;
  if (watching) {
    live = createLive(ctx.api, {
      query: {
        types: "connector.status,station.connected,station.disconnected",
        watch: `${connector.chargingStationId}/${connector.connectorId}`,
      },
    });
    ctx.onCleanup(() => live.stop());
  }
  const badge = liveBadge(live);
  ctx.onCleanup(badge.stop);

  let refreshing = null;
  async function refresh() {
    refreshing ??= (async () => {
      try {
        connector = await ctx.api.get(`connectors/${encodeURIComponent(evse)}`);
        paint();
      } catch (error) {
        if (error.status === 404) unknownEvse(ctx, evse);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }
  if (live) {
    live.on("*", () => refresh());
    live.onResync(() => refresh());
    live.start();
  } else {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
    ctx.onCleanup(() => clearInterval(timer));
  }

  let hasCards = true;
  if (ctx.me && sameTenant()) {
    try {
      hasCards = (await ctx.api.get("me/tokens", { limit: 1 })).total > 0;
      const mine = await ctx.api.get("sessions", { limit: 10 });
      openSession = mine.items.find(
        (s) => (s.state === "pending" || s.state === "active") && s.evseId === connector.evseId,
      );
    } catch {
      openSession = null;
    }
  }

  // ---- painting ------------------------------------------------------------------------------
  function paint() {
    const [headline, tone] = connectorWords(connector);
    clear(
      statusBody,
      h("p", { class: "status-line" }, pill(headline, tone)),
      h("p", { class: "status-message", "data-testid": "connector-message" }, connector.message),
    );
    if (!starting) paintAction();
  }

  function paintAction() {
    const here = ctx.signInUrl(location.pathname + location.search, {
      tenant: connector.operator?.slug || "",
      operator: connector.operator?.name || "",
    });
    if (!ctx.me) {
      clear(
        actionBody,
        h("p", {}, "Sign in or create an account to start charging. You will come straight back here."),
        h("div", { class: "stack" }, [
          h("a", { class: "button button-primary button-block", href: here }, "Sign in to charge"),
          h("a", { class: "button button-block", href: `${here}&mode=register` }, "Create an account"),
        ]),
      );
      return;
    }
    if (!sameTenant()) {
      clear(
        actionBody,
        h(
          "div",
          { class: "notice notice-warn", role: "note" },
          h("p", { class: "notice-title" }, `This charger is run by ${connector.operator.name}`),
          h("p", {}, "Your account is with another operator. Sign out, then create an account with this operator to charge here."),
        ),
        h("button", { class: "button button-block", type: "button", onclick: () => ctx.api.logout() }, "Sign out"),
      );
      return;
    }
    if (openSession) {
      clear(
        actionBody,
        h("p", {}, "You have a session on this connector."),
        h("a", { class: "button button-primary button-block", href: `/app/sessions/${openSession.sessionId}` }, "Show my session"),
      );
      return;
    }
    const start = h(
      "button",
      { class: "button button-primary button-block button-huge", type: "button", disabled: !connector.canStart, onclick: () => begin(start) },
      problem ? "Try again" : "Start charging",
    );
    clear(
      actionBody,
      problem &&
        h(
          "div",
          { class: "notice notice-bad", role: "alert" },
          h("p", { class: "notice-title" }, problem[0]),
          problem[1] && h("p", {}, problem[1]),
          problem[2],
        ),
      start,
      !connector.canStart && h("p", { class: "hint center" }, connector.message),
      connector.canStart && !hasCards && h("p", { class: "hint center" }, "You have no charge card yet: starting adds an app tag to your account (see Cards)."),
    );
  }

  async function begin(button) {
    starting = true;
    problem = null;
    button.disabled = true;
    clear(button, h("span", { class: "spinner spinner-light", "aria-hidden": "true" }), "Asking the charger…");
    const note = h("p", { class: "hint center", role: "status" }, "Sending your request to the charger. This takes a few seconds.");
    button.after(note);
    try {
      await ensureCard(ctx);
      hasCards = true;
      const session = await ctx.api.post("sessions", { connector: connector.evseId });
      ctx.navigate(`/sessions/${session.sessionId}`);
    } catch (error) {
      starting = false;
      problem = startProblem(error);
      if (error.status === 402 || error.status === 403) {
        problem.push(h("a", { href: "/app/cards" }, "Check your cards and payment"));
      }
      paintAction();
      refresh();
    }
  }

  // ---- the page ------------------------------------------------------------------------------
  const where = connector.site?.name || `Charger ${connector.chargingStationId}`;
  clear(
    ctx.root,
    h(
      "section",
      { class: "panel hero" },
      connector.operator && h("p", { class: "eyebrow" }, connector.operator.name),
      h("h1", {}, where),
      connector.site?.address && h("p", { class: "muted" }, connector.site.address),
      h(
        "p",
        { class: "evse" },
        `Connector ${connector.connectorId} · `,
        h("span", { class: "mono", "data-testid": "evse-id" }, connector.evseId),
      ),
    ),
    panel(h("div", { class: "panel-head" }, h("h2", {}, "Status"), badge.element), statusBody),
    panel(
      h("div", { class: "panel-head" }, h("h2", {}, "Price"), connector.price?.tariffName && h("span", { class: "muted small" }, connector.price.tariffName)),
      h("div", { "data-testid": "price" }, facts(priceRows(connector.price))),
      connector.price &&
        h("p", { class: "hint" }, `Prices include ${connector.price.vatPercent ?? 0} % VAT. You pay for what you use; the receipt itemises it.`),
    ),
    h("section", { class: "panel action", "aria-label": "Start" }, actionBody),
  );
  paint();
}

// A driver needs a charge tag to start; one without any gets an app tag made for them.
async function ensureCard(ctx) {
  const cards = await ctx.api.get("me/tokens", { limit: 200 });
  if (cards.items.length) return;
  await ctx.api.post("me/tokens", { id_tag: appTagId() });
}

function askForEvse(ctx) {
  ctx.title("Start charging");
  clear(
    ctx.root,
    panel(
      h("h1", {}, "Start charging"),
      h("p", {}, "Scan the QR code on the charger with your phone's camera, or type the charger's ID printed next to it."),
      evseForm(ctx.navigate, "Charger ID (EVSE ID)"),
    ),
  );
}

function unknownEvse(ctx, evse) {
  ctx.title("Charger not found");
  clear(
    ctx.root,
    panel(
      h(
        "div",
        { class: "notice notice-bad", role: "alert" },
        h("h1", { class: "notice-title" }, "Charger not found"),
        h("p", {}, "We could not find a charger with the ID ", h("span", { class: "mono" }, evse), "."),
        h("p", {}, "Check the ID printed on the charger, or scan its QR code again."),
      ),
      h("a", { class: "button button-primary button-block", href: "/app/start" }, "Enter a charger ID"),
    ),
  );
}
