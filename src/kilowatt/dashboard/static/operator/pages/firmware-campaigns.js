// The campaigns of the Firmware page: UpdateFirmware to chosen stations, a site's or all of them;
// each campaign's counts per state, and every station's progress, re-read on firmware.status.

import { badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, formDialog, pager, select } from "./manage-kit.js";
import { fetchAll, stationHref } from "./network-kit.js";

const LIMIT = 10;
// An update's state: its tone, and the part of the progress bar it counts in.
const UPDATE_TONE = {
  scheduled: "muted",
  sending: "info",
  sent: "info",
  Downloading: "info",
  Downloaded: "info",
  Installing: "info",
  Installed: "ok",
  DownloadFailed: "bad",
  InstallationFailed: "bad",
  error: "bad",
  offline: "warn",
  cancelled: "muted",
};
const FINAL = new Set(["Installed", "DownloadFailed", "InstallationFailed", "error", "cancelled"]);
const CAMPAIGN_TONE = { open: "info", completed: "ok", closed: "muted" };

const updateBadge = (state) => badge(state, UPDATE_TONE[state] || "muted");

// "2 of 3 done" with a bar of the states (ok, failed, in progress, waiting) and the counts.
function progress(counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const done = Object.entries(counts).reduce((sum, [state, n]) => sum + (FINAL.has(state) ? n : 0), 0);
  const part = (tone) => Object.entries(counts).reduce((sum, [state, n]) => sum + ((UPDATE_TONE[state] || "muted") === tone ? n : 0), 0);
  const bar = h(
    "span",
    { class: "fw-bar", "aria-hidden": "true" },
    ["ok", "bad", "info", "warn", "muted"].map((tone) => {
      const n = part(tone);
      if (!n) return null;
      const segment = h("span", { class: `fw-seg fw-seg-${tone}` });
      segment.style.width = `${(100 * n) / total}%`; // a CSSOM property: the CSP forbids style attributes
      return segment;
    }),
  );
  return h(
    "div",
    { class: "fw-progress", "data-testid": "campaign-progress" },
    h("span", { class: "fw-done" }, `${done} of ${total} done`),
    bar,
    h(
      "span",
      { class: "fw-counts" },
      Object.entries(counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([state, n]) => h("span", { class: "fw-count" }, updateBadge(state), ` ${n}`)),
    ),
  );
}

// A paced campaign (when the API has pacing: batch size, maintenance window): who waits, why.
function pacing(c) {
  const notes = [];
  if (c.batch_size) notes.push(`${c.batch_size} at a time`);
  if (c.window_start && c.window_end) notes.push(`window ${c.window_start.slice(0, 5)}–${c.window_end.slice(0, 5)} ${c.window_timezone || "UTC"}`);
  if (c.queued) notes.push(`${c.queued} queued`);
  if (c.waiting_for_window) notes.push(`${c.waiting_for_window} waiting for the window${c.window_opens_at ? ` (opens ${dateTime(c.window_opens_at)})` : ""}`);
  return notes.length ? h("p", { class: "tile-sub fw-pacing" }, notes.join(" · ")) : null;
}

