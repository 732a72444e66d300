// A session's receipt (GET /api/v1/sessions/{id}/receipt) as the app shows it: the total, the
// itemised lines with VAT, the details, and the printable receipt.html (which needs the bearer
// token, so it is fetched and saved as a file rather than linked).

import { dateTime, duration, h, kwh, money, toast } from "/static/common/ui.js";
import { facts, panel, pill, priceRows, unitPrice } from "./util.js";

const PAYMENT_WORDS = {
  held: ["Amount reserved on your card", "info"],
  capture_due: ["Being charged to your card", "info"],
  charge_due: ["Being charged to your card", "info"],
  captured: ["Paid", "ok"],
  unpaid: ["Unpaid", "bad"],
  review: ["On hold for review", "warn"],
  release_due: ["Reservation being released", "muted"],
  released: ["Nothing charged", "muted"],
  declined: ["Card declined", "bad"],
  expired: ["Reservation expired", "muted"],
};

const STATUS_NOTES = {
  final: null,
  provisional: ["Provisional", "warn", "Billed from the charger's last reading; the charger's own final reading will confirm it."],
  review: ["Under review", "warn", "The charger reported implausible data, so nothing has been billed yet. The operator will check it."],
  waived: ["Waived", "ok", "The operator decided not to bill this session."],
  none: ["Free", "ok", "No tariff applied: this session was free of charge."],
};

const UNIT_WORDS = { kWh: "kWh", h: "h", hours: "h", session: "" };

function quantity(line) {
  const unit = UNIT_WORDS[line.unit] ?? line.unit ?? "";
  return `${line.quantity}${unit ? ` ${unit}` : ""}`;
}

export function renderReceipt(ctx, receipt) {
  const cost = receipt.cost;
  const currency = cost?.currency || receipt.tariff?.price?.currency;
  const note = STATUS_NOTES[receipt.status];
  const s = receipt.session;
  const totalText = cost ? money(cost.total, currency) : receipt.status === "none" ? money("0.00", currency || "EUR") : "–";

  const lines = cost
    ? h(
        "table",
        { class: "receipt-lines" },
        h("caption", { class: "visually-hidden" }, "Itemised cost"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Item"), h("th", { scope: "col", class: "num" }, "Amount"))),
        h(
          "tbody",
          {},
          cost.lines.map((line) =>
            h(
              "tr",
              {},
              h("td", {}, h("span", { class: "line-name" }, line.description), h("span", { class: "line-detail" }, `${quantity(line)} × ${unitPrice(line.unitPrice, currency)}`)),
              h("td", { class: "num" }, money(line.amount, currency)),
            ),
          ),
        ),
        h(
          "tfoot",
          {},
          h("tr", {}, h("th", { scope: "row" }, "Subtotal (excl. VAT)"), h("td", { class: "num" }, money(cost.subtotal, currency))),
          h("tr", {}, h("th", { scope: "row" }, `VAT ${cost.vatPercent} %`), h("td", { class: "num" }, money(cost.tax, currency))),
          h("tr", { class: "grand" }, h("th", { scope: "row" }, "Total"), h("td", { class: "num", "data-testid": "receipt-total-line" }, money(cost.total, currency))),
        ),
      )
    : null;

  const payment = receipt.payment && receipt.payment.provider !== "none" ? receipt.payment : null;
  const paymentWords = payment && (PAYMENT_WORDS[payment.state] || [payment.state, "muted"]);
  const download = h(
    "button",
    {
      class: "button button-block",
      type: "button",
      onclick: () => downloadHtml(ctx, receipt, download),
    },
    "Download printable receipt",
  );

  return h(
    "div",
    { class: "receipt", "data-testid": "receipt" },
    panel(
      h("div", { class: "receipt-total" }, h("span", { class: "tile-label" }, payment?.state === "captured" ? "Total paid" : "Total"), h("span", { class: "big-number", "data-testid": "receipt-total" }, totalText)),
      note && h("div", { class: `notice notice-${note[1]}`, role: "note" }, h("p", { class: "notice-title" }, note[0]), h("p", {}, note[2])),
      receipt.reviewReason && h("p", { class: "muted" }, receipt.reviewReason),
      h(
        "div",
        { class: "tiles tiles-2" },
        h("div", { class: "tile" }, h("span", { class: "tile-label" }, "Energy"), h("span", { class: "tile-value", "data-testid": "receipt-energy" }, kwh(s.energyWh, 2))),
        h("div", { class: "tile" }, h("span", { class: "tile-label" }, "Duration"), h("span", { class: "tile-value" }, duration(s.durationSeconds))),
      ),
    ),
    lines && panel(h("h2", {}, "Itemised"), lines),
    panel(
      h("h2", {}, "Details"),
      facts([
        ["Receipt", h("span", { class: "mono" }, receipt.receiptNumber)],
        ["Operator", receipt.operator?.name],
        receipt.location && ["Location", [receipt.location.name, receipt.location.address].filter(Boolean).join(", ")],
        ["Charger", `${receipt.station.chargingStationId}, connector ${receipt.station.connectorId}`],
        ["EVSE ID", h("span", { class: "mono" }, receipt.station.evseId)],
        ["Started", dateTime(s.startedAt)],
        ["Ended", dateTime(s.endedAt)],
        ["Meter", s.meterStartWh !== null && s.meterStopWh !== null ? `${kwh(s.meterStartWh, 3)} → ${kwh(s.meterStopWh, 3)}` : "–"],
        ["Charge tag", h("span", { class: "mono" }, s.chargeTag)],
        receipt.tariff && [
          "Tariff",
          [receipt.tariff.name, ...priceRows(receipt.tariff.price).map(([name, value]) => `${name}: ${value}`)].join(" · "),
        ],
        payment && ["Payment", pill(paymentWords[0], paymentWords[1])],
        payment?.balanceDue && Number(payment.balanceDue) !== 0 && ["Balance due", money(payment.balanceDue, payment.currency)],
        receipt.issuedAt && ["Issued", dateTime(receipt.issuedAt)],
      ]),
    ),
    h(
      "div",
      { class: "stack receipt-actions" },
      h("button", { class: "button button-block", type: "button", onclick: () => window.print() }, "Print"),
      download,
      h("a", { class: "button button-primary button-block", href: "/app/" }, "Done"),
    ),
  );
}

async function downloadHtml(ctx, receipt, button) {
  button.disabled = true;
  try {
    const response = await ctx.api.request("GET", `sessions/${receipt.session.sessionId}/receipt.html`, {
      raw: true,
      headers: { Accept: "text/html" },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const blob = new Blob([await response.text()], { type: "text/html" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `receipt-${receipt.receiptNumber}.html` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    toast(`Could not download the receipt: ${error.message}`, "bad");
  } finally {
    button.disabled = false;
  }
}
