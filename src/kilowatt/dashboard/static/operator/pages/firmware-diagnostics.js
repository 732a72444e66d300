// The diagnostics of the Firmware page: one station's GetDiagnostics requests with the files it
// uploaded (download with commands:send), re-read on its diagnostics.status events; request
// diagnostics from a station. The API lists diagnostics per station only, hence the choice.

import { badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, downloadResponse, formDialog, select } from "./manage-kit.js";

const LIMIT = 20;
const STATE_TONE = {
  sending: "info",
  sent: "info",
  Uploading: "info",
  Uploaded: "ok",
  UploadFailed: "bad",
  error: "bad",
  offline: "warn",
  no_file: "muted",
};
const STATE_LABEL = { no_file: "no file", sent: "requested" };

export function size(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit ? `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}` : `${bytes} bytes`;
}

// An ISO instant from an <input type="datetime-local"> (the browser's time zone), or null.
const instant = (input) => (input.value ? new Date(input.value).toISOString() : null);

export function diagnosticsSection(ctx, { stations }) {
  const { api } = ctx;
  const diagnose = can(ctx, "commands:send");
  let current = ctx.query.get("diagnostics") || "";
  const stationChoice = select("diagnostics-station", [], "");
  stationChoice.addEventListener("change", () => {
    current = stationChoice.value;
    load();
  });
  const host = h("div", { "aria-live": "polite", "data-testid": "diagnostics" });
  const element = h(
    "section",
    { class: "card card-flush", id: "diagnostics", "aria-labelledby": "fw-diagnostics-title", tabindex: "-1" },
    h(
      "div",
      { class: "card-header card-pad" },
      h("h2", { id: "fw-diagnostics-title" }, "Diagnostics"),
      h("div", { class: "button-row fw-diagnostics-bar" }, field("Station", stationChoice), diagnose ? button("Request…", () => request(current), { small: true, title: "Request diagnostics from this station" }) : null),
    ),
    host,
  );

  function fillChoice() {
    const all = stations();
    if (!all.some((s) => s.charge_point_id === current)) {
      // the station that reported diagnostics last, else the first
      current = (all.find((s) => s.diagnostics_status) || all[0])?.charge_point_id || "";
    }
    clear(stationChoice, all.map((s) => h("option", { value: s.charge_point_id, selected: s.charge_point_id === current }, s.charge_point_id)));
  }

  let loading = 0;
  async function load({ quiet = false } = {}) {
    fillChoice();
    if (!current) return clear(host, empty("No stations yet."));
    const serial = ++loading;
    if (!quiet) clear(host, spinner("Loading diagnostics…"));
    let page;
    try {
      page = await api.get(`stations/${encodeURIComponent(current)}/diagnostics`, { limit: LIMIT });
    } catch (error) {
      if (serial === loading) clear(host, failure(error, () => load()));
      return;
    }
    if (serial !== loading) return;
    if (!page.items.length) {
      clear(host, empty(`No diagnostics from ${current} yet.`, diagnose ? "Ask the station for its diagnostics file with “Request…”." : null));
      return;
    }
    clear(
      host,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, `Diagnostics of ${current}`),
          h("thead", {}, h("tr", {}, ["Request", "State", "File", "Received", "Detail", h("span", { class: "visually-hidden" }, "Download")].map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, page.items.map(row)),
        ),
      ),
      page.total > page.items.length ? h("p", { class: "tile-sub card-pad" }, `The newest ${page.items.length} of ${page.total}.`) : null,
    );
  }

  function row(d) {
    return h(
      "tr",
      { "data-diagnostics": d.id },
      h("th", { scope: "row" }, `#${d.id} `, h("span", { class: "muted" }, `${dateTime(d.created_at)}${d.requested_by ? ` · ${d.requested_by}` : ""}`)),
      h("td", {}, badge(STATE_LABEL[d.state] || d.state, STATE_TONE[d.state] || "muted")),
      h("td", { class: "mono" }, d.file_name || h("span", { class: "muted" }, "–")),
      h(
        "td",
        {},
        d.received_at
          ? [size(d.received_size), h("span", { class: "muted" }, ` · ${dateTime(d.received_at)}`), h("br"), h("span", { class: "mono muted", title: d.received_sha256 }, `SHA-256 ${d.received_sha256.slice(0, 12)}…`)]
          : h("span", { class: "muted" }, "not yet"),
      ),
      h("td", {}, d.detail || h("span", { class: "muted" }, "–")),
      h("td", { class: "actions" }, diagnose && d.download ? button("Download", () => download(d), { small: true, title: `Download ${d.received_name}` }) : null),
    );
  }

  async function download(d) {
    try {
      const response = await api.request("GET", d.download, { raw: true, headers: { Accept: "*/*" } });
      if (!response.ok) throw new Error((await response.json().catch(() => null))?.detail || response.statusText);
      toast(`Downloaded ${await downloadResponse(response, d.received_name || `diagnostics-${d.id}.log`)}`, "ok");
    } catch (error) {
      toast(`Download failed: ${error.message}`, "bad");
    }
  }

  async function request(cp = current) {
    const all = stations();
    const choice = select("station", [["", all.length ? "Choose a station" : "No stations"], ...all.map((s) => [s.charge_point_id, `${s.charge_point_id}${s.online ? "" : " (offline)"}`])], cp);
    choice.required = true;
    const start = h("input", { type: "datetime-local", name: "start" });
    const stop = h("input", { type: "datetime-local", name: "stop" });
    const retries = h("input", { type: "number", name: "retries", min: 0, max: 100, step: 1, class: "input-short" });
    const interval = h("input", { type: "number", name: "retry_interval", min: 0, max: 86400, step: 1, class: "input-short" });
    const done = await formDialog(
      "Request diagnostics",
      [
        field("Station", choice, "It uploads its diagnostics file to Kilowatt, at a one-time link."),
        h("div", { class: "form-grid" }, field("From", start, "Optional: the oldest log entries."), field("To", stop, "Optional.")),
        h("div", { class: "form-grid" }, field("Retries", retries, "Optional."), field("Retry interval (s)", interval, "Optional.")),
      ],
      {
        submitLabel: "Request",
        submit: () => {
          const body = { start_time: instant(start), stop_time: instant(stop) };
          if (retries.value !== "") body.retries = Number(retries.value);
          if (interval.value !== "") body.retry_interval = Number(interval.value);
          return api.post(`stations/${encodeURIComponent(choice.value)}/diagnostics`, body);
        },
      },
    );
    if (!done) return;
    const asked = done.state === "sent" || done.state === "Uploading" || done.state === "Uploaded";
    toast(asked ? `${done.charge_point_id} will upload ${done.file_name}` : `${done.charge_point_id}: ${STATE_LABEL[done.state] || done.state}${done.detail ? ` (${done.detail})` : ""}`, asked ? "ok" : "warn");
    current = done.charge_point_id;
    await load({ quiet: true });
  }

  // Show a station's diagnostics (from the stations table) and bring the section into view.
  function show(cp) {
    current = cp;
    load();
    element.scrollIntoView({ block: "start" });
    element.focus({ preventScroll: true });
  }

  // A diagnostics.status of the station shown re-reads its list.
  function changed(cp) {
    if (cp === current) load({ quiet: true });
  }

  return { element, load, request: () => request(), show, changed };
}
