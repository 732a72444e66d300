// /app/sessions/<id>: one session, as its state asks — waiting for the charger (pending), live
// progress (active), the receipt (completed), or why it did not start (failed/expired/cancelled).
// Updated from the driver's session.* events; a resync (or a reconnect) re-reads the session.

import { clear, dateTime, duration, h, kw, kwh, money, spinner, toast } from "/static/common/ui.js";
import { facts, liveBadge, panel, pill, sessionWords } from "../util.js";
import { renderReceipt } from "../receipt.js";

export default async function render(ctx) {
  const id = Number(ctx.params.id);
  ctx.title("Session");
  let session;
  try {
    session = await ctx.api.get(`sessions/${id}`);
  } catch (error) {
    if (error.status !== 404) throw error;
    ctx.title("Session not found");
    clear(
      ctx.root,
      panel(
        h("div", { class: "notice notice-bad", role: "alert" }, h("h1", { class: "notice-title" }, "Session not found"), h("p", {}, "This session does not exist or is not yours.")),
        h("a", { class: "button button-primary button-block", href: "/app/sessions" }, "My sessions"),
      ),
    );
    return;
  }
  let view = null; // the painted view: {state, update(session)}
  let ending = false;

  const badge = liveBadge(ctx.live);
  ctx.onCleanup(badge.stop);

  async function reload() {
    try {
      session = await ctx.api.get(`sessions/${id}`);
      paint();
    } catch (error) {
      if (error.status !== 401) toast(`Could not refresh: ${error.message}`, "bad");
    }
  }

  function paint() {
    if (view && view.state === session.state && view.update) {
      view.update(session);
      return;
    }
    view = null;
    if (session.state === "pending") view = pending(ctx, session, { badge, cancel });
    else if (session.state === "active") view = active(ctx, session, { badge, stop });
    else if (session.state === "completed") view = completed(ctx, session);
    else view = failed(ctx, session);
  }

  // session.updated while charging: the reading and the estimate, no round trip.
  ctx.subscribe("session.*", (event) => {
    const data = event.data || {};
    if (data.sessionId !== id) return;
    const progress = "powerW" in data || "readingAt" in data;
    if (event.type === "session.updated" && progress && session.state === "active" && data.state === "active") {
      session = {
        ...session,
        energyWh: data.energyWh ?? session.energyWh,
        powerW: data.powerW ?? session.powerW,
        stateOfChargePercent: data.socPercent ?? session.stateOfChargePercent,
        lastReadingAt: data.readingAt ?? event.at,
        cost: data.cost?.total ? { ...session.cost, ...data.cost } : session.cost,
      };
      paint();
      return;
    }
    reload();
  });
  ctx.onResync(() => reload());
  // Reconnected after a gap the stream could not replay: re-read.
  if (ctx.live) {
    let wasLive = ctx.live.state === "live";
    const stopWatching = ctx.live.onState((state) => {
      if (state === "live" && !wasLive) reload();
      wasLive = state === "live";
    });
    ctx.onCleanup(stopWatching);
  }
  // A safety net while the session is open and the stream is down.
  const poll = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    if (!["pending", "active"].includes(session.state)) return;
    if (ctx.live?.state === "live") return;
    reload();
  }, 10000);
  ctx.onCleanup(() => clearInterval(poll));

  async function cancel(button) {
    if (ending) return;
    ending = true;
    button.disabled = true;
    button.textContent = "Cancelling…";
    try {
      session = await ctx.api.post(`sessions/${id}/end`);
    } catch (error) {
      toast(error.message, "bad");
    }
    ending = false;
    await reload();
  }

  async function stop(button, note) {
    if (ending) return;
    ending = true;
    button.disabled = true;
    clear(button, h("span", { class: "spinner spinner-light", "aria-hidden": "true" }), "Stopping…");
    note.textContent = "Asking the charger to stop. This takes a few seconds.";
    try {
      await ctx.api.post(`sessions/${id}/end`);
    } catch (error) {
      if (error.status !== 409) {
        ending = false;
        button.disabled = false;
        button.textContent = "Stop charging";
        note.textContent = `Could not stop: ${error.message}. Try again, or stop at the charger.`;
        return;
      }
    }
    ending = false;
    await reload();
  }

  paint();
}

