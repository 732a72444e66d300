// One session: details, timeline, energy and power charts, the cost breakdown, the receipt, and
// refunds / billing-review decisions for those allowed. Live while it runs.

import { lineChart } from "/static/common/chart.js";
import { badge, clear, dateTime, duration, empty, failure, field, h, kw, kwh, money, spinner, toast } from "/static/common/ui.js";
import { button, can, downloadResponse, facts, formDialog, pageHeader, scopePage, section, sectionWith } from "./manage-kit.js";
import { costStatusBadge, stateBadge } from "./manage-sessions-kit.js";

const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";
const SOC = "SoC";

export default async function render(ctx) {
  const id = Number(ctx.params.id);
  ctx.title(`Session #${id}`);
  scopePage(ctx, "session");
  const { api, root } = ctx;

  let session = null;
  let transaction = null;
  let receipt = null;
  const livePoints = { energy: [], power: [] };

  async function fetchAll() {
    session = await api.get(`sessions/${id}`);
    transaction = null;
    receipt = null;
    livePoints.energy = [];
    livePoints.power = [];
    const loads = [];
    if (session.transactionId && can(ctx, "transactions:read")) {
      loads.push(
        api.get(`transactions/${session.transactionId}`).then(
          (tx) => (transaction = tx),
          () => (transaction = null),
        ),
      );
    }
    if (session.state === "completed" && session.cost?.status && session.cost.status !== "estimated") {
      loads.push(
        api.get(`sessions/${id}/receipt`).then(
          (r) => (receipt = r),
          () => (receipt = null),
        ),
      );
    }
    await Promise.all(loads);
  }

  async function refresh({ quiet = false } = {}) {
    if (!quiet) clear(root, spinner("Loading the session…"));
    try {
      await fetchAll();
    } catch (error) {
      clear(
        root,
        pageHeader(`Session #${id}`),
        error.status === 404 ? empty("No such session.", "It does not exist, or it belongs to another operator.") : failure(error, () => refresh()),
        h("p", {}, h("a", { href: "/dashboard/sessions" }, "← All sessions")),
      );
      return;
    }
    draw();
  }

  // ---- drawing ----------------------------------------------------------------------------
  const liveCells = {};
  let chartsHost = null;

  function draw() {
    const s = session;
    const actions = [];
    if (can(ctx, "sessions:write") && (s.state === "active" || s.state === "pending")) {
      actions.push(button("End session", endSession, { danger: true }));
    }
    clear(
      root,
      h("p", { class: "breadcrumb" }, h("a", { href: "/dashboard/sessions" }, "Sessions"), " / ", `#${s.sessionId}`),
      pageHeader(
        h("span", {}, `Session #${s.sessionId} `, stateBadge(s.state)),
        `${s.chargingStationId} · connector ${s.connectorId} · ${s.evseId}`,
        ...actions,
      ),
      tiles(s),
      s.failureReason ? h("p", { class: "notice notice-bad", role: "alert" }, `Failed: ${s.failureReason}`) : null,
      (s.warnings || []).length ? h("div", { class: "notice notice-warn" }, h("strong", {}, "Warnings"), h("ul", {}, s.warnings.map((w) => h("li", {}, w)))) : null,
      h("div", { class: "grid grid-2" }, detailsCard(s), timelineCard(s)),
      (chartsHost = h("div", {})),
      h("div", { class: "session-money" }, costCard(s), receiptCard(s)),
    );
    drawCharts();
  }

  function tile(label, value, key, sub) {
    const valueNode = h("div", { class: "tile-value" }, value);
    if (key) liveCells[key] = valueNode;
    return h("div", { class: "tile" }, h("div", { class: "tile-label" }, label), valueNode, sub && h("div", { class: "tile-sub" }, sub));
  }

  function tiles(s) {
    const running = s.state === "active";
    return h(
      "div",
      { class: "tiles" },
      tile("Energy", kwh(s.energyWh), "energy"),
      tile(running ? "Power now" : "Duration", running ? kw(s.powerW) : duration(s.durationSeconds), running ? "power" : "duration"),
      running ? tile("State of charge", s.stateOfChargePercent != null ? `${Math.round(s.stateOfChargePercent)} %` : "–", "soc") : null,
      tile(
        s.cost?.status === "estimated" ? "Cost so far" : "Cost",
        s.cost?.status === "none" ? "Free" : money(s.cost?.total, s.cost?.currency),
        "cost",
        s.cost?.status ? costStatusBadge(s.cost.status) : null,
      ),
    );
  }

  function detailsCard(s) {
    return section(
      "Details",
      facts([
        ["Station", h("a", { href: `/dashboard/stations/${encodeURIComponent(s.chargingStationId)}` }, s.chargingStationId)],
        ["Connector", String(s.connectorId)],
        ["EVSE id", h("span", { class: "mono" }, s.evseId)],
        ["Card", h("span", { class: "mono" }, s.chargeTagId)],
        ["Started by", { app: "Driver app", api: "API / operator", rfid: "Card at the charger" }[s.origin] || s.origin],
        ["Transaction", s.transactionId ? `#${s.transactionId}` : "–"],
        ["Meter start", s.meterStartWh != null ? `${s.meterStartWh.toLocaleString()} Wh` : "–"],
        ["Meter stop", s.meterStopWh != null ? `${s.meterStopWh.toLocaleString()} Wh` : "–"],
        s.ocppStartStatus ? ["Charger's start answer", s.ocppStartStatus] : null,
        s.ocppStopStatus ? ["Charger's stop answer", s.ocppStopStatus] : null,
        ["Reconciled", s.reconciled ? "Yes: the charger's own stop reading" : "No"],
      ]),
    );
  }

  function timelineCard(s) {
    const steps = [
      ["Requested", s.requestedAt],
      ["Charging started", s.startedAt],
      ["End requested", s.endRequestedAt],
      [s.state === "completed" ? "Ended" : STATE_END[s.state] || "Ended", s.endedAt],
    ];
    if (s.lastReadingAt && s.state === "active") steps.push(["Last meter reading", s.lastReadingAt]);
    const done = steps.filter(([, at]) => at);
    if (!s.endedAt && ["failed", "expired", "cancelled"].includes(s.state)) done.push([STATE_END[s.state], null]);
    if (s.cost?.billedAt) done.push([`Billed (${s.cost.status})`, s.cost.billedAt]);
    done.sort((a, b) => (a[1] ? Date.parse(a[1]) : Infinity) - (b[1] ? Date.parse(b[1]) : Infinity));
    return section(
      "Timeline",
      h(
        "ol",
        { class: "timeline" },
        done.map(([label, at]) => h("li", {}, h("span", { class: "timeline-label" }, label), h("time", { datetime: at || "" }, at ? dateTime(at) : ""))),
        s.state === "active" ? h("li", { class: "timeline-now" }, h("span", { class: "timeline-label" }, "Charging now"), h("span", { class: "live-badge" }, "live")) : null,
      ),
    );
  }

  // ---- charts -----------------------------------------------------------------------------
  function series() {
    const energy = [];
    const power = [];
    const soc = [];
    if (transaction) {
      const start = transaction.meter_start_wh;
      energy.push([transaction.start_timestamp, 0]);
      const powerAt = new Map();
      for (const mv of transaction.meter_values) {
        if (mv.value === null) continue;
        const value = Number(mv.value);
        if (mv.measurand === ENERGY && !mv.phase && (!mv.location || mv.location === "Outlet")) energy.push([mv.timestamp, Math.max(0, value - start)]);
        else if (mv.measurand === POWER && (!mv.location || mv.location === "Outlet")) {
          // one value per instant: the total, or the phases summed
          const entry = powerAt.get(mv.timestamp) || { total: null, phases: 0 };
          if (!mv.phase || mv.phase === "N") entry.total = value;
          else if (/^L\d$/.test(mv.phase)) entry.phases += value;
          powerAt.set(mv.timestamp, entry);
        } else if (mv.measurand === SOC) soc.push([mv.timestamp, value]);
      }
      for (const [at, entry] of powerAt) power.push([at, entry.total ?? entry.phases]);
      if (transaction.meter_stop_wh != null && transaction.stop_timestamp) energy.push([transaction.stop_timestamp, Math.max(0, transaction.meter_stop_wh - start)]);
    }
    energy.push(...livePoints.energy);
    power.push(...livePoints.power);
    const byTime = (a, b) => Date.parse(a[0]) - Date.parse(b[0]);
    return { energy: energy.sort(byTime), power: power.sort(byTime), soc: soc.sort(byTime) };
  }

  function drawCharts() {
    if (!chartsHost) return;
    if (!session.transactionId) {
      clear(chartsHost);
      return;
    }
    if (!can(ctx, "transactions:read")) {
      clear(chartsHost, section("Energy and power", h("p", { class: "muted" }, "Your role may not read the charger's meter values.")));
      return;
    }
    const { energy, power } = series();
    clear(
      chartsHost,
      h(
        "div",
        { class: "grid grid-2" },
        section("Energy delivered", lineChart({ title: "Energy delivered (kWh)", series: [{ name: "Energy", points: energy.map(([t, v]) => [t, v / 1000]) }], format: (v) => `${formatNumber(v)} kWh` })),
        section(
          "Power",
          power.length
            ? lineChart({ title: "Charging power (kW)", series: [{ name: "Power", points: power.map(([t, v]) => [t, v / 1000]) }], format: (v) => `${formatNumber(v)} kW` })
            : h("p", { class: "chart-empty" }, "The charger reported no power readings."),
        ),
      ),
    );
  }

  // ---- cost -------------------------------------------------------------------------------
  function costCard(s) {
    const cost = s.cost || {};
    const b = cost.breakdown;
    const actions = [];
    if (can(ctx, "billing:refund") && cost.status === "review") actions.push(button("Decide review…", reviewSession, { primary: true }));
    const payment = cost.payment;
    const refundable = payment && Number(payment.captured || 0) - Number(payment.refunded || 0) > 0;
    if (can(ctx, "billing:refund") && refundable) actions.push(button("Refund…", refundSession));
    const body = [];
    body.push(
      h(
        "p",
        { class: "cost-status" },
        costStatusBadge(cost.status),
        " ",
        COST_NOTE[cost.status] || "",
        cost.tariff ? h("span", { class: "muted" }, ` Tariff: ${cost.tariff.name} (version ${cost.tariff.version}).`) : null,
      ),
    );
    if (cost.status === "review" && cost.reviewReason) body.push(h("p", { class: "notice notice-bad" }, h("strong", {}, "Why: "), cost.reviewReason));
    if (b) {
      const cur = b.currency;
      body.push(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "cost-table" },
            h("caption", { class: "visually-hidden" }, "Cost breakdown"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Item"), h("th", { scope: "col", class: "num" }, "Quantity"), h("th", { scope: "col", class: "num" }, "Unit price"), h("th", { scope: "col", class: "num" }, "Amount"))),
            h(
              "tbody",
              {},
              b.lines.length
                ? b.lines.map((line) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, line.description),
                      h("td", { class: "num" }, line.unit === "h" ? duration(Number(line.quantity) * 3600) : `${formatNumber(Number(line.quantity))} ${line.unit}`),
                      h("td", { class: "num" }, `${money(line.unitPrice, cur)} / ${line.unit}`),
                      h("td", { class: "num" }, money(line.amount, cur)),
                    ),
                  )
                : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "Nothing charged.")),
            ),
            h(
              "tfoot",
              {},
              h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Subtotal (excl. VAT)"), h("td", { class: "num" }, money(b.subtotal, cur))),
              h("tr", {}, h("th", { scope: "row", colspan: 3 }, `VAT ${b.vatPercent} %`), h("td", { class: "num" }, money(b.tax, cur))),
              h("tr", { class: "total-row" }, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", { class: "num", "data-testid": "cost-total" }, money(b.total, cur))),
            ),
          ),
        ),
      );
    } else if (cost.status !== "none") {
      body.push(h("p", { class: "muted" }, s.state === "pending" ? "The cost is known once charging starts." : "No cost has been computed."));
    }
    if (payment) {
      body.push(
        h("h3", { class: "subhead" }, "Payment"),
        facts([
          ["State", badge(payment.state, PAYMENT_TONE[payment.state] || "muted")],
          ["Provider", payment.provider],
          payment.held != null ? ["Held", money(payment.held, payment.currency)] : null,
          ["Captured", money(payment.captured, payment.currency)],
          ["Refunded", money(payment.refunded, payment.currency)],
          payment.balanceDue != null && Number(payment.balanceDue) !== 0 ? ["Balance due", money(payment.balanceDue, payment.currency)] : null,
          payment.lastError ? ["Last error", payment.lastError] : null,
        ]),
      );
    }
    return sectionWith("Cost", actions.length ? actions : null, body);
  }

  function receiptCard(s) {
    if (!receipt) {
      return section(
        "Receipt",
        h("p", { class: "muted" }, s.state === "completed" ? "No receipt for this session yet." : "The receipt is issued when the session has ended."),
      );
    }
    const r = receipt;
    return sectionWith(
      "Receipt",
      [button("Download printable receipt", downloadReceipt)],
      facts([
        ["Receipt no.", h("span", { class: "mono", "data-testid": "receipt-number" }, r.receiptNumber)],
        ["Issued", dateTime(r.issuedAt)],
        ["Operator", r.operator?.name],
        r.location ? ["Location", [r.location.name, r.location.address].filter(Boolean).join(", ")] : null,
        ["Card", h("span", { class: "mono" }, r.session.chargeTag)],
        ["Energy", kwh(r.session.energyWh)],
        ["Duration", duration(r.session.durationSeconds)],
        r.tariff ? ["Price", r.tariff.price?.text || r.tariff.name] : null,
        ["Total", r.cost ? money(r.cost.total, r.cost.currency) : "–"],
      ]),
    );
  }

  // ---- actions ----------------------------------------------------------------------------
  async function downloadReceipt() {
    try {
      const response = await api.request("GET", `sessions/${id}/receipt.html`, { raw: true, headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await downloadResponse(response, `receipt-${receipt.receiptNumber}.html`);
    } catch (error) {
      toast(`Could not download the receipt: ${error.message}`, "bad");
    }
  }

  async function endSession() {
    try {
      const answer = await api.post(`sessions/${id}/end`);
      toast(answer.message || "Session ended", "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    refresh({ quiet: true });
  }

  async function refundSession() {
    const payment = session.cost.payment;
    const max = (Number(payment.captured || 0) - Number(payment.refunded || 0)).toFixed(String(payment.captured).split(".")[1]?.length ?? 2);
    const amount = h("input", { type: "text", inputmode: "decimal", name: "amount", required: true, pattern: "\\d+(\\.\\d+)?", value: max });
    const reason = h("textarea", { name: "reason", maxlength: 500, rows: 3 });
    const key = crypto.randomUUID();
    const done = await formDialog(
      "Refund",
      [h("p", {}, `Up to ${money(max, payment.currency)} can be refunded.`), field(`Amount (${payment.currency})`, amount), field("Reason", reason, "Shown in the payment record.")],
      {
        submitLabel: "Refund",
        danger: true,
        submit: () =>
          api.request("POST", `sessions/${id}/refunds`, {
            body: { amount: amount.value.trim(), reason: reason.value.trim() || null },
            headers: { "Idempotency-Key": key },
          }),
      },
    );
    if (done) {
      toast(`Refund ${done.status}: ${money(done.amount, payment.currency)}`, "ok");
      refresh({ quiet: true });
    }
  }

  async function reviewSession() {
    const decision = h(
      "select",
      { name: "decision" },
      h("option", { value: "bill" }, "Bill the energy as the charger read it"),
      h("option", { value: "correct" }, "Bill a corrected energy"),
      h("option", { value: "waive" }, "Waive: charge nothing"),
    );
    const energy = h("input", { type: "number", name: "energy", min: 0, step: "0.001", inputmode: "decimal" });
    const energyField = field("Corrected energy (kWh)", energy, "Spread evenly over the session.");
    energyField.hidden = true;
    decision.addEventListener("change", () => (energyField.hidden = decision.value !== "correct"));
    const note = h("textarea", { name: "note", maxlength: 500, rows: 3 });
    const done = await formDialog(
      "Decide the billing review",
      [
        h("p", {}, session.cost.reviewReason || "The charger reported implausible data."),
        field("Decision", decision),
        energyField,
        field("Note", note),
      ],
      {
        submitLabel: "Decide",
        submit: () => {
          const body = { decision: decision.value === "waive" ? "waive" : "bill", note: note.value.trim() || null };
          if (decision.value === "correct") body.energyWh = Math.round(Number(energy.value) * 1000);
          return api.post(`sessions/${id}/billing-review`, body);
        },
      },
    );
    if (done) {
      toast("Decision recorded", "ok");
      refresh({ quiet: true });
    }
  }

  // ---- live -------------------------------------------------------------------------------
  let redrawTimer = null;
  let chartTimer = null;
  ctx.onCleanup(() => {
    clearTimeout(redrawTimer);
    clearTimeout(chartTimer);
  });
  ctx.subscribe("session.*", (event) => {
    if (event.data?.sessionId !== id || !session) return;
    if (event.type === "session.updated" && session.state === "active") {
      const d = event.data;
      if (d.energyWh != null) {
        session.energyWh = d.energyWh;
        livePoints.energy.push([event.at, d.energyWh]);
        if (liveCells.energy) liveCells.energy.textContent = kwh(d.energyWh);
      }
      if (d.powerW != null) {
        session.powerW = d.powerW;
        livePoints.power.push([event.at, d.powerW]);
        if (liveCells.power) liveCells.power.textContent = kw(d.powerW);
      }
      if (d.socPercent != null && liveCells.soc) liveCells.soc.textContent = `${Math.round(d.socPercent)} %`;
      if (d.cost?.total && liveCells.cost) liveCells.cost.textContent = money(d.cost.total, d.cost.currency);
      clearTimeout(chartTimer);
      chartTimer = setTimeout(drawCharts, 300);
      return;
    }
    clearTimeout(redrawTimer);
    redrawTimer = setTimeout(() => refresh({ quiet: true }), 300);
  });
  ctx.subscribe("payment.updated", (event) => {
    if (event.data?.sessionId === id) {
      clearTimeout(redrawTimer);
      redrawTimer = setTimeout(() => refresh({ quiet: true }), 300);
    }
  });
  ctx.onResync(() => refresh({ quiet: true }));

  await refresh();
}

const STATE_END = { failed: "Failed", expired: "Expired: the charger never started", cancelled: "Cancelled before charging" };
const COST_NOTE = {
  estimated: "The cost so far; it is final when the session ends.",
  provisional: "Billed from the charger's last reading; its own stop reading will confirm it. Not captured yet.",
  final: "Billed from the charger's own stop reading.",
  review: "The charger reported implausible data: nothing is billed until someone decides.",
  waived: "An operator decided not to bill this session.",
  none: "No tariff applied: charging was free.",
};
const PAYMENT_TONE = { captured: "ok", held: "info", capture_due: "info", charge_due: "info", review: "warn", release_due: "muted", released: "muted", unpaid: "bad", declined: "bad", expired: "muted" };

function formatNumber(value) {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
}
