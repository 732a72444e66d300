// A station's settings, for users with stations:write (PATCH /api/v1/stations/{cp} and
// PATCH …/connectors/{n}): registration (accept, set pending, reject), the HTTP Basic password
// (generated and shown once, or typed; removed), the site, the missing-subprotocol allowance, and
// each connector's maximum power. station.js mounts it: a banner while the station is not
// accepted, a "Settings" card on the status tab, and a "Max power" button per connector.

import { badge, clear, field, h, kw, toast } from "/static/common/ui.js";
import { confirmDialog, formDialog, secretDialog } from "./manage-kit.js";
import { BASE, can } from "./network-kit.js";

const KEY_LENGTH = 24;
const KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"; // no 0/O, 1/l/I
const MAX_POWER_KW = 2000; // the API's limit: 2 MW

// A random key of KEY_LENGTH characters (rejection sampling: every character equally likely).
export function generateKey(length = KEY_LENGTH) {
  const out = [];
  const limit = 256 - (256 % KEY_ALPHABET.length);
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out.push(KEY_ALPHABET[byte % KEY_ALPHABET.length]);
    }
  }
  return out.join("");
}

const bytes = (text) => new TextEncoder().encode(text).length;

const REGISTRATION = {
  Accepted: { tone: "ok", text: "Accepted: the station may charge." },
  Pending: {
    tone: "warn",
    text: "Pending: it is answered Pending at boot and waits for an administrator to accept it. It cannot charge yet.",
  },
  Rejected: { tone: "bad", text: "Rejected: it is answered Rejected at boot and cannot charge." },
};

