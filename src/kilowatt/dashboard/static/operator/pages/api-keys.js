// API keys: keys for other systems to call Kilowatt's API with a chosen set of permissions. The
// key itself is shown once, when it is created.

import { ago, badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, confirmDialog, formDialog, pageHeader, scopePage, secretDialog } from "./manage-kit.js";

const GROUPS = [
  ["Stations", ["stations:read", "stations:write", "commands:send"]],
  ["Sessions", ["sessions:read", "sessions:write", "transactions:read"]],
  ["Tokens", ["tokens:read", "tokens:write"]],
  ["Billing", ["tariffs:read", "tariffs:write", "billing:read", "billing:refund"]],
  ["Accounts", ["users:read", "users:write", "api_keys:write"]],
  ["Webhooks", ["webhooks:read", "webhooks:write"]],
  ["Compatibility", ["ocpp_api"]],
];
const PRESETS = {
  "Read only": ["stations:read", "sessions:read", "transactions:read", "tokens:read", "tariffs:read", "billing:read"],
  "Back office (billing export)": ["sessions:read", "billing:read"],
};

export default async function render(ctx) {
  ctx.title("API keys");
  scopePage(ctx, "api-keys");
  const { api, root } = ctx;
  const writable = can(ctx, "api_keys:write");
  root.append(pageHeader("API keys", "Keys let other systems (a back office, a billing tool) call the API. Give each one only what it needs.", writable ? button("Create API key", create, { primary: true }) : null));
  if (!writable) {
    root.append(empty("Only administrators manage API keys."));
    return;
  }
  const host = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(host);

  async function load() {
    clear(host, spinner("Loading API keys…"));
    let keys;
    try {
      keys = await api.get("api-keys");
    } catch (error) {
      clear(host, failure(error, load));
      return;
    }
    if (!keys.length) {
      clear(host, empty("No API keys yet.", "Create one for each system that calls Kilowatt."));
      return;
    }
    keys.sort((a, b) => Boolean(a.revoked_at) - Boolean(b.revoked_at) || Date.parse(b.created_at) - Date.parse(a.created_at));
    clear(
      host,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "API keys"),
          h("thead", {}, h("tr", {}, ["Name", "Key", "Permissions", "Created", "Last used", "Status", ""].map((l) => h("th", { scope: "col" }, l)))),
          h(
            "tbody",
            {},
            keys.map((k) =>
              h(
                "tr",
                { "data-key": k.name, class: k.revoked_at ? "row-muted" : undefined },
                h("th", { scope: "row" }, k.name),
                h("td", { class: "mono" }, `${k.prefix}…`),
                h("td", {}, h("div", { class: "chips" }, k.permissions.map((p) => h("span", { class: "chip" }, p)))),
                h("td", {}, dateTime(k.created_at)),
                h("td", {}, k.last_used_at ? ago(k.last_used_at) : h("span", { class: "muted" }, "never")),
                h("td", {}, k.revoked_at ? badge("Revoked", "muted") : badge("Active", "ok")),
                h("td", { class: "actions" }, k.revoked_at ? null : button("Revoke", () => revoke(k), { small: true, danger: true })),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function create() {
    const mine = new Set(ctx.me.permissions);
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, placeholder: "e.g. ERP export" });
    const boxes = [];
    const groups = GROUPS.map(([label, permissions]) => {
      const allowed = permissions.filter((p) => mine.has(p));
      if (!allowed.length) return null;
      return h(
        "fieldset",
        { class: "permission-group" },
        h("legend", {}, label),
        allowed.map((p) => {
          const box = h("input", { type: "checkbox", value: p, name: "permissions" });
          boxes.push(box);
          return h("label", { class: "check" }, box, " ", h("span", { class: "mono" }, p));
        }),
      );
    });
    const presets = h(
      "div",
      { class: "button-row" },
      h("span", { class: "muted" }, "Presets:"),
      Object.entries(PRESETS).map(([label, permissions]) =>
        h("button", { type: "button", class: "button button-small", onclick: () => boxes.forEach((b) => (b.checked = permissions.includes(b.value))) }, label),
      ),
    );
    const created = await formDialog(
      "Create an API key",
      [field("Name", name, "Who uses it, so you know what to revoke."), h("p", { class: "field-label" }, "Permissions"), presets, h("div", { class: "permission-grid" }, groups)],
      {
        wide: true,
        submitLabel: "Create key",
        submit: () => {
          const permissions = boxes.filter((b) => b.checked).map((b) => b.value);
          if (!permissions.length) throw Object.assign(new Error("Choose at least one permission."), { problem: { title: "No permissions" } });
          return api.post("api-keys", { name: name.value.trim(), permissions });
        },
      },
    );
    if (!created) return;
    await load();
    await secretDialog(`API key “${created.name}”`, "API key", created.key, "Copy the key now: Kilowatt keeps only a hash of it and will never show it again. Send it in the X-API-Key header.");
  }

  async function revoke(k) {
    if (!(await confirmDialog(`Revoke “${k.name}”?`, "Every request with this key is refused from now on. This cannot be undone.", { confirmLabel: "Revoke" }))) return;
    try {
      await api.del(`api-keys/${k.id}`);
      toast(`Revoked “${k.name}”`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  await load();
}
