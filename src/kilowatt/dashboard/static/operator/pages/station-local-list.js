// The station page's "Local list" tab (docs/local-lists.md): the station's local authorization
// list as Kilowatt keeps it (acknowledged version and entries, what is pending, the last
// outcome), its token group (stations:write), "Synchronise now" (commands:send) and the entries
// (tokens:read). station.js mounts it and calls load() when the tab is first opened;
// station.local_list and token.changed events keep it current after that.

import { badge, clear, dateTime, failure, field, h, spinner, table } from "/static/common/ui.js";
import { formDialog, problemBox } from "./manage-kit.js";
import { can, card, debounce, relative } from "./network-kit.js";

const STATES = {
  unknown: ["Never synchronised", "muted"],
  in_sync: ["In sync", "ok"],
  stale: ["Changes waiting", "warn"],
  failed: ["Failed", "bad"],
  unsupported: ["Not supported", "muted"],
};
const OUTCOME_TONES = { Accepted: "ok", InSync: "ok", Offline: "warn", Timeout: "warn" };
const outcomeBadge = (outcome) => badge(outcome, OUTCOME_TONES[outcome] || "bad");
const PENDING_TONES = { add: "info", update: "info", delete: "warn" };

// opts: {cp, panel: the tab panel to fill}
export function stationLocalList(ctx, { cp, panel }) {
  const path = `stations/${encodeURIComponent(cp)}/local-list`;
  const mayWrite = can(ctx.me, "stations:write");
  const maySync = can(ctx.me, "commands:send");
  const mayReadTokens = can(ctx.me, "tokens:read");
  let loaded = false;
  let view = null;
  let entries = [];

  const summary = h("div", { "data-testid": "local-list" }, spinner("Loading the local list…"));
  const entriesBox = h("div", { "data-testid": "local-list-entries" });
  const search = h("input", { type: "search", placeholder: "Filter id tags", "aria-label": "Filter id tags", oninput: () => paintEntries() });
  panel.append(
    card(
      "Local authorization list",
      [h("p", { class: "tile-sub" }, "The cards the station can authorize by itself (offline, or at once online), built from this tenant's tokens and kept in step automatically."), summary],
      {
        id: "local-list",
        actions: mayWrite && h("button", { type: "button", class: "button button-small", onclick: () => editGroup() }, "Change token group"),
      },
    ),
    maySync ? card("Synchronise", syncForm(), { id: "local-list-sync" }) : h("p", { class: "nw-note" }, "Your role can see this station's local list but not synchronise it."),
    mayReadTokens ? card("Entries", [h("div", { class: "nw-toolbar" }, search), entriesBox], { id: "local-list-entries" }) : null,
  );

  async function load() {
    try {
      const [fresh, list] = await Promise.all([ctx.api.get(path), mayReadTokens ? ctx.api.get(`${path}/entries`) : []]);
      view = fresh;
      entries = list;
      paint();
      paintEntries();
    } catch (error) {
      clear(summary, failure(error, load));
    }
  }
  const reload = debounce(() => loaded && load(), 300);

  function paint() {
    const v = view;
    const [stateText, tone] = STATES[v.state] || [v.state, "muted"];
    const fact = (label, value, testid) => [h("dt", {}, label), h("dd", { "data-testid": testid }, value ?? "–")];
    const pending = v.pending.upserts || v.pending.deletes ? `${v.pending.upserts} to add or change, ${v.pending.deletes} to remove` : "nothing";
    const limits = [v.local_auth_list_max_length != null && `at most ${v.local_auth_list_max_length} entries`, v.send_local_list_max_length != null && `${v.send_local_list_max_length} per message`].filter(Boolean).join(", ");
    clear(
      summary,
      h(
        "dl",
        { class: "facts" },
        fact("State", badge(stateText, tone), "local-list-state"),
        fact("Version", v.version ? String(v.version) : "none acknowledged", "local-list-version"),
        fact("Entries on the station", `${v.entries} (${v.desired_entries} wanted)`, "local-list-size"),
        fact("Station's reported version", v.station_version == null ? "not asked yet" : String(v.station_version)),
        fact("Pending", pending, "local-list-pending"),
        fact("Left out", v.left_out ? `${v.left_out} token${v.left_out === 1 ? "" : "s"}: the list would exceed LocalAuthListMaxLength` : "none"),
        fact("Token group", v.token_group ? h("code", {}, v.token_group) : "every token", "local-list-group"),
        fact("Station's limits", limits || "not known (read its configuration)"),
        fact("Last attempt", v.last_attempt_at ? relative(v.last_attempt_at) : "never"),
        fact("Last synchronised", v.last_sync_at ? relative(v.last_sync_at) : "never"),
        fact("Last outcome", v.last_outcome ? outcomeBadge(v.last_outcome) : "–", "local-list-outcome"),
        fact("Last error", v.last_error),
      ),
    );
  }

  function paintEntries() {
    if (!mayReadTokens || view === null) return;
    const filter = search.value.trim().toLowerCase();
    const rows = entries.filter((e) => !filter || e.id_tag.toLowerCase().includes(filter) || (e.parent_id_tag || "").toLowerCase().includes(filter));
    clear(
      entriesBox,
      table(
        [
          { label: "Id tag", cell: (e) => h("code", {}, e.id_tag) },
          { label: "Status", cell: (e) => badge(e.status) },
          { label: "Expiry", cell: (e) => (e.expiry_date ? dateTime(e.expiry_date) : "–") },
          { label: "Parent", cell: (e) => (e.parent_id_tag ? h("code", {}, e.parent_id_tag) : "–") },
          { label: "On station", cell: (e) => (e.on_station ? badge("Yes", "ok") : badge("No", "muted")) },
          { label: "Pending", cell: (e) => (e.pending ? badge(e.pending, PENDING_TONES[e.pending]) : "–") },
        ],
        rows,
        {
          empty: entries.length ? "No id tag matches the filter." : "No entries: the tenant has no tokens for this list.",
          caption: `${entries.length} id tag${entries.length === 1 ? "" : "s"} on the list or due to be`,
        },
      ),
    );
  }

  function syncForm() {
    const choice = (value, label, checked) => h("label", { class: "check" }, h("input", { type: "radio", name: "update_type", value, checked }), ` ${label}`);
    const outcome = h("div", { role: "status", "data-testid": "sync-outcome" });
    const button = h("button", { type: "submit", class: "button button-primary" }, "Synchronise now");
    const form = h(
      "form",
      {
        "aria-label": "Synchronise the local list",
        onsubmit: async (event) => {
          event.preventDefault();
          const type = form.elements.update_type.value;
          button.disabled = true;
          clear(outcome, h("span", { class: "spinner", "aria-hidden": "true" }), " Synchronising…");
          try {
            const result = await ctx.api.post(`${path}/sync`, { update_type: type || null });
            view = result.local_list;
            paint();
            clear(
              outcome,
              outcomeBadge(result.outcome),
              result.update_type ? ` ${result.update_type} update` : "",
              ` · ${result.messages} SendLocalList message${result.messages === 1 ? "" : "s"} · version ${result.local_list.version}`,
            );
            reload(); // the entries' "on station" and "pending"
          } catch (error) {
            clear(outcome, problemBox(error));
          } finally {
            button.disabled = false;
          }
        },
      },
      h(
        "fieldset",
        { class: "st-choice" },
        h("legend", {}, "Update type"),
        choice("", "Automatic: Differential when the station's version matches, else Full", true),
        choice("Full", "Full: replace the whole list"),
        choice("Differential", "Differential: only the changes"),
      ),
      h("div", { class: "button-row" }, button),
      outcome,
    );
    return form;
  }

  async function editGroup() {
    const input = h("input", { type: "text", name: "token_group", maxlength: "40", autocomplete: "off", value: view?.token_group || "" });
    const done = await formDialog(`Token group of ${cp}'s list`, [field("Token group", input, "Only the tokens of this group go on the list. Leave it empty for every token of the tenant.")], {
      submitLabel: "Save",
      submit: () => ctx.api.patch(path, { token_group: input.value.trim() || null }),
    });
    if (done) {
      view = done;
      paint();
      reload(); // the station is resynchronised in the background; its event follows
    }
  }

  ctx.subscribe("station.local_list", (event) => event.chargingStationId === cp && reload());
  ctx.subscribe("token.changed", () => reload());
  ctx.onResync(() => reload());
  ctx.onCleanup(() => reload.cancel());

  return {
    load() {
      loaded = true;
      return load();
    },
  };
}