// opts: {cp, station: () => the station (GET /stations/{cp}), tracker (network-commands.js),
//        reload: () => re-read the station and repaint}
export function stationSettings(ctx, { cp, station, tracker, reload }) {
  const path = `stations/${encodeURIComponent(cp)}`;
  const mayWrite = can(ctx.me, "stations:write");
  const mayCommand = can(ctx.me, "commands:send");
  let sites = null; // [{id, name}] once read

  const banner = h("div", { class: "st-banner", "data-testid": "registration-banner", role: "status", hidden: true });
  const body = h("div");
  const card = mayWrite
    ? h(
        "section",
        { class: "card st-settings", id: "settings", "aria-labelledby": "settings-title" },
        h("div", { class: "card-header" }, h("h2", { id: "settings-title" }, "Settings")),
        body,
      )
    : null;

  async function patch(change, message) {
    await ctx.api.patch(path, change);
    if (message) toast(message, "ok");
    await reload();
  }

  async function loadSites() {
    try {
      const page = await ctx.api.get("sites", { limit: 200 });
      sites = page.items;
    } catch {
      sites = [];
    }
    paint();
  }

  // ---- registration ---------------------------------------------------------------------------
  function registrationButtons(s, { small = true } = {}) {
    if (!mayWrite) return null;
    const cls = (extra = "") => `button ${small ? "button-small" : ""} ${extra}`;
    const buttons = [];
    if (s.registration_status !== "Accepted") buttons.push(h("button", { type: "button", class: cls("button-primary"), onclick: () => accept() }, "Accept"));
    if (s.registration_status !== "Pending")
      buttons.push(h("button", { type: "button", class: cls(), onclick: () => setRegistration("Pending") }, "Set pending"));
    if (s.registration_status !== "Rejected") buttons.push(h("button", { type: "button", class: cls(), onclick: () => setRegistration("Rejected") }, "Reject"));
    return h("div", { class: "button-row" }, buttons);
  }

  async function accept() {
    const s = station();
    const offerBoot = s.online && mayCommand;
    const rebootBox = h("input", { type: "checkbox", name: "boot", checked: true });
    const done = await formDialog(
      `Accept ${cp}`,
      [
        h("p", {}, "The station will be answered ", h("strong", {}, "Accepted"), " at its next BootNotification and may then charge."),
        offerBoot
          ? h(
              "div",
              { class: "field field-check" },
              h("label", {}, rebootBox, " Ask it to boot again now (TriggerMessage BootNotification)"),
              h("p", { class: "hint" }, "Otherwise it is accepted when it next retries its boot (the Pending interval)."),
            )
          : h("p", { class: "tile-sub" }, s.online ? "" : "It is offline: it is accepted the next time it connects and boots."),
      ],
      {
        submitLabel: "Accept station",
        submit: async () => {
          await ctx.api.patch(path, { registration_status: "Accepted" });
          return { boot: offerBoot && rebootBox.checked };
        },
      },
    );
    if (!done) return;
    toast(`${cp} accepted`, "ok");
    if (done.boot) {
      try {
        await tracker.send("TriggerMessage", { requestedMessage: "BootNotification" });
      } catch (error) {
        toast(`TriggerMessage not sent: ${error.message}`, "bad");
      }
    }
    await reload();
  }

  async function setRegistration(status) {
    const reject = status === "Rejected";
    const ok = await confirmDialog(
      reject ? `Reject ${cp}?` : `Set ${cp} pending?`,
      reject
        ? "It will be answered Rejected at its next BootNotification and cannot charge. Its current connection stays open until then."
        : "It will be answered Pending at its next BootNotification and cannot charge until it is accepted again.",
      { confirmLabel: reject ? "Reject station" : "Set pending", danger: reject },
    );
    if (!ok) return;
    try {
      await patch({ registration_status: status }, `${cp} is now ${status.toLowerCase()}`);
    } catch (error) {
      toast(error.message, "bad");
    }
  }

  // ---- password -------------------------------------------------------------------------------
  async function editPassword() {
    const s = station();
    const generate = h("input", { type: "radio", name: "mode", value: "generate", checked: true });
    const typeOwn = h("input", { type: "radio", name: "mode", value: "type" });
    const typed = h("input", { type: "text", name: "password", autocomplete: "off", spellcheck: "false", class: "mono", disabled: true });
    const typedField = field("Password", typed, "16 to 40 bytes (the OCPP 1.6 security whitepaper, profile 1). The user name is the charge point id.");
    typedField.hidden = true;
    const sync = () => {
      typed.disabled = !typeOwn.checked;
      typedField.hidden = !typeOwn.checked;
      if (typeOwn.checked) typed.focus();
    };
    generate.addEventListener("change", sync);
    typeOwn.addEventListener("change", sync);
    let secret = null;
    const done = await formDialog(
      s.basic_auth ? `Rotate the password of ${cp}` : `Set a password for ${cp}`,
      [
        h(
          "p",
          { class: "tile-sub" },
          "The station must then connect with HTTP Basic authentication (user ",
          h("code", {}, cp),
          "). ",
          s.online ? "Its current connection stays open; the new password is needed the next time it connects." : "",
        ),
        h(
          "fieldset",
          { class: "st-choice" },
          h("legend", {}, "Password"),
          h("label", { class: "check" }, generate, ` Generate a random key (${KEY_LENGTH} characters, shown once)`),
          h("label", { class: "check" }, typeOwn, " Type one"),
        ),
        typedField,
      ],
      {
        submitLabel: s.basic_auth ? "Rotate password" : "Set password",
        submit: async () => {
          const password = generate.checked ? generateKey() : typed.value;
          if (!generate.checked) {
            const n = bytes(password);
            if (n < 16 || n > 40) throw new Error(`The password is ${n} byte${n === 1 ? "" : "s"} long: it must be 16 to 40 bytes.`);
          }
          await ctx.api.patch(path, { password });
          secret = generate.checked ? password : null;
          return true;
        },
      },
    );
    if (!done) return;
    if (secret) {
      await secretDialog(
        `Password of ${cp}`,
        "Password (HTTP Basic)",
        secret,
        "Copy it now and set it on the charger (its AuthorizationKey): it is shown only this once and cannot be read back.",
      );
    } else {
      toast("Password set", "ok");
    }
    await reload();
  }

  async function removePassword() {
    const ok = await confirmDialog(`Remove the password of ${cp}?`, "The station can then connect without HTTP Basic authentication, with only its charge point id.", {
      confirmLabel: "Remove password",
    });
    if (!ok) return;
    try {
      await patch({ remove_password: true }, "Password removed");
    } catch (error) {
      toast(error.message, "bad");
    }
  }

  // ---- site -----------------------------------------------------------------------------------
  async function editSite() {
    if (sites === null) await loadSites();
    const s = station();
    const choose = h(
      "select",
      { name: "site" },
      h("option", { value: "" }, "No site"),
      sites.map((site) => h("option", { value: site.id, selected: site.id === s.site_id }, site.name)),
    );
    const done = await formDialog(
      `Site of ${cp}`,
      [
        field("Site", choose, sites.length ? null : "No sites yet: create them on the Sites page."),
        h("p", { class: "tile-sub" }, h("a", { href: `${BASE}/sites` }, "Manage sites")),
      ],
      {
        submitLabel: "Save",
        submit: async () => {
          await ctx.api.patch(path, { site_id: choose.value ? Number(choose.value) : null });
          return true;
        },
      },
    );
    if (done) {
      toast("Site saved", "ok");
      await reload();
    }
  }

  async function toggleSubprotocol() {
    const s = station();
    try {
      await patch(
        { allow_missing_subprotocol: !s.allow_missing_subprotocol },
        s.allow_missing_subprotocol ? "A connection without the ocpp1.6 subprotocol is now refused" : "A connection without a subprotocol is now allowed",
      );
    } catch (error) {
      toast(error.message, "bad");
    }
  }

  // ---- connectors -----------------------------------------------------------------------------
  function maxPowerButton(c) {
    if (!mayWrite) return null;
    return h(
      "button",
      { type: "button", class: "button button-small", "aria-label": `Max power of connector ${c.connector_id}`, onclick: () => editMaxPower(c) },
      "Max power",
    );
  }

  async function editMaxPower(c) {
    const input = h("input", {
      type: "number",
      name: "max_power_kw",
      min: "0.001",
      step: "any",
      inputmode: "decimal",
      class: "input-short",
      value: c.max_power_w ? String(c.max_power_w / 1000) : "",
    });
    const done = await formDialog(
      `Max power · connector ${c.connector_id}`,
      [
        field(
          "Max power (kW)",
          input,
          `The most this connector can deliver, up to ${MAX_POWER_KW} kW; billing flags energy above it. Clear the field to remove the limit.`,
        ),
      ],
      {
        submitLabel: "Save",
        submit: async () => {
          const value = input.value.trim();
          const watts = value === "" ? null : Math.round(Number(value) * 1000);
          if (value !== "" && !Number.isFinite(watts)) throw new Error("Enter a number of kilowatts, or clear the field.");
          return ctx.api.patch(`${path}/connectors/${c.connector_id}`, { max_power_w: watts });
        },
      },
    );
    if (done) {
      toast(done.max_power_w ? `Connector ${c.connector_id}: at most ${kw(done.max_power_w)}` : `Connector ${c.connector_id}: no power limit`, "ok");
      await reload();
    }
  }

  // ---- painting -------------------------------------------------------------------------------
  function paint() {
    const s = station();
    const info = REGISTRATION[s.registration_status] || { tone: "muted", text: s.registration_status };
    banner.hidden = s.registration_status === "Accepted";
    if (!banner.hidden) {
      banner.className = `st-banner st-banner-${info.tone}`;
      clear(
        banner,
        h(
          "div",
          { class: "st-banner-text" },
          h("strong", {}, s.registration_status === "Pending" ? "This station is waiting to be accepted." : "This station is rejected."),
          " ",
          info.text,
        ),
        registrationButtons(s, { small: false }),
      );
    }
    if (!card) return;
    const site = s.site_id == null ? null : sites?.find((x) => x.id === s.site_id);
    const row = (label, value, hint, ...actions) =>
      h(
        "div",
        { class: "st-row" },
        h("div", { class: "st-row-main" }, h("div", { class: "st-row-label" }, label), h("div", { class: "st-row-value" }, value), hint && h("p", { class: "hint" }, hint)),
        h("div", { class: "button-row" }, actions),
      );
    clear(
      body,
      row("Registration", badge(s.registration_status, info.tone), info.text, registrationButtons(s)),
      row(
        "Password (HTTP Basic)",
        s.basic_auth ? badge("Set", "ok") : badge("None", "muted"),
        s.basic_auth ? "The station must authenticate to connect." : "Anyone who knows the charge point id can connect as this station.",
        h("button", { type: "button", class: "button button-small", onclick: () => editPassword() }, s.basic_auth ? "Rotate password…" : "Set password…"),
        s.basic_auth && h("button", { type: "button", class: "button button-small", onclick: () => removePassword() }, "Remove password"),
      ),
      row(
        "Site",
        s.site_id == null ? h("span", { class: "muted" }, "No site") : site ? site.name : `Site #${s.site_id}`,
        null,
        h("button", { type: "button", class: "button button-small", onclick: () => editSite() }, "Change site…"),
      ),
      row(
        "Missing subprotocol",
        s.allow_missing_subprotocol ? badge("Allowed", "warn") : badge("Refused", "muted"),
        "Whether a connection that names no OCPP subprotocol (some older chargers) is accepted as OCPP 1.6.",
        h("button", { type: "button", class: "button button-small", onclick: () => toggleSubprotocol() }, s.allow_missing_subprotocol ? "Refuse it" : "Allow it"),
      ),
    );
  }

  if (card) loadSites();
  return { banner, card, paint, maxPowerButton };
}
