// /app/cards: the driver's charge cards and app tags (add, block, unblock, remove), and the
// payment card when the network takes payments.

import { clear, dialog, empty, h, spinner } from "/static/common/ui.js";
import { isAppTag, panel, pill } from "../util.js";

const CARD_WORDS = {
  Accepted: ["Active", "ok"],
  Blocked: ["Blocked", "bad"],
  Expired: ["Expired", "muted"],
  Invalid: ["Invalid", "bad"],
};

export default async function render(ctx) {
  ctx.title("Cards");
  const list = h("ul", { class: "card-list", "aria-label": "Charge cards" });
  const listHost = h("div", {}, spinner());
  const paymentHost = h("div", {});
  // What the last action did (or why it failed), announced to screen readers.
  const said = h("p", { class: "list-status", role: "status" });
  const saidBad = h("p", { class: "form-error", role: "alert" });
  function say(text, bad = false) {
    said.textContent = bad ? "" : text;
    saidBad.textContent = bad ? text : "";
  }

  async function loadCards() {
    const page = await ctx.api.get("me/tokens", { limit: 200 });
    if (!page.items.length) {
      clear(listHost, empty("No cards yet", "Add the RFID card you tap at chargers, or start from a charger's page: the app makes an app tag for you."));
      return;
    }
    clear(list, page.items.map(cardItem));
    clear(listHost, list);
  }

  function cardItem(card) {
    const [word, tone] = CARD_WORDS[card.status] || [card.status, "muted"];
    const label = isAppTag(card.id_tag) ? "App tag (starts from your phone)" : "RFID card";
    const actions = [];
    if (card.status === "Accepted") {
      actions.push(
        h("button", { class: "button", type: "button", "aria-label": `Block ${card.id_tag}`, onclick: (e) => act(e.currentTarget, card, "block") }, "Block"),
      );
    } else if (card.status === "Blocked") {
      actions.push(
        h("button", { class: "button", type: "button", "aria-label": `Unblock ${card.id_tag}`, onclick: (e) => act(e.currentTarget, card, "unblock") }, "Unblock"),
      );
    }
    actions.push(
      h("button", { class: "button button-quiet-danger", type: "button", "aria-label": `Remove ${card.id_tag}`, onclick: (e) => remove(e.currentTarget, card) }, "Remove"),
    );
    return h(
      "li",
      { class: "card-item", "data-testid": `card-${card.id_tag}` },
      h(
        "div",
        { class: "card-item-main" },
        h("span", { class: "card-item-tag mono" }, card.id_tag),
        h("span", { class: "muted small" }, label),
        pill(word, tone),
      ),
      h("div", { class: "button-row" }, actions),
    );
  }

  async function act(button, card, action) {
    button.disabled = true;
    try {
      await ctx.api.post(`me/tokens/${encodeURIComponent(card.id_tag)}/${action}`);
      say(action === "block" ? `${card.id_tag} is blocked: it starts nothing until you unblock it.` : `${card.id_tag} works again.`);
    } catch (error) {
      say(error.status === 409 ? "Only the operator can unblock this card. Please contact them." : error.message, true);
    }
    await loadCards();
  }

  async function remove(button, card) {
    const choice = await dialog(
      "Remove this card?",
      h("p", {}, "The card ", h("span", { class: "mono" }, card.id_tag), " will no longer start charging with your account."),
      [
        { label: "Keep it", value: "keep" },
        { label: "Remove", value: "remove", danger: true },
      ],
    );
    if (choice !== "remove") return;
    button.disabled = true;
    try {
      await ctx.api.del(`me/tokens/${encodeURIComponent(card.id_tag)}`);
      say(`${card.id_tag} removed.`);
    } catch (error) {
      say(error.status === 409 ? "This card is in use by a running session; stop it first." : error.message, true);
    }
    await loadCards();
  }

  // ---- add a card --------------------------------------------------------------------------
  const idTag = h("input", {
    id: "card-id",
    name: "id_tag",
    required: true,
    maxlength: 20,
    pattern: "[!-~]{1,20}",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    "aria-describedby": "card-id-hint",
  });
  const addError = h("p", { class: "form-error", role: "alert" });
  const addButton = h("button", { class: "button button-primary button-block", type: "submit" }, "Add card");
  const addForm = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const value = idTag.value.trim();
        addError.textContent = "";
        if (!/^[!-~]{1,20}$/.test(value)) {
          addError.textContent = "A card number is 1 to 20 letters, digits or symbols, without spaces.";
          idTag.focus();
          return;
        }
        addButton.disabled = true;
        try {
          await ctx.api.post("me/tokens", { id_tag: value });
          idTag.value = "";
          say(`Card ${value} added.`);
          await loadCards();
        } catch (error) {
          addError.textContent =
            error.status === 409 ? "This card is registered already. If it is yours, contact the operator." : error.message;
          idTag.focus();
        } finally {
          addButton.disabled = false;
        }
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: "card-id" }, "Card number"),
      idTag,
      h("p", { class: "hint", id: "card-id-hint" }, "The ID printed on your RFID charge card (up to 20 characters, no spaces)."),
    ),
    addError,
    addButton,
  );

  // ---- payment card ------------------------------------------------------------------------
  async function loadPayment() {
    let method;
    try {
      method = await ctx.api.get("me/payment-method");
    } catch {
      clear(paymentHost);
      return;
    }
    if (method.provider === "none") {
      clear(paymentHost);
      return;
    }
    const card = method.card;
    clear(
      paymentHost,
      panel(
        h("h2", {}, "Payment"),
        card
          ? h(
              "div",
              { class: "card-item" },
              h(
                "div",
                { class: "card-item-main" },
                h("span", { class: "card-item-tag" }, `${card.brand || "Card"} •••• ${card.last4 || ""}`),
                card.expMonth && h("span", { class: "muted small" }, `expires ${String(card.expMonth).padStart(2, "0")}/${card.expYear}`),
              ),
              h(
                "div",
                { class: "button-row" },
                h(
                  "button",
                  {
                    class: "button button-quiet-danger",
                    type: "button",
                    onclick: async () => {
                      try {
                        await ctx.api.del("me/payment-method");
                        say("Payment card removed.");
                      } catch (error) {
                        say(error.message, true);
                      }
                      loadPayment();
                    },
                  },
                  "Remove",
                ),
              ),
            )
          : h(
              "div",
              { class: `notice ${method.required ? "notice-warn" : ""}`, role: "note" },
              h("p", { class: "notice-title" }, "No payment card"),
              h(
                "p",
                {},
                method.required
                  ? "This network needs a payment card before you charge. Adding one is not possible in this web app yet; please use the operator's app or contact the operator."
                  : "No payment card is on your account.",
              ),
            ),
      ),
    );
  }

  clear(
    ctx.root,
    h("div", { class: "page-title" }, h("h1", {}, "Cards")),
    panel(h("h2", {}, "Charge cards"), saidBad, listHost, said),
    panel(h("h2", {}, "Add a card"), addForm),
    paymentHost,
  );
  await Promise.all([loadCards(), loadPayment()]);
}