function header(ctx, session, extra) {
  const [word, tone] = sessionWords(session.state);
  return h(
    "div",
    { class: "session-head" },
    h(
      "div",
      {},
      h("p", { class: "eyebrow" }, session.chargingStationId),
      h("p", { class: "small muted" }, `Connector ${session.connectorId} · `, h("span", { class: "mono" }, session.evseId)),
    ),
    h("div", { class: "session-head-side" }, pill(word, tone), extra),
  );
}

// ---- pending: the charger accepted; waiting for its StartTransaction --------------------------
function pending(ctx, session, { badge, cancel }) {
  ctx.title("Starting…");
  const waited = h("span", {}, "");
  const tick = () => {
    waited.textContent = duration((Date.now() - Date.parse(session.requestedAt)) / 1000);
  };
  tick();
  const timer = setInterval(tick, 1000);
  ctx.onCleanup(() => clearInterval(timer));
  const cancelButton = h("button", { class: "button button-block", type: "button", onclick: () => cancel(cancelButton) }, "Cancel");
  clear(
    ctx.root,
    panel(
      header(ctx, session, badge.element),
      h("div", { class: "waiting", role: "status" }, h("span", { class: "spinner big", "aria-hidden": "true" }), h("h1", {}, "Waiting for the charger")),
      h(
        "ol",
        { class: "steps" },
        h("li", { class: "done" }, "The charger accepted your request."),
        h("li", { class: "current" }, "Plug the cable into your car if you haven't yet. Charging begins when the charger confirms."),
      ),
      h("p", { class: "muted center" }, "Waiting for ", waited, ". If the charger does not start within a few minutes, the request lapses and nothing is billed."),
      cancelButton,
    ),
  );
  return { state: "pending" };
}

// ---- active: live progress --------------------------------------------------------------------
function active(ctx, session, { badge, stop }) {
  ctx.title("Charging");
  const energy = h("span", { class: "big-number", "data-testid": "energy" });
  const power = h("span", { class: "tile-value", "data-testid": "power" });
  const elapsed = h("span", { class: "tile-value", "data-testid": "duration" });
  const cost = h("span", { class: "tile-value", "data-testid": "cost" });
  const costNote = h("span", { class: "tile-sub" }, "estimated so far");
  const socValue = h("span", { class: "tile-value", "data-testid": "soc" });
  const socFill = h("span", { class: "soc-fill" });
  const socBar = h("span", { class: "soc-bar", role: "presentation" }, socFill);
  const socTile = h("div", { class: "tile soc-tile" }, h("span", { class: "tile-label" }, "Battery"), socValue, socBar);
  const reading = h("p", { class: "hint center" });
  const note = h("p", { class: "hint center", role: "status" });
  const stopButton = h("button", { class: "button button-danger button-block button-huge", type: "button", onclick: () => stop(stopButton, note) }, "Stop charging");
  let current = session;

  function update(next) {
    current = next;
    energy.textContent = kwh(next.energyWh ?? 0, 2);
    power.textContent = next.powerW === null || next.powerW === undefined ? "–" : kw(next.powerW, 1);
    const total = next.cost?.total;
    cost.textContent = total ? money(total, next.cost.currency) : next.cost?.status === "none" ? "Free" : "–";
    costNote.textContent = next.cost?.status === "none" ? "no tariff applies" : "estimated so far";
    const soc = next.stateOfChargePercent;
    socTile.hidden = soc === null || soc === undefined;
    if (!socTile.hidden) {
      socValue.textContent = `${Math.round(soc)} %`;
      socFill.style.width = `${Math.max(0, Math.min(100, soc))}%`;
    }
    reading.textContent = next.lastReadingAt ? `Last reading from the charger at ${new Date(next.lastReadingAt).toLocaleTimeString()}` : "Waiting for the first reading from the charger.";
    tickClock();
  }
  function tickClock() {
    elapsed.textContent = current.startedAt ? duration((Date.now() - Date.parse(current.startedAt)) / 1000) : "–";
  }
  const timer = setInterval(tickClock, 1000);
  ctx.onCleanup(() => clearInterval(timer));

  clear(
    ctx.root,
    panel(
      header(ctx, session, badge.element),
      h("h1", { class: "visually-hidden" }, "Charging"),
      h("div", { class: "energy-hero", "aria-live": "polite" }, h("span", { class: "tile-label" }, "Energy charged"), energy),
      h(
        "div",
        { class: "tiles tiles-2" },
        h("div", { class: "tile" }, h("span", { class: "tile-label" }, "Power"), power),
        h("div", { class: "tile" }, h("span", { class: "tile-label" }, "Duration"), elapsed),
        h("div", { class: "tile" }, h("span", { class: "tile-label" }, "Cost"), cost, costNote),
        socTile,
      ),
      reading,
      stopButton,
      note,
    ),
  );
  update(session);
  return { state: "active", update };
}

