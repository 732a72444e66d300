// What the sessions list and the session page share: how a session's state and cost read.

import { badge, h, money } from "/static/common/ui.js";

export const COST_TONE = { estimated: "info", provisional: "warn", final: "ok", review: "bad", waived: "muted", none: "muted" };
export const COST_LABEL = {
  estimated: "Estimated",
  provisional: "Provisional",
  final: "Final",
  review: "Needs review",
  waived: "Waived",
  none: "Free",
};
export const STATE_LABEL = {
  pending: "Starting",
  active: "Charging",
  completed: "Completed",
  failed: "Failed",
  expired: "Expired",
  cancelled: "Cancelled",
};

export function stateBadge(state) {
  const tone = { pending: "warn", active: "info", completed: "ok", failed: "bad", expired: "muted", cancelled: "muted" }[state] || "muted";
  return badge(STATE_LABEL[state] || state, tone);
}

export function costStatusBadge(status) {
  if (!status) return badge("–", "muted");
  return badge(COST_LABEL[status] || status, COST_TONE[status] || "muted");
}

export function costCell(cost) {
  if (!cost || !cost.status) return h("span", { class: "muted" }, "–");
  if (cost.status === "none") return h("span", { class: "muted" }, "Free");
  return h(
    "span",
    { class: "cost-cell" },
    cost.total ? money(cost.total, cost.currency) : h("span", { class: "muted" }, "–"),
    " ",
    cost.status !== "final" ? costStatusBadge(cost.status) : null,
  );
}
