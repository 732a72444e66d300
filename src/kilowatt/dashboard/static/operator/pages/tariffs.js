// Tariffs: the tenant's OCPI-shaped tariffs (a form, or the JSON itself), and where they apply.

import { badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, confirmDialog, formDialog, loadInto, pageHeader, pagedTable, scopePage, select } from "./manage-kit.js";

const TYPES = [
  ["ENERGY", "Energy (per kWh)"],
  ["TIME", "Charging time (per hour)"],
  ["PARKING_TIME", "Idle time (per hour)"],
  ["FLAT", "Session fee"],
];
const UNIT = { ENERGY: "kWh", TIME: "h", PARKING_TIME: "h idle", FLAT: "session" };
const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const LIMIT = 50;

const BLANK = {
  currency: "EUR",
  vat_percent: "19",
  timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  idle_grace_minutes: 0,
  elements: [{ price_components: [{ type: "ENERGY", price: "0.40", step_size: 1 }] }],
};

export default async function render(ctx) {
  ctx.title("Tariffs");
  scopePage(ctx, "tariffs");
  const { api, root } = ctx;
  const writable = can(ctx, "tariffs:write");
  let offset = 0;
  root.append(
    pageHeader(
      "Tariffs",
      "What charging costs. The most specific assignment wins: connector, then station, then site, then the whole network.",
      writable ? button("New tariff", () => edit(null), { primary: true }) : null,
    ),
  );
  if (!can(ctx, "tariffs:read")) {
    root.append(empty("Your role may not see tariffs."));
    return;
  }
  const host = h("div", { class: "card card-flush", "aria-live": "polite" });
  root.append(host);

  async function load() {
    const page = await loadInto(host, "Loading tariffs…", () => api.get("tariffs", { limit: LIMIT, offset }), load);
    if (!page) return;
    if (!page.items.length) {
      clear(host, empty("No tariffs yet: charging is free everywhere.", writable ? "Create a tariff, then assign it to your network, a site, a station or a connector." : null));
      return;
    }
    clear(
      host,
      ...pagedTable(
        "Tariffs",
        ["Name", "Prices (excl. VAT)", "VAT", "Version", "Changed", ""],
        page.items.map((t) => tariffRow(t)),
        page,
        (next) => ((offset = next), load()),
      ),
    );
  }

  function tariffRow(t) {
    const assignmentsHost = h("td", { colspan: 6 });
    const detail = h("tr", { class: "detail-row", hidden: true }, assignmentsHost);
    const toggle = h(
      "button",
      {
        type: "button",
        class: "button button-small",
        "aria-expanded": "false",
        onclick: () => {
          const open = detail.hidden;
          detail.hidden = !open;
          toggle.setAttribute("aria-expanded", String(open));
          if (open) assignments(t, assignmentsHost);
        },
      },
      "Where it applies",
    );
    const row = h(
      "tr",
      { "data-tariff": t.id },
      h("th", { scope: "row" }, t.name),
      h("td", {}, summary(t.tariff)),
      h("td", {}, `${t.tariff.vat_percent} %`),
      h("td", {}, `v${t.version}`),
      h("td", {}, dateTime(t.updated_at)),
      h(
        "td",
        { class: "actions" },
        h(
          "div",
          { class: "button-row" },
          toggle,
          writable ? button("Edit", () => edit(t), { small: true }) : null,
          writable ? button("Delete", () => remove(t), { small: true }) : null,
        ),
      ),
    );
    return [row, detail];
  }

  // ---- assignments ------------------------------------------------------------------------
  async function assignments(t, host) {
    clear(host, spinner("Loading assignments…"));
    let page;
    try {
      page = await api.get(`tariffs/${t.id}/assignments`, { limit: 200 });
    } catch (error) {
      clear(host, failure(error, () => assignments(t, host)));
      return;
    }
    clear(
      host,
      h(
        "div",
        { class: "assignments" },
        h("h3", {}, `Where “${t.name}” applies`),
        page.items.length
          ? h(
              "ul",
              { class: "assignment-list" },
              page.items.map((a) =>
                h(
                  "li",
                  {},
                  h("span", {}, badge(a.scope, "info"), " ", placeLabel(a), a.token_group ? h("span", { class: "muted" }, ` · only for token group “${a.token_group}”`) : null),
                  writable
                    ? button(
                        "Remove",
                        async () => {
                          try {
                            await api.del(`tariff-assignments/${a.id}`);
                            toast("Assignment removed", "ok");
                          } catch (error) {
                            toast(error.message, "bad");
                          }
                          assignments(t, host);
                        },
                        { small: true },
                      )
                    : null,
                ),
              ),
            )
          : h("p", { class: "muted" }, "Not assigned anywhere: it applies to no session yet."),
        writable ? button("Assign…", () => assign(t, host), { small: true, primary: true }) : null,
      ),
    );
  }

  async function assign(t, host) {
    const scope = select("scope", [["tenant", "The whole network"], ["site", "A site"], ["station", "A station"], ["connector", "One connector of a station"]], "tenant");
    const site = select("site", [["", "Choose a site"]], "");
    const station = select("station", [["", "Choose a station"]], "");
    const connector = h("input", { type: "number", name: "connector", min: 1, value: 1 });
    const group = h("input", { type: "text", name: "token_group", maxlength: 40, placeholder: "e.g. members" });
    const replace = h("input", { type: "checkbox", name: "replace" });
    const siteField = field("Site", site);
    const stationField = field("Station", station);
    const connectorField = field("Connector number", connector);
    const show = () => {
      siteField.hidden = scope.value !== "site";
      stationField.hidden = !["station", "connector"].includes(scope.value);
      connectorField.hidden = scope.value !== "connector";
    };
    scope.addEventListener("change", show);
    show();
    api.get("sites", { limit: 200 }).then((p) => p.items.forEach((s) => site.append(h("option", { value: s.id }, s.name))), () => {});
    api.get("stations", { limit: 200 }).then((p) => p.items.forEach((s) => station.append(h("option", { value: s.charge_point_id }, s.charge_point_id))), () => {});
    const done = await formDialog(
      `Assign “${t.name}”`,
      [
        field("Applies to", scope),
        siteField,
        stationField,
        connectorField,
        field("Token group (optional)", group, "Only tokens of this group pay this tariff there; empty: everyone."),
        h("label", { class: "check" }, replace, " Replace the tariff already assigned there"),
      ],
      {
        submitLabel: "Assign",
        submit: () => {
          const body = { token_group: group.value.trim() || null, replace: replace.checked };
          if (scope.value === "site") body.site_id = Number(site.value) || null;
          if (scope.value === "station" || scope.value === "connector") body.station_id = station.value || null;
          if (scope.value === "connector") body.connector_id = Number(connector.value) || null;
          return api.post(`tariffs/${t.id}/assignments`, body);
        },
      },
    );
    if (done) {
      toast("Tariff assigned", "ok");
      assignments(t, host);
    }
  }

  // ---- create / edit ----------------------------------------------------------------------
  async function edit(t) {
    const editor = tariffEditor(t ? t.tariff : BLANK);
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, value: t?.name || "" });
    const done = await formDialog(
      t ? `Edit “${t.name}”` : "New tariff",
      [field("Name", name, "Shown to drivers on receipts."), editor.node, t ? h("p", { class: "tile-sub" }, "Saving makes a new version; running sessions keep the version they started with.") : null],
      {
        wide: true,
        submitLabel: t ? "Save new version" : "Create tariff",
        submit: () => {
          const body = { name: name.value.trim(), tariff: editor.value() };
          return t ? api.put(`tariffs/${t.id}`, body) : api.post("tariffs", body);
        },
      },
    );
    if (done) {
      toast(t ? `Saved “${done.name}” (version ${done.version})` : `Created “${done.name}”`, "ok");
      load();
    }
  }

  async function remove(t) {
    if (!(await confirmDialog(`Delete “${t.name}”?`, "Sessions already billed keep their prices. A tariff that is assigned somewhere is unassigned too.", { confirmLabel: "Delete" }))) return;
    try {
      await api.request("DELETE", `tariffs/${t.id}`, { query: { force: true } });
      toast(`Deleted “${t.name}”`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    load();
  }

  await load();
}

function placeLabel(a) {
  if (a.scope === "tenant") return "the whole network";
  if (a.scope === "site") return `site #${a.site_id}`;
  if (a.scope === "station") return h("span", { class: "mono" }, a.station_id);
  return h("span", {}, h("span", { class: "mono" }, a.station_id), ` connector ${a.connector_id}`);
}

// "0.40 EUR/kWh + 1.00 EUR/session" for the tariff's first element, and how many more there are.
export function summary(spec) {
  const first = spec.elements?.[0];
  if (!first) return "–";
  const parts = first.price_components.map((c) => `${c.price} ${spec.currency}/${UNIT[c.type] || c.type}`);
  const more = spec.elements.length - 1;
  return h("span", {}, parts.join(" + "), more ? h("span", { class: "muted" }, ` (+${more} more element${more > 1 ? "s" : ""})`) : null);
}

// ---- the editor: a form for the usual shape, or the JSON itself ---------------------------------
function tariffEditor(initial) {
  let spec = structuredClone(initial);
  let mode = "form";
  const host = h("div", {});
  const json = h("textarea", { name: "json", rows: 18, spellcheck: "false", "aria-label": "Tariff as JSON", class: "json-editor" });
  const jsonError = h("p", { class: "form-error", role: "alert" });
  const formTab = h("button", { type: "button", role: "tab", class: "tab", "aria-selected": "true", onclick: () => switchTo("form") }, "Form");
  const jsonTab = h("button", { type: "button", role: "tab", class: "tab", "aria-selected": "false", onclick: () => switchTo("json") }, "JSON");
  let readForm = () => spec;

  function switchTo(next) {
    if (next === mode) return;
    if (next === "json") {
      spec = readForm();
      json.value = JSON.stringify(spec, null, 2);
    } else {
      try {
        spec = JSON.parse(json.value);
        jsonError.textContent = "";
      } catch (error) {
        jsonError.textContent = `Not valid JSON: ${error.message}`;
        return;
      }
    }
    mode = next;
    formTab.setAttribute("aria-selected", String(mode === "form"));
    jsonTab.setAttribute("aria-selected", String(mode === "json"));
    draw();
  }

  function draw() {
    if (mode === "json") {
      clear(host, h("p", { class: "tile-sub" }, "OCPI 2.2.1 tariff plus vat_percent and idle_grace_minutes (docs/billing.md). Prices exclude VAT; decimals as strings."), json, jsonError);
      return;
    }
    const currency = h("input", { type: "text", name: "currency", required: true, maxlength: 3, minlength: 3, value: spec.currency || "", class: "input-short", autocapitalize: "characters" });
    const vat = h("input", { type: "text", inputmode: "decimal", name: "vat_percent", required: true, value: spec.vat_percent ?? "", class: "input-short" });
    const timezone = h("input", { type: "text", name: "timezone", value: spec.timezone || "", placeholder: "Europe/Berlin" });
    const grace = h("input", { type: "number", name: "idle_grace_minutes", min: 0, value: spec.idle_grace_minutes ?? 0, class: "input-short" });
    const elements = (spec.elements || []).map((element) => elementEditor(element));
    const list = h("div", { class: "elements" }, elements.map((e) => e.node));
    const addElement = h(
      "button",
      {
        type: "button",
        class: "button button-small",
        onclick: () => {
          const e = elementEditor({ price_components: [{ type: "ENERGY", price: "0.00", step_size: 1 }] });
          elements.push(e);
          list.append(e.node);
          renumber();
        },
      },
      "Add element",
    );
    function renumber() {
      elements.forEach((e, i) => e.setIndex(i, () => {
        elements.splice(elements.indexOf(e), 1);
        e.node.remove();
        renumber();
      }));
    }
    renumber();
    readForm = () => {
      const out = {
        ...spec,
        currency: currency.value.trim().toUpperCase(),
        vat_percent: vat.value.trim(),
        idle_grace_minutes: grace.value === "" ? 0 : Number(grace.value),
        elements: elements.map((e) => e.value()),
      };
      if (timezone.value.trim()) out.timezone = timezone.value.trim();
      else delete out.timezone;
      return out;
    };
    clear(
      host,
      h("div", { class: "form-grid" }, field("Currency", currency, "ISO 4217, e.g. EUR"), field("VAT %", vat), field("Time zone", timezone, "For time-of-day prices"), field("Idle grace (min)", grace, "Before idle fees start")),
      h("h3", { class: "subhead" }, "Price elements"),
      h("p", { class: "tile-sub" }, "For each kind of price, the first element whose restrictions hold is used."),
      list,
      addElement,
    );
  }

  draw();
  return {
    node: h("div", { class: "tariff-editor" }, h("div", { class: "tabs", role: "tablist", "aria-label": "Edit as" }, formTab, jsonTab), host),
    value() {
      if (mode === "json") {
        try {
          return JSON.parse(json.value);
        } catch (error) {
          throw Object.assign(new Error(`The JSON does not parse: ${error.message}`), { problem: { title: "Invalid JSON" } });
        }
      }
      return readForm();
    },
  };
}

function elementEditor(element) {
  const components = [];
  const componentsHost = h("div", { class: "components" });
  const title = h("h4", {}, "Element");
  const removeButton = h("button", { type: "button", class: "button button-small" }, "Remove element");
  const r = element.restrictions || {};
  const startTime = h("input", { type: "time", value: r.start_time || "" });
  const endTime = h("input", { type: "time", value: r.end_time || "" });
  const days = DAYS.map((d) => h("input", { type: "checkbox", value: d, checked: (r.day_of_week || []).includes(d) }));
  const num = (key, label, hint) => {
    const input = h("input", { type: "number", step: "any", min: 0, value: r[key] ?? "", dataset: { key } });
    return { key, input, node: field(label, input, hint) };
  };
  const numbers = [num("min_kwh", "Min kWh"), num("max_kwh", "Max kWh"), num("min_power", "Min kW"), num("max_power", "Max kW"), num("min_duration", "Min duration (s)"), num("max_duration", "Max duration (s)")];
  const otherKeys = Object.keys(r).filter((k) => !["start_time", "end_time", "day_of_week", ...numbers.map((n) => n.key)].includes(k));
  const restricted = Boolean(r.start_time || r.end_time || (r.day_of_week || []).length || numbers.some((n) => r[n.key] != null));

  function addComponent(c) {
    const type = select("type", TYPES, c.type);
    const price = h("input", { type: "text", inputmode: "decimal", value: c.price ?? "", required: true, class: "input-short", "aria-label": "Price" });
    const step = h("input", { type: "number", min: 1, value: c.step_size ?? 1, class: "input-short", "aria-label": "Step size" });
    type.setAttribute("aria-label", "Price type");
    const stepLabel = h("span", { class: "muted" }, "step");
    // a session fee has no step size
    const showStep = () => (stepLabel.hidden = step.hidden = type.value === "FLAT");
    type.addEventListener("change", showStep);
    const node = h(
      "div",
      { class: "component-row" },
      type,
      h("span", { class: "muted" }, "price"),
      price,
      stepLabel,
      step,
      h(
        "button",
        {
          type: "button",
          class: "button button-small",
          "aria-label": "Remove price",
          onclick: () => {
            components.splice(components.indexOf(entry), 1);
            node.remove();
          },
        },
        "✕",
      ),
    );
    showStep();
    const entry = {
      node,
      value: () => (type.value === "FLAT" ? { type: type.value, price: price.value.trim() } : { type: type.value, price: price.value.trim(), step_size: Number(step.value) || 1 }),
    };
    components.push(entry);
    componentsHost.append(node);
  }
  (element.price_components || []).forEach(addComponent);

  const node = h(
    "fieldset",
    { class: "element" },
    h("legend", {}, title),
    componentsHost,
    h("button", { type: "button", class: "button button-small", onclick: () => addComponent({ type: "ENERGY", price: "0.00", step_size: 1 }) }, "Add price"),
    h(
      "details",
      { open: restricted },
      h("summary", {}, "Restrictions (when this element applies)"),
      h("div", { class: "form-grid" }, field("From (local time)", startTime), field("Until (local time)", endTime), numbers.map((n) => n.node)),
      h("fieldset", { class: "days" }, h("legend", {}, "Days"), DAYS.map((d, i) => h("label", { class: "check" }, days[i], ` ${d.slice(0, 3).toLowerCase()}`))),
    ),
    removeButton,
  );
  return {
    node,
    setIndex(i, onRemove) {
      title.textContent = `Element ${i + 1}`;
      removeButton.onclick = onRemove;
    },
    value() {
      const out = { price_components: components.map((c) => c.value()) };
      const restrictions = Object.fromEntries(otherKeys.map((k) => [k, r[k]]));
      if (startTime.value) restrictions.start_time = startTime.value;
      if (endTime.value) restrictions.end_time = endTime.value;
      const chosen = days.filter((d) => d.checked).map((d) => d.value);
      if (chosen.length) restrictions.day_of_week = chosen;
      for (const n of numbers) {
        if (n.input.value === "") continue;
        // decimals as strings (never floats); durations are whole seconds
        restrictions[n.key] = n.key.endsWith("_duration") ? Math.round(Number(n.input.value)) : n.input.value.trim();
      }
      if (Object.keys(restrictions).length) out.restrictions = restrictions;
      return out;
    },
  };
}
