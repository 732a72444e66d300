// Firmware: the tenant's firmware files (upload, delete), update campaigns across stations with
// each station's progress live (firmware-campaigns.js), every station's firmware version and
// status, and diagnostics requested from a station with the files it uploaded
// (firmware-diagnostics.js). Reading needs stations:read; files and campaigns stations:write;
// diagnostics commands:send — the API enforces the same.

import { ApiError } from "/static/common/api.js";
import { badge, clear, dateTime, empty, failure, field, h, spinner, toast } from "/static/common/ui.js";
import { button, can, confirmDialog, formDialog, pageHeader, scopePage } from "./manage-kit.js";
import { campaignsSection } from "./firmware-campaigns.js";
import { diagnosticsSection, size } from "./firmware-diagnostics.js";
import { fetchAll, onlineBadge, stationHref } from "./network-kit.js";

const STATUS_TONE = {
  Installed: "ok",
  Uploaded: "ok",
  Idle: "muted",
  Downloading: "info",
  Downloaded: "info",
  Installing: "info",
  Uploading: "info",
  DownloadFailed: "bad",
  InstallationFailed: "bad",
  UploadFailed: "bad",
};

export function statusBadge(status) {
  return status ? badge(status, STATUS_TONE[status] || "muted") : h("span", { class: "muted" }, "–");
}

