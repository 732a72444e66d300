// Tokens: the RFID cards and app tokens (OCPP idTags) of the tenant: find, add, block/unblock,
// token group, owner and expiry.

import { badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, formDialog, pageHeader, pagedTable, scopePage, select } from "./manage-kit.js";

const LIMIT = 50;
const STATUS_TONE = { Accepted: "ok", Blocked: "bad", Expired: "muted", Invalid: "warn" };
const STATUSES = [
  ["Accepted", "Accepted"],
  ["Blocked", "Blocked"],
  ["Expired", "Expired"],
  ["Invalid", "Invalid"],
];

export default async function render(ctx) {
  ctx.title("Tokens");
  scopePage(ctx, "tokens");
  const { api, root } = ctx;
  const writable = can(ctx, "tokens:write");
  root.append(pageHeader("Tokens", "RFID cards and app tokens that may start charging on your network.", writable ? button("Add token", () => edit(null), { primary: true }) : null));
  if (!can(ctx, "tokens:read")) {
    root.append(empty("Your role may not see tokens."));
    return;
  }
  const filters = { status: ctx.query.get("status") || "", q: ctx.query.get("q") || "", offset: 0 };
  const statusSelect = select("status", [["", "Any status"], ...STATUSES], filters.status);
  const search = h("input", { type: "search", name: "q", value: filters.q, placeholder: "e.g. 04A2B3C4", autocomplete: "off", maxlength: 20 });
  const form = h(
    "form",
    {
      class: "filters card",
      role: "search",
      "aria-label": "Find tokens",
      onsubmit: (event) => {
        event.preventDefault();
        Object.assign(filters, { status: statusSelect.value, q: search.value.trim(), offset: 0 });
        load();
      },
    },
    field("Id tag (exact)", search),
    field("Status", statusSelect),
    h("div", { class: "filters-actions" }, h("button", { type: "submit", class: "button button-primary" }, "Find"), h("button", {
      type: "button",
      class: "button",
      onclick: () => {
        search.value = statusSelect.value = "";
        Object.assign(filters, { status: "", q: "", offset: 0 });
        load();
      },
    }, "Show all")),
  );
  const host = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(form, host);

  // Owners by id, for names instead of numbers (when the role may read users).
  const owners = new Map();
  if (can(ctx, "users:read")) {
    api.get("users", { limit: 200 }).then((page) => {
      for (const user of page.items) owners.set(user.id, user);
      if (lastPage) draw(lastPage);
    }, () => {});
  }

  let lastPage = null;
  async function load() {
    clear(host, spinner("Loading tokens…"));
    try {
      if (filters.q) {
        try {
          const token = await api.get(`tokens/${encodeURIComponent(filters.q)}`);
          lastPage = { items: filters.status && token.status !== filters.status ? [] : [token], total: 1, limit: LIMIT, offset: 0 };
        } catch (error) {
          if (error.status !== 404) throw error;
          lastPage = { items: [], total: 0, limit: LIMIT, offset: 0 };
        }
      } else {
        lastPage = await api.get("tokens", { status: filters.status, limit: LIMIT, offset: filters.offset });
      }
    } catch (error) {
      clear(host, failure(error, load));
      return;
    }
    draw(lastPage);
  }

  function draw(page) {
    if (!page.items.length) {
      clear(host, empty(filters.q ? `No token “${filters.q}”.` : filters.status ? `No ${filters.status.toLowerCase()} tokens.` : "No tokens yet.", writable && !filters.q ? "Add the RFID cards your drivers use." : null));
      return;
    }
    clear(
      host,
      ...pagedTable(
        "Tokens",
        ["Id tag", "Status", "Group", "Owner", "Expires", "Parallel", "Added", ""],
        page.items.map(row),
        page,
        (next) => ((filters.offset = next), load()),
      ),
    );
  }

  function row(t) {
    const owner = t.user_id ? owners.get(t.user_id) : null;
    const blocked = t.status === "Blocked";
    return h(
      "tr",
      { "data-token": t.id_tag },
      h("th", { scope: "row", class: "mono" }, t.id_tag),
      h("td", {}, badge(t.status, STATUS_TONE[t.status])),
      h("td", {}, t.token_group || h("span", { class: "muted" }, "–")),
      h("td", {}, owner ? owner.name || owner.email : t.user_id ? `user #${t.user_id}` : h("span", { class: "muted" }, "nobody")),
      h("td", {}, t.expiry_date ? dateTime(t.expiry_date) : h("span", { class: "muted" }, "never")),
      h("td", {}, String(t.max_concurrent_transactions)),
      h("td", {}, dateTime(t.created_at)),
      h(
        "td",
        { class: "actions" },
        writable
          ? h(
              "div",
              { class: "button-row" },
              button(blocked ? "Unblock" : "Block", () => setStatus(t, blocked ? "Accepted" : "Blocked"), { small: true, danger: !blocked, testid: `toggle-${t.id_tag}` }),
              button("Edit", () => edit(t), { small: true }),
            )
          : null,
      ),
    );
  }

  async function setStatus(t, status) {
    try {
      await api.patch(`tokens/${encodeURIComponent(t.id_tag)}`, { status });
      toast(`${t.id_tag} ${status === "Blocked" ? "blocked" : "unblocked"}`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  async function edit(t) {
    const idTag = h("input", { type: "text", name: "id_tag", required: true, maxlength: 20, pattern: "[!-~]+", value: t?.id_tag || "", autocomplete: "off", class: "mono", disabled: Boolean(t) });
    const status = select("status", STATUSES, t?.status || "Accepted");
    const group = h("input", { type: "text", name: "token_group", maxlength: 40, value: t?.token_group || "", placeholder: "e.g. members" });
    const expiry = h("input", { type: "date", name: "expiry", value: t?.expiry_date ? t.expiry_date.slice(0, 10) : "" });
    const parallel = h("input", { type: "number", name: "max", min: 1, max: 100, value: t?.max_concurrent_transactions || 1 });
    const ownerSelect = select("user_id", [["", "Nobody (a shared or fleet card)"], ...[...owners.values()].map((u) => [u.id, `${u.name || u.email} (${u.role})`])], t?.user_id || "");
    const done = await formDialog(
      t ? `Edit ${t.id_tag}` : "Add a token",
      [
        field("Id tag", idTag, t ? null : "The card's UID as the charger reports it: up to 20 characters, no spaces."),
        h("div", { class: "form-grid" }, field("Status", status), field("Token group", group, "Tariffs for this group apply"), field("Expires on", expiry), field("Parallel sessions", parallel)),
        owners.size ? field("Owner", ownerSelect, "Sessions with this card belong to the owner.") : null,
      ],
      {
        submitLabel: t ? "Save" : "Add token",
        submit: () => {
          const body = {
            status: status.value,
            token_group: group.value.trim() || null,
            expiry_date: expiry.value ? new Date(`${expiry.value}T23:59:59`).toISOString() : null,
            max_concurrent_transactions: Number(parallel.value) || 1,
          };
          if (owners.size) body.user_id = ownerSelect.value ? Number(ownerSelect.value) : null;
          return t ? api.patch(`tokens/${encodeURIComponent(t.id_tag)}`, body) : api.post("tokens", { id_tag: idTag.value.trim(), ...body });
        },
      },
    );
    if (done) {
      toast(t ? `Saved ${done.id_tag}` : `Added ${done.id_tag}`, "ok");
      load();
    }
  }

  await load();
}
