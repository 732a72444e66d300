// Users: the tenant's operator accounts (and its drivers, read-only): add, change role, disable.

import { badge, clear, dateTime, empty, field, h, toast } from "/static/common/ui.js";
import { button, can, confirmDialog, formDialog, loadInto, pageHeader, pagedTable, scopePage, select } from "./manage-kit.js";

const LIMIT = 50;
const ROLES = [
  ["viewer", "Viewer: reads everything"],
  ["operator", "Operator: also runs stations, sessions and tokens"],
  ["admin", "Admin: also manages users, tariffs, keys and webhooks"],
];
const ROLE_TONE = { viewer: "muted", operator: "info", admin: "warn", platform_admin: "bad", driver: "ok" };
const RANK = { driver: 0, viewer: 1, operator: 2, admin: 3, platform_admin: 4 };

export default async function render(ctx) {
  ctx.title("Users");
  scopePage(ctx, "users");
  const { api, root, me } = ctx;
  const writable = can(ctx, "users:write");
  root.append(pageHeader("Users", "Who can sign in to this dashboard, and with which role.", writable ? button("Add user", add, { primary: true }) : null));
  if (!can(ctx, "users:read")) {
    root.append(empty("Your role may not see users."));
    return;
  }
  let offset = 0;
  const host = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(host);

  async function load() {
    const page = await loadInto(host, "Loading users…", () => api.get("users", { limit: LIMIT, offset }), load);
    if (!page) return;
    if (!page.items.length) {
      clear(host, empty("No users yet."));
      return;
    }
    clear(
      host,
      ...pagedTable("Users", ["Name", "E-mail", "Role", "Status", "Since", ""], page.items.map(row), page, (next) => ((offset = next), load())),
    );
  }

  function row(u) {
    const self = me.user?.id === u.id;
    const manageable = writable && !self && u.role !== "driver" && RANK[u.role] <= RANK[me.role];
    return h(
      "tr",
      { "data-user": u.email },
      h("th", { scope: "row" }, u.name || h("span", { class: "muted" }, "–"), self ? h("span", { class: "muted" }, " (you)") : null),
      h("td", {}, u.email),
      h("td", {}, badge(u.role.replace("_", " "), ROLE_TONE[u.role])),
      h("td", {}, u.disabled_at ? badge("Disabled", "bad") : badge("Active", "ok")),
      h("td", {}, dateTime(u.disabled_at || u.created_at)),
      h(
        "td",
        { class: "actions" },
        manageable
          ? h(
              "div",
              { class: "button-row" },
              button("Change role", () => changeRole(u), { small: true }),
              u.disabled_at ? button("Enable", () => setDisabled(u, false), { small: true }) : button("Disable", () => setDisabled(u, true), { small: true, danger: true }),
            )
          : null,
      ),
    );
  }

  function roleOptions() {
    return ROLES.filter(([role]) => RANK[role] <= RANK[me.role]);
  }

  async function add() {
    const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
    const name = h("input", { type: "text", name: "name", maxlength: 200, autocomplete: "off" });
    const role = select("role", roleOptions(), "operator");
    const password = h("input", { type: "text", name: "password", required: true, minlength: 10, autocomplete: "new-password", class: "mono" });
    const generate = () => {
      const bytes = crypto.getRandomValues(new Uint8Array(12));
      password.value = Array.from(bytes, (b) => "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"[b % 56]).join("");
    };
    generate();
    const done = await formDialog(
      "Add a user",
      [
        field("E-mail", email),
        field("Name", name),
        field("Role", role),
        field("First password", password, "Give it to them by a safe channel; they sign in with it."),
        h("button", { type: "button", class: "button button-small", onclick: generate }, "Generate another"),
      ],
      {
        submitLabel: "Add user",
        submit: () => api.post("users", { email: email.value.trim(), name: name.value.trim(), role: role.value, password: password.value }),
      },
    );
    if (done) {
      toast(`Added ${done.email}`, "ok");
      load();
    }
  }

  async function changeRole(u) {
    const role = select("role", roleOptions(), u.role);
    const done = await formDialog(`Role of ${u.name || u.email}`, [field("Role", role)], {
      submitLabel: "Change role",
      submit: () => api.patch(`users/${u.id}`, { role: role.value }),
    });
    if (done) {
      toast(`${done.email} is now ${done.role}`, "ok");
      load();
    }
  }

  async function setDisabled(u, disabled) {
    if (disabled && !(await confirmDialog(`Disable ${u.name || u.email}?`, "They are signed out at once and cannot sign in until enabled again.", { confirmLabel: "Disable" }))) return;
    try {
      await api.patch(`users/${u.id}`, { disabled });
      toast(`${u.email} ${disabled ? "disabled" : "enabled"}`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  await load();
}
