// /app/signin?next=…&tenant=…&operator=…&mode=register: sign in or create a driver account, then
// go back to where the driver came from (the charger's start page, usually).

import { clear, field, h } from "/static/common/ui.js";
import { panel } from "../util.js";

function safeNext(value) {
  // Only back into the app: never an open redirect.
  if (!value || !value.startsWith("/app") || value.startsWith("/app/signin")) return "/app/";
  return value;
}

export default async function render(ctx) {
  const next = safeNext(ctx.query.get("next"));
  const tenant = ctx.query.get("tenant") || "";
  const operator = ctx.query.get("operator") || "";
  let mode = ctx.query.get("mode") === "register" ? "register" : "signin";

  if (ctx.me) {
    ctx.navigate(next, { replace: true });
    return;
  }

  const name = h("input", { type: "text", name: "name", autocomplete: "name", maxlength: 200 });
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, inputmode: "email" });
  const password = h("input", { type: "password", name: "password", required: true, maxlength: 128 });
  const error = h("div", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "button button-primary button-block" });
  const heading = h("h1", {});
  const intro = h("p", { class: "muted" });
  const nameField = field("Your name", name);
  const passwordHint = h("p", { class: "hint", id: "password-hint" }, "At least 10 characters.");
  const switcher = h("button", { type: "button", class: "link-button", onclick: () => setMode(mode === "signin" ? "register" : "signin") });
  const switchText = h("span", {});

  function setMode(value) {
    mode = value;
    const registering = mode === "register";
    ctx.title(registering ? "Create an account" : "Sign in");
    heading.textContent = registering ? "Create your account" : "Sign in to charge";
    intro.textContent = registering
      ? operator
        ? `Your account will be with ${operator}, who runs this charger.`
        : "Create a driver account to start charging and get your receipts."
      : "Welcome back. Sign in to start charging and see your sessions.";
    nameField.hidden = !registering;
    passwordHint.hidden = !registering;
    password.autocomplete = registering ? "new-password" : "current-password";
    if (registering) password.setAttribute("minlength", "10");
    else password.removeAttribute("minlength");
    submit.textContent = registering ? "Create account" : "Sign in";
    switchText.textContent = registering ? "Already have an account?" : "New here?";
    switcher.textContent = registering ? "Sign in" : "Create an account";
    error.replaceChildren();
    const params = new URLSearchParams(location.search);
    if (registering) params.set("mode", "register");
    else params.delete("mode");
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  const form = h(
    "form",
    {
      novalidate: false,
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        error.replaceChildren();
        try {
          if (mode === "register") {
            await ctx.api.register({
              email: email.value.trim(),
              password: password.value,
              name: name.value.trim(),
              tenant: tenant || "default",
            });
          } else {
            await ctx.api.login(email.value.trim(), password.value);
          }
          await ctx.refreshMe();
          ctx.navigate(next, { replace: true });
        } catch (failed) {
          error.replaceChildren(explain(failed, mode));
          submit.disabled = false;
          (mode === "register" && failed.status === 409 ? email : password).focus();
        }
      },
    },
    nameField,
    field("E-mail", email),
    h("div", { class: "field" }, h("label", { for: "password-input" }, "Password"), password, passwordHint),
    error,
    submit,
  );
  password.id = "password-input";
  password.setAttribute("aria-describedby", "password-hint");

  clear(
    ctx.root,
    panel(
      heading,
      intro,
      form,
      h("p", { class: "switch" }, switchText, " ", switcher),
      next.startsWith("/app/start") && h("p", { class: "hint" }, "After signing in you return to the charger."),
    ),
  );
  setMode(mode);
  (mode === "register" ? name : email).focus();
}

function explain(error, mode) {
  if (mode === "signin" && error.status === 401) return "Wrong e-mail or password.";
  if (error.status === 409) return "An account with this e-mail exists already. Sign in instead.";
  if (error.status === 404 && mode === "register") return "This operator does not take registrations here.";
  if (error.status === 422) {
    const errors = error.problem?.errors;
    if (Array.isArray(errors) && errors.length) {
      const fields = errors.map((e) => String(e.loc?.at?.(-1) ?? e.field ?? "")).join(" ");
      if (fields.includes("password")) return "The password must be at least 10 characters long.";
      if (fields.includes("email")) return "Please enter a valid e-mail address.";
    }
    return error.message;
  }
  if (error.status === 429) return "Too many attempts. Please wait a minute and try again.";
  return error.message || "Something went wrong. Please try again.";
}