// The image is the raw request body (no multipart, no JSON), so this is fetch with the
// operator's token rather than api.post; one retry after a refreshed token, like api.js.
async function uploadFile(api, file, name, version) {
  const url = new URL("/api/v1/firmware", location.origin);
  url.searchParams.set("name", name);
  if (version) url.searchParams.set("version", version);
  const send = () =>
    fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/octet-stream", Authorization: `Bearer ${api.accessToken()}` },
      body: file,
    });
  let response = await send();
  if (response.status === 401 && (await api.refresh())) response = await send();
  const body = await response.json().catch(() => ({ title: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export default async function render(ctx) {
  ctx.title("Firmware");
  scopePage(ctx, "firmware");
  const { api, root } = ctx;
  const manage = can(ctx, "stations:write");
  const diagnose = can(ctx, "commands:send");
  const header = pageHeader(
    "Firmware",
    "Firmware files, update campaigns across your stations with each station's progress, and diagnostics uploaded by the stations.",
  );
  root.append(header);
  if (!can(ctx, "stations:read")) {
    root.append(empty("Your role may not see stations' firmware."));
    return;
  }

  let files = [];
  let stations = [];
  const filesHost = h("div", { "aria-live": "polite" });
  const stationsHost = h("div", {});
  const campaigns = campaignsSection(ctx, { files: () => files, stations: () => stations });
  const diagnostics = diagnosticsSection(ctx, { stations: () => stations });
  const actions = h(
    "div",
    { class: "button-row" },
    manage ? button("Upload firmware", () => upload(), { primary: true }) : null,
    manage ? button("New campaign", () => campaigns.create()) : null,
    diagnose ? button("Request diagnostics", () => diagnostics.request()) : null,
  );
  header.append(actions);
  root.append(
    campaigns.element,
    h("section", { class: "card card-flush", "aria-labelledby": "fw-files-title" }, h("div", { class: "card-header card-pad" }, h("h2", { id: "fw-files-title" }, "Firmware files")), filesHost),
    h("section", { class: "card card-flush", "aria-labelledby": "fw-stations-title" }, h("div", { class: "card-header card-pad" }, h("h2", { id: "fw-stations-title" }, "Stations")), stationsHost),
    diagnostics.element,
  );

  // ---- files ------------------------------------------------------------------------------
  async function loadFiles() {
    try {
      files = await fetchAll(api, "firmware");
    } catch (error) {
      clear(filesHost, failure(error, loadFiles));
      return;
    }
    paintFiles();
  }

  function paintFiles() {
    if (!files.length) {
      clear(filesHost, empty("No firmware files yet.", manage ? "Upload an image with “Upload firmware”; Kilowatt serves it to the chargers itself." : null));
      return;
    }
    clear(
      filesHost,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "Firmware files"),
          h("thead", {}, h("tr", {}, ["File", "Version", "Size", "SHA-256", "Uploaded", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
          h(
            "tbody",
            {},
            files.map((f) =>
              h(
                "tr",
                { "data-file": f.name },
                h("th", { scope: "row", class: "mono" }, f.name),
                h("td", {}, f.version || h("span", { class: "muted" }, "–")),
                h("td", { class: "num" }, size(f.size_bytes)),
                h("td", { class: "mono", title: f.sha256 }, `${f.sha256.slice(0, 12)}…`),
                h("td", {}, dateTime(f.created_at), f.uploaded_by ? h("span", { class: "muted" }, ` · ${f.uploaded_by}`) : null),
                h(
                  "td",
                  { class: "actions" },
                  manage
                    ? h(
                        "div",
                        { class: "button-row" },
                        button("Roll out…", () => campaigns.create(f.id), { small: true }),
                        button("Delete", () => remove(f), { small: true, danger: true }),
                      )
                    : null,
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function upload() {
    const input = h("input", { type: "file", name: "image", required: true });
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 255, autocomplete: "off", class: "mono" });
    const version = h("input", { type: "text", name: "version", maxlength: 50, autocomplete: "off" });
    input.addEventListener("change", () => {
      const chosen = input.files?.[0];
      if (chosen && !name.value) name.value = chosen.name;
    });
    const done = await formDialog(
      "Upload firmware",
      [
        field("Image", input, "Sent as it is: Kilowatt keeps its SHA-256 and serves it at signed links that expire."),
        field("File name", name, "The name chargers see at the end of the download link."),
        field("Version", version, "Optional, e.g. 2.4.1."),
      ],
      { submitLabel: "Upload", submit: () => uploadFile(api, input.files[0], name.value.trim(), version.value.trim()) },
    );
    if (!done) return;
    toast(`Uploaded ${done.name} (${size(done.size_bytes)})`, "ok");
    await loadFiles();
  }

  async function remove(f) {
    if (!(await confirmDialog(`Delete ${f.name}?`, "The image is removed and its links stop working; campaigns keep showing what they installed.", { confirmLabel: "Delete" }))) return;
    try {
      await api.del(`firmware/${f.id}`);
      toast(`${f.name} deleted`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    await loadFiles();
  }

  // ---- stations ---------------------------------------------------------------------------
  const cells = new Map(); // charge point id -> {version, firmware, diagnostics, online}

  async function loadStations() {
    clear(stationsHost, spinner("Loading stations…"));
    try {
      stations = (await fetchAll(api, "stations")).sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
    } catch (error) {
      clear(stationsHost, failure(error, loadStations));
      return;
    }
    cells.clear();
    if (!stations.length) {
      clear(stationsHost, empty("No stations yet."));
      return;
    }
    clear(
      stationsHost,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "Firmware of each station"),
          h("thead", {}, h("tr", {}, ["Station", "State", "Model", "Firmware", "Firmware status", "Diagnostics", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, stations.map(stationRow)),
        ),
      ),
    );
  }

  function stationRow(s) {
    const c = {
      online: h("td", {}, onlineBadge(s)),
      version: h("td", { class: "mono" }, s.firmware_version || h("span", { class: "muted" }, "not reported")),
      firmware: h("td", {}, statusBadge(s.firmware_status)),
      diagnostics: h("td", {}, statusBadge(s.diagnostics_status)),
    };
    cells.set(s.charge_point_id, c);
    return h(
      "tr",
      { "data-station": s.charge_point_id },
      h("th", { scope: "row" }, h("a", { class: "station-link", href: stationHref(s.charge_point_id) }, s.charge_point_id)),
      c.online,
      h("td", {}, [s.vendor, s.model].filter(Boolean).join(" ") || h("span", { class: "muted" }, "–")),
      c.version,
      c.firmware,
      c.diagnostics,
      h("td", { class: "actions" }, button("Diagnostics", () => diagnostics.show(s.charge_point_id), { small: true, title: `Diagnostics of ${s.charge_point_id}` })),
    );
  }

  function patchStation(cp, change) {
    const s = stations.find((x) => x.charge_point_id === cp);
    const c = cells.get(cp);
    if (!s || !c) return;
    Object.assign(s, change);
    clear(c.online, onlineBadge(s));
    clear(c.version, s.firmware_version || h("span", { class: "muted" }, "not reported"));
    clear(c.firmware, statusBadge(s.firmware_status));
    clear(c.diagnostics, statusBadge(s.diagnostics_status));
  }

  // ---- live -------------------------------------------------------------------------------
  ctx.subscribe("firmware.status", (event) => {
    campaigns.changed(event.data?.campaignId);
    const change = {};
    if (event.data?.status) change.firmware_status = event.data.status;
    if (event.data?.firmwareVersion) change.firmware_version = event.data.firmwareVersion;
    patchStation(event.chargingStationId, change);
  });
  ctx.subscribe("diagnostics.status", (event) => {
    if (event.data?.status) patchStation(event.chargingStationId, { diagnostics_status: event.data.status });
    diagnostics.changed(event.chargingStationId);
  });
  ctx.subscribe("station.*", (event) => {
    if (event.type === "station.connected" || event.type === "station.disconnected") patchStation(event.chargingStationId, { online: event.type === "station.connected" });
    if (event.type === "station.booted") patchStation(event.chargingStationId, event.data?.firmwareVersion ? { online: true, firmware_version: event.data.firmwareVersion } : { online: true });
  });
  ctx.onResync(() => Promise.all([loadFiles(), loadStations(), campaigns.load(), diagnostics.load()]));

  clear(filesHost, spinner("Loading files…"));
  await Promise.all([loadFiles(), loadStations(), campaigns.load()]);
  await diagnostics.load();
}
