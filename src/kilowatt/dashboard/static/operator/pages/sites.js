// Sites: the tenant's places and the stations at each (count, online, links); create, edit and
// delete a site, and place stations at it (stations:write; the API refuses to delete a site that
// still has stations, and says so). Each site's "Load management" panel is site-load.js's.

import { badge, clear, dialog, empty, field, h, toast } from "/static/common/ui.js";
import { confirmDialog, formDialog, problemBox } from "./manage-kit.js";
import { can, coalesce, fetchAll, onlineBadge, pageHeader, stationHref } from "./network-kit.js";
import { siteLoadPanels } from "./site-load.js";

export default async function render(ctx) {
  ctx.title("Sites");
  const mayWrite = can(ctx.me, "stations:write");
  let sites = [];
  let stations = [];
  const loadPanels = siteLoadPanels(ctx);

  const count = h("p", { class: "tile-sub st-count", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "st-sites" });
  const unplaced = h("div");
  ctx.root.append(
    pageHeader("Sites", mayWrite && h("button", { type: "button", class: "button button-primary", onclick: () => editSite(null) }, "New site")),
    h("p", { class: "page-sub st-lead" }, "Where the stations stand. A site scopes analytics and tariffs; a station belongs to at most one site."),
    count,
    body,
    unplaced,
  );

  async function load() {
    [sites, stations] = await Promise.all([fetchAll(ctx.api, "sites"), fetchAll(ctx.api, "stations")]);
    sites.sort((a, b) => a.name.localeCompare(b.name));
    loadPanels.keep(new Set(sites.map((s) => s.id)));
    stations.sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
    paint();
  }

  const at = (site) => stations.filter((s) => s.site_id === site.id);

  function paint() {
    const placed = stations.filter((s) => s.site_id != null).length;
    count.textContent = `${sites.length} site${sites.length === 1 ? "" : "s"} · ${placed} of ${stations.length} station${stations.length === 1 ? "" : "s"} placed`;
    if (!sites.length) {
      clear(body, h("section", { class: "card" }, empty("No sites yet", mayWrite ? "Create one with “New site”, then place stations at it." : "An administrator creates them.")));
    } else {
      clear(body, sites.map(siteCard));
    }
    const loose = stations.filter((s) => s.site_id == null);
    clear(
      unplaced,
      loose.length
        ? h(
            "section",
            { class: "card", "aria-labelledby": "unplaced-title", "data-testid": "unplaced" },
            h("div", { class: "card-header" }, h("h2", { id: "unplaced-title" }, "Not at a site"), h("span", { class: "tile-sub" }, `${loose.length} station${loose.length === 1 ? "" : "s"}`)),
            h("ul", { class: "st-chips" }, loose.map((s) => h("li", {}, stationChip(s)))),
          )
        : null,
    );
  }

  function stationChip(s) {
    return h("a", { class: "st-chip", href: stationHref(s.charge_point_id), title: s.online ? "online" : "offline" }, h("span", { class: `st-dot ${s.online ? "st-dot-on" : ""}`, "aria-hidden": "true" }), s.charge_point_id);
  }

  function siteCard(site) {
    const here = at(site);
    const online = here.filter((s) => s.online).length;
    const headingId = `site-${site.id}-title`;
    return h(
      "section",
      { class: "card st-site", "aria-labelledby": headingId, "data-testid": `site-${site.id}` },
      h(
        "div",
        { class: "card-header" },
        h("div", {}, h("h2", { id: headingId }, site.name), h("p", { class: "st-address" }, site.address || h("span", { class: "muted" }, "No address"))),
        mayWrite &&
          h(
            "div",
            { class: "button-row" },
            h("button", { type: "button", class: "button button-small", onclick: () => placeStations(site) }, "Stations…"),
            h("button", { type: "button", class: "button button-small", onclick: () => editSite(site) }, "Edit"),
            h("button", { type: "button", class: "button button-small", onclick: () => deleteSite(site) }, "Delete"),
          ),
      ),
      h(
        "p",
        { class: "st-site-counts", "data-testid": "site-counts" },
        h("strong", {}, `${here.length} station${here.length === 1 ? "" : "s"}`),
        " · ",
        here.length ? badge(`${online} online`, online === here.length ? "ok" : online ? "warn" : "muted") : "none placed yet",
      ),
      here.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "st-site-table" },
              h("caption", { class: "visually-hidden" }, `Stations at ${site.name}`),
              h("thead", {}, h("tr", {}, ["Station", "State", "Registration", "Model", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
              h(
                "tbody",
                {},
                here.map((s) =>
                  h(
                    "tr",
                    {},
                    h("th", { scope: "row" }, h("a", { class: "station-link", href: stationHref(s.charge_point_id) }, s.charge_point_id)),
                    h("td", {}, onlineBadge(s)),
                    h("td", {}, badge(s.registration_status, s.registration_status === "Accepted" ? "ok" : s.registration_status === "Pending" ? "warn" : "bad")),
                    h("td", {}, [s.vendor, s.model].filter(Boolean).join(" ") || h("span", { class: "muted" }, "not reported")),
                    h(
                      "td",
                      { class: "actions" },
                      mayWrite &&
                        h(
                          "div",
                          { class: "button-row" },
                          h("a", { class: "button button-small", href: stationHref(s.charge_point_id) }, "Settings"),
                          h("button", { type: "button", class: "button button-small", "aria-label": `Take ${s.charge_point_id} off ${site.name}`, onclick: () => unplace(s, site) }, "Remove"),
                        ),
                    ),
                  ),
                ),
              ),
            ),
          )
        : null,
      loadPanels.panelFor(site),
    );
  }

  // ---- actions ---------------------------------------------------------------------------------
  async function editSite(site) {
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, value: site?.name ?? "", autocomplete: "off" });
    const address = h("textarea", { name: "address", rows: 3, maxlength: 500 });
    address.value = site?.address ?? "";
    const saved = await formDialog(
      site ? `Edit ${site.name}` : "New site",
      [field("Name", name), field("Address", address, "Optional: street, city; shown to operators.")],
      {
        submitLabel: site ? "Save" : "Create site",
        submit: async () => {
          const fields = { name: name.value.trim(), address: address.value.trim() || null };
          return site ? ctx.api.patch(`sites/${site.id}`, fields) : ctx.api.post("sites", fields);
        },
      },
    );
    if (!saved) return;
    toast(site ? "Site saved" : `Site “${saved.name}” created`, "ok");
    await load();
  }

  async function deleteSite(site) {
    const n = at(site).length;
    const ok = await confirmDialog(
      `Delete ${site.name}?`,
      n ? `${n} station${n === 1 ? " is" : "s are"} still placed here: a site with stations cannot be deleted; move them first.` : "The site is removed; this cannot be undone.",
      { confirmLabel: "Delete site" },
    );
    if (!ok) return;
    try {
      await ctx.api.del(`sites/${site.id}`);
      toast(`Site “${site.name}” deleted`, "ok");
    } catch (error) {
      await dialog(`${site.name} was not deleted`, problemBox(error));
    }
    await load();
  }

  async function unplace(station, site) {
    try {
      await ctx.api.patch(`stations/${encodeURIComponent(station.charge_point_id)}`, { site_id: null });
      toast(`${station.charge_point_id} taken off ${site.name}`, "ok");
    } catch (error) {
      toast(error.message, "bad");
    }
    await load();
  }

  // Tick the stations that stand at the site; a station at another site moves here.
  async function placeStations(site) {
    const boxes = stations.map((s) => {
      const other = s.site_id != null && s.site_id !== site.id ? sites.find((x) => x.id === s.site_id) : null;
      const box = h("input", { type: "checkbox", name: "station", value: s.charge_point_id, checked: s.site_id === site.id });
      return {
        station: s,
        box,
        row: h(
          "label",
          { class: "check st-pick" },
          box,
          " ",
          h("span", { class: "mono" }, s.charge_point_id),
          " ",
          onlineBadge(s),
          other ? h("span", { class: "tile-sub" }, ` now at ${other.name}: moves here`) : null,
        ),
      };
    });
    const saved = await formDialog(
      `Stations at ${site.name}`,
      stations.length
        ? [h("fieldset", { class: "st-pick-list" }, h("legend", {}, "Stations"), boxes.map((b) => b.row))]
        : [empty("No stations yet", "Add them on the Stations page.")],
      {
        submitLabel: "Save",
        submit: async () => {
          const changes = boxes.filter((b) => b.box.checked !== (b.station.site_id === site.id));
          for (const b of changes) {
            await ctx.api.patch(`stations/${encodeURIComponent(b.station.charge_point_id)}`, { site_id: b.box.checked ? site.id : null });
            b.station.site_id = b.box.checked ? site.id : null; // a later failure keeps what was done
          }
          return changes.length;
        },
      },
    );
    if (saved === null) return;
    if (saved) toast(`${saved} station${saved === 1 ? "" : "s"} updated`, "ok");
    await load();
  }

  // ---- live ------------------------------------------------------------------------------------
  const repaint = coalesce(paint);
  ctx.subscribe("*", (event) => {
    const s = stations.find((x) => x.charge_point_id === event.chargingStationId);
    if (!s) {
      if (event.type === "station.connected") load().catch(() => {});
      return;
    }
    if (event.type === "station.connected" || event.type === "station.disconnected") {
      s.online = event.type === "station.connected";
      repaint();
    } else if (event.type === "station.booted") {
      s.registration_status = event.data?.registrationStatus ?? s.registration_status;
      s.vendor = event.data?.vendor ?? s.vendor;
      s.model = event.data?.model ?? s.model;
      s.online = true;
      repaint();
    }
  });
  ctx.onResync(() => load().catch(() => {}));

  await load();
}