// ---- completed: the receipt -------------------------------------------------------------------
function completed(ctx, session) {
  ctx.title("Receipt");
  const body = h("div", {}, spinner("Loading your receipt…"));
  clear(
    ctx.root,
    panel(
      header(ctx, session),
      h("h1", {}, "Charging complete"),
      h("p", { class: "muted" }, `Ended ${dateTime(session.endedAt)}. You can unplug your car.`),
    ),
    body,
  );
  let lastKey = null;
  async function load() {
    try {
      const receipt = await ctx.api.get(`sessions/${session.sessionId}/receipt`);
      const key = JSON.stringify([receipt.status, receipt.cost?.total, receipt.session.energyWh]);
      if (key === lastKey) return;
      lastKey = key;
      clear(body, renderReceipt(ctx, receipt));
    } catch (error) {
      clear(body, panel(h("p", { class: "state-title" }, "No receipt yet"), h("p", { class: "muted" }, error.message)));
    }
  }
  load();
  return { state: "completed", update: () => load() };
}

// ---- failed / expired / cancelled -------------------------------------------------------------
const FAILED_TEXT = {
  failed: "Charging did not start",
  expired: "The charger never started",
  cancelled: "Start cancelled",
};

function failed(ctx, session) {
  ctx.title("Did not start");
  const reason =
    session.state === "expired"
      ? "The charger accepted the request but did not start charging in time. Nothing was billed."
      : session.state === "cancelled"
        ? "You cancelled before the charger started. Nothing was billed."
        : failureText(session);
  clear(
    ctx.root,
    panel(
      header(ctx, session),
      h(
        "div",
        { class: "notice notice-bad", role: "alert" },
        h("h1", { class: "notice-title" }, FAILED_TEXT[session.state] || "Charging did not start"),
        h("p", {}, reason),
        session.state === "failed" && h("p", {}, "Nothing was billed."),
      ),
      facts([
        ["Requested", dateTime(session.requestedAt)],
        session.ocppStartStatus && ["Charger's answer", session.ocppStartStatus],
      ]),
      h("div", { class: "stack" }, [
        h("a", { class: "button button-primary button-block", href: `/app/start?evse=${encodeURIComponent(session.evseId)}` }, "Try again"),
        h("a", { class: "button button-block", href: "/app/sessions" }, "My sessions"),
      ]),
    ),
  );
  return { state: session.state };
}

function failureText(session) {
  const status = session.ocppStartStatus;
  if (status === "Rejected") return "The charger refused to start. Check that the cable is plugged in and the connector is free, then try again.";
  if (status === "Timeout") return "The charger did not answer in time. Please try again in a moment.";
  if (status === "Offline") return "The charger is offline right now, so charging could not start.";
  if (session.failureReason?.startsWith("payment")) return `Your payment card was not accepted (${session.failureReason.replace(/^payment:\s*/, "")}).`;
  return session.failureReason || "The charger could not start charging.";
}