export function campaignsSection(ctx, { files, stations }) {
  const { api } = ctx;
  const manage = can(ctx, "stations:write");
  const host = h("div", { "aria-live": "polite" });
  const element = h(
    "section",
    { class: "card card-flush", "aria-labelledby": "fw-campaigns-title" },
    h("div", { class: "card-header card-pad" }, h("h2", { id: "fw-campaigns-title" }, "Campaigns")),
    host,
  );
  let offset = 0;
  const shown = new Map(); // campaign id -> {row, detail, open, refresh}

  async function load() {
    let page;
    try {
      page = await api.get("firmware/campaigns", { limit: LIMIT, offset });
    } catch (error) {
      clear(host, failure(error, load));
      return;
    }
    const open = new Set([...shown].filter(([, entry]) => entry.open).map(([id]) => id));
    shown.clear();
    if (!page.items.length) {
      clear(host, empty("No campaigns yet.", manage ? "Roll a firmware file out with “New campaign”." : null));
      return;
    }
    const tbody = h("tbody", {});
    for (const c of page.items) tbody.append(...rows(c, open.has(c.id)));
    clear(
      host,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "fw-campaigns" },
          h("caption", { class: "visually-hidden" }, "Firmware campaigns"),
          h("thead", {}, h("tr", {}, ["Campaign", "State", "Progress", "Download from", "Created", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
          tbody,
        ),
      ),
      h("div", { class: "card-footer" }, pager(page, (next) => ((offset = next), load()))),
    );
    for (const id of open) shown.get(id)?.refresh();
  }

  // A campaign's row and, under it, the row with its stations (filled when opened).
  function rows(c, open) {
    const detailId = `campaign-${c.id}-stations`;
    const detail = h("tr", { class: "detail-row", id: detailId, hidden: !open }, h("td", { colspan: 6 }, spinner("Loading stations…")));
    const toggle = button(open ? "Hide stations" : "Stations", () => setOpen(!entry.open), { small: true });
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-controls", detailId);
    toggle.setAttribute("aria-label", `Stations of campaign ${c.id}`);
    const row = h("tr", { "data-campaign": c.id });
    const entry = { row, detail, open, refresh: coalesced(() => refresh(c.id)) };
    shown.set(c.id, entry);
    paintRow(entry, c, toggle);

    function setOpen(value) {
      entry.open = value;
      detail.hidden = !value;
      toggle.setAttribute("aria-expanded", String(value));
      toggle.textContent = value ? "Hide stations" : "Stations";
      if (value) entry.refresh();
    }
    entry.toggle = toggle;
    return [row, detail];
  }

  function paintRow(entry, c, toggle = entry.toggle) {
    clear(
      entry.row,
      h("th", { scope: "row" }, `#${c.id} `, h("span", { class: "mono" }, c.file_name), c.version ? h("span", { class: "muted" }, ` · ${c.version}`) : null),
      h("td", { "data-cell": "state" }, badge(c.state, CAMPAIGN_TONE[c.state] || "muted")),
      h("td", {}, progress(c.progress), pacing(c)),
      h("td", {}, dateTime(c.retrieve_date), c.retries != null ? h("span", { class: "muted" }, ` · ${c.retries} retries`) : null),
      h("td", {}, dateTime(c.created_at), c.created_by ? h("span", { class: "muted" }, ` · ${c.created_by}`) : null),
      h(
        "td",
        { class: "actions" },
        h("div", { class: "button-row" }, toggle, manage && c.state === "open" ? button("Close", () => close(c), { small: true, danger: true }) : null),
      ),
    );
  }

  function paintStations(entry, c) {
    const cell = h("td", { colspan: 6 });
    clear(entry.detail, cell);
    if (!c.stations?.length) return clear(cell, empty("No stations."));
    clear(
      cell,
      h(
        "table",
        { class: "fw-updates" },
        h("caption", { class: "visually-hidden" }, `Stations of campaign ${c.id}`),
        h("thead", {}, h("tr", {}, ["Station", "State", "Attempts", "Firmware before", "Firmware after", "Detail", "Updated"].map((label) => h("th", { scope: "col" }, label)))),
        h(
          "tbody",
          {},
          c.stations.map((u) =>
            h(
              "tr",
              { "data-update": u.charge_point_id },
              h("td", {}, h("a", { class: "station-link", href: stationHref(u.charge_point_id) }, u.charge_point_id)),
              h("td", {}, updateBadge(u.state)),
              h("td", { class: "num" }, String(u.attempts)),
              h("td", { class: "mono" }, u.firmware_before || "–"),
              h("td", { class: "mono" }, u.firmware_after || "–"),
              h("td", {}, u.detail || h("span", { class: "muted" }, "–")),
              h("td", {}, dateTime(u.updated_at)),
            ),
          ),
        ),
      ),
    );
  }

  // Re-read one campaign (its counts, and its stations when open).
  async function refresh(id) {
    let c;
    try {
      c = await api.get(`firmware/campaigns/${id}`);
    } catch {
      return;
    }
    const entry = shown.get(id);
    if (!entry) return;
    paintRow(entry, c);
    if (entry.open) paintStations(entry, c);
  }

  async function close(c) {
    try {
      await api.post(`firmware/campaigns/${c.id}/close`);
      toast(`Campaign #${c.id} closed`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    shown.get(c.id)?.refresh();
  }

  async function create(fileId) {
    const fileChoice = select("file", [["", files().length ? "Choose a file" : "No files: upload one first"], ...files().map((f) => [f.id, `${f.name}${f.version ? ` (${f.version})` : ""}`])], fileId ?? (files().length === 1 ? files()[0].id : ""));
    fileChoice.required = true;
    const target = (value, label, checked) => {
      const radio = h("input", { type: "radio", name: "target", value, checked });
      radio.addEventListener("change", showTarget);
      return { radio, node: h("label", { class: "check" }, radio, ` ${label}`) };
    };
    const targets = [target("stations", "Chosen stations", true), target("site", "The stations of a site", false), target("all", "All stations", false)];
    const boxes = stations().map((s) => {
      const box = h("input", { type: "checkbox", name: "station", value: s.charge_point_id });
      return { box, node: h("label", { class: "check" }, box, " ", h("span", { class: "mono" }, s.charge_point_id), h("span", { class: "muted" }, ` ${s.firmware_version || ""}${s.online ? "" : " (offline: sent when it reconnects)"}`)) };
    });
    const stationList = h("fieldset", { class: "event-types fw-pick" }, h("legend", {}, "Stations"), boxes.length ? boxes.map((b) => b.node) : h("p", { class: "muted" }, "No stations yet."));
    const siteChoice = select("site", [["", "Choose a site"]], "");
    const siteField = field("Site", siteChoice);
    fetchAll(api, "sites").then((sites) => {
      for (const site of sites) siteChoice.append(h("option", { value: site.id }, site.name));
    }, () => {});
    const retrieve = h("input", { type: "datetime-local", name: "retrieve" });
    const retries = h("input", { type: "number", name: "retries", min: 0, max: 100, step: 1, class: "input-short" });
    const interval = h("input", { type: "number", name: "retry_interval", min: 0, max: 86400, step: 1, class: "input-short" });
    // pacing: sent only when filled in
    const batch = h("input", { type: "number", name: "batch_size", min: 1, max: 10000, step: 1, class: "input-short" });
    const windowStart = h("input", { type: "time", name: "window_start" });
    const windowEnd = h("input", { type: "time", name: "window_end" });
    const windowZone = h("input", { type: "text", name: "window_timezone", maxlength: 64, placeholder: "UTC", autocomplete: "off" });
    function showTarget() {
      const chosen = targets.find((t) => t.radio.checked).radio.value;
      stationList.hidden = chosen !== "stations";
      siteField.hidden = chosen !== "site";
      siteChoice.required = chosen === "site";
    }
    showTarget();
    const done = await formDialog(
      "New campaign",
      [
        field("Firmware file", fileChoice),
        h("fieldset", { class: "event-types" }, h("legend", {}, "Send it to"), targets.map((t) => t.node)),
        stationList,
        siteField,
        field("Download from", retrieve, "When the stations may download it; empty: now."),
        h("div", { class: "form-grid" }, field("Retries", retries, "Optional, passed to the charger."), field("Retry interval (s)", interval, "Optional.")),
        h(
          "fieldset",
          { class: "event-types" },
          h("legend", {}, "Pacing (optional)"),
          h("div", { class: "form-grid" }, field("Stations at a time", batch), field("Window from", windowStart), field("Window until", windowEnd), field("Window time zone", windowZone, "e.g. Europe/Berlin")),
        ),
      ],
      {
        wide: true,
        submitLabel: "Start campaign",
        submit: () => {
          const chosen = targets.find((t) => t.radio.checked).radio.value;
          const body = { file_id: Number(fileChoice.value) };
          if (chosen === "stations") {
            const picked = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
            if (!picked.length) throw Object.assign(new Error("Choose at least one station."), { problem: { title: "No stations" } });
            body.stations = picked;
          } else if (chosen === "site") body.site_id = Number(siteChoice.value);
          else body.all = true;
          if (retrieve.value) body.retrieve_date = new Date(retrieve.value).toISOString();
          if (retries.value !== "") body.retries = Number(retries.value);
          if (interval.value !== "") body.retry_interval = Number(interval.value);
          if (batch.value !== "") body.batch_size = Number(batch.value);
          if (windowStart.value) body.window_start = windowStart.value;
          if (windowEnd.value) body.window_end = windowEnd.value;
          if (windowZone.value.trim()) body.window_timezone = windowZone.value.trim();
          return api.post("firmware/campaigns", body);
        },
      },
    );
    if (!done) return;
    toast(`Campaign #${done.id} started: ${done.stations?.length ?? 0} station${done.stations?.length === 1 ? "" : "s"}`, "ok");
    offset = 0;
    await load();
    shown.get(done.id)?.toggle.click();
  }

  // A firmware.status of a shown campaign re-reads it; of another one, the first page.
  function changed(id) {
    const entry = shown.get(id);
    if (entry) entry.refresh();
    else if (offset === 0) load();
  }

  clear(host, spinner("Loading campaigns…"));
  return { element, load, create, changed };
}

// One run of fn at a time: calls meanwhile make one more run afterwards, so the last state wins
// and answers never arrive out of order.
function coalesced(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
  return run;
}
