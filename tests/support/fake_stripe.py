"""A fake Stripe API on 127.0.0.1 with an ephemeral port, for tests that speak real HTTP.

It keeps the parts of Stripe's v1 REST API that Kilowatt's StripeProvider uses, with Stripe's
wire behaviour: Bearer (or Basic) auth with the secret key, form-encoded bodies in bracket
notation, JSON objects with Stripe's id prefixes, Stripe's error bodies and status codes, and
idempotency keys (the same key and parameters replay the saved answer with
``Idempotent-Replayed: true``; the same key with other parameters is a 400 ``idempotency_error``).
Like Stripe, an answer is saved once the endpoint starts executing (a card decline is saved) but
not when authentication or parameter validation fails.

Test cards are Stripe's test PaymentMethod tokens (``pm_card_visa``, ``pm_card_chargeDeclined``
…). They can be used directly in a PaymentIntent, or ``attach_card`` turns one into a new
``pm_…`` attached to a customer, which is what confirming a SetupIntent in the app does.

    async with running_fake_stripe() as fake:
        provider = StripeProvider(
            fake.api_key, webhook_secret=fake.webhook_secret, api_base=fake.url
        )
        customer_id = await provider.create_customer(...)
        method_id = fake.attach_card(customer_id, "pm_card_chargeDeclined")
        fake.fail_next("/v1/payment_intents", status=500)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, NoReturn
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from support.asgi_server import serving

Obj = dict[str, Any]


class TestCard(NamedTuple):
    brand: str
    last4: str
    outcome: Literal["ok", "decline", "authentication_required"]
    decline_code: str | None = None
    message: str | None = None


# Stripe's test PaymentMethod tokens (docs.stripe.com/testing) and what a charge on them does.
TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242", "ok"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "ok"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "decline", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "decline", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authentication_required"),
}
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


class RecordedRequest(NamedTuple):
    method: str
    path: str
    form: Obj  # the decoded body (POST) or query (GET), nested as Stripe means it
    idempotency_key: str | None


class StripeApiError(Exception):
    """An error answer in Stripe's shape. ``saved`` is false for failures Stripe does not keep
    under an idempotency key (authentication, parameter validation)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved
        fields = {"type": type, "code": code, "decline_code": decline_code, "param": param}
        self.body: Obj = {
            "error": {"message": message}
            | {k: v for k, v in fields.items() if v is not None}
            | extra
        }


def invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeApiError:
    """A parameter validation failure: 400, and not saved under the idempotency key."""
    return StripeApiError(400, message, code=code, param=param, saved=False)


@dataclass
class _Failure:
    path_prefix: str
    status: int
    error_type: str
    code: str | None
    message: str


@dataclass
class _Saved:
    method: str
    path: str
    form: Obj
    status: int
    body: str  # the answer as sent: replays must not see later changes to the object
    request_id: str


# --- form encoding ------------------------------------------------------------------------


def decode_form(text: str) -> Obj:
    """``a[b]=1&c[0]=x&c[1]=y&d[]=z`` → ``{"a": {"b": "1"}, "c": ["x", "y"], "d": ["z"]}``."""
    result: Obj = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])] if match else [key]
        node = result
        for part in parts[:-1]:
            name = part or str(len(node))  # "x[]" appends
            if not isinstance(node.get(name), dict):
                node[name] = {}
            node = node[name]
        node[parts[-1] or str(len(node))] = value
    return {k: _lists(v, k) for k, v in result.items()}


def _lists(node: Any, name: str) -> Any:
    """Arrays arrive as ``x[0]``, ``x[1]`` (or ``x[]``); metadata keys stay keys."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v, k) for k, v in node.items()}
    if name != "metadata" and converted and set(converted) == {str(i) for i in range(len(node))}:
        return [converted[str(i)] for i in range(len(node))]
    return converted


def _new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return f"{prefix}_" + "".join(secrets.choice(alphabet) for _ in range(length))


def _integer(form: Obj, name: str, *, required: bool = False) -> int | None:
    raw = form.get(name)
    if raw is None:
        if required:
            raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _boolean(form: Obj, name: str) -> bool:
    raw = form.get(name, "false")
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)
    return bool(raw == "true")


def _metadata(form: Obj) -> dict[str, str]:
    raw = form.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid("Invalid metadata: must be a hash of strings", param="metadata")
    return {k: v for k, v in raw.items() if v != ""}


def _only(form: Obj, allowed: set[str]) -> None:
    for name in form:
        if name == "payment_method_types":
            # Removed from writable parameters in the API versions the current SDK pins.
            raise invalid(
                "payment_method_types is no longer supported; use allowed_payment_method_types",
                code="payment_method_types_no_longer_supported",
                param=name,
            )
        if name not in allowed | {"expand"}:
            raise invalid(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


# --- the fake -----------------------------------------------------------------------------


@dataclass
class FakeStripe:
    """State and behaviour of the fake; serve it with ``running_fake_stripe``."""

    api_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(16))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    # Off-session, Stripe refuses a card that needs 3-D Secure with a 402 authentication_required
    # ("error"); "requires_action" leaves the PaymentIntent waiting for the customer instead,
    # which is what an on-session confirmation does.
    authentication_off_session: Literal["error", "requires_action"] = "error"
    url: str = ""
    customers: dict[str, Obj] = field(default_factory=dict)
    setup_intents: dict[str, Obj] = field(default_factory=dict)
    payment_methods: dict[str, Obj] = field(default_factory=dict)
    payment_intents: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    _saved: dict[str, _Saved] = field(default_factory=dict)
    _test_cards: dict[str, str] = field(default_factory=dict)  # pm id -> test card token
    _failures: list[_Failure] = field(default_factory=list)

    # --- test helpers ---------------------------------------------------------------------

    def attach_card(self, customer_id: str, pm_id: str = "pm_card_visa") -> str:
        """What the app's confirmation of a SetupIntent does: a new ``pm_…`` made from the test
        card ``pm_id``, attached to the customer (whose open SetupIntent succeeds). Returns its
        id."""
        if customer_id not in self.customers:
            raise KeyError(f"no customer {customer_id}")
        method = self._card_method(pm_id, _new_id("pm"), customer_id)
        self.payment_methods[method["id"]] = method
        self._test_cards[method["id"]] = pm_id
        for intent in self.setup_intents.values():
            if intent["customer"] == customer_id and intent["status"] == "requires_payment_method":
                intent.update(status="succeeded", payment_method=method["id"])
        return str(method["id"])

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        error_type: str = "api_error",
        *,
        code: str | None = None,
        message: str = "An unknown error occurred",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` with this
        error (the SDK's own retries count).

        The failure happens before the endpoint runs, so nothing is saved under the request's
        idempotency key and a retry with the same key executes normally.
        """
        failure = _Failure(path_prefix, status, error_type, code, message)
        self._failures.extend([failure] * times)

    def signed_event(
        self,
        event_type: str,
        obj: Obj,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook body for ``obj`` and the headers Stripe would sign it with."""
        created = int(time.time()) if timestamp is None else timestamp
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        payload = json.dumps(event).encode()
        key = (secret or self.webhook_secret).encode()
        signature = hmac.new(key, f"{created}.".encode() + payload, hashlib.sha256).hexdigest()
        return payload, {"Stripe-Signature": f"t={created},v1={signature}"}

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- HTTP -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        method, path = request.method, request.url.path
        form = decode_form(body.decode() if method == "POST" else request.url.query)
        # Stripe ignores idempotency keys on GET and DELETE.
        key = request.headers.get("idempotency-key") if method == "POST" else None
        self.requests.append(RecordedRequest(method, path, form, key))
        headers = {"Request-Id": _new_id("req", 14)}
        if key:
            headers["Idempotency-Key"] = key
        try:
            self._authenticate(request.headers.get("authorization"))
            status, answer = self._answer(method, path, form, key, headers)
        except StripeApiError as err:
            status, answer = err.status, json.dumps(err.body)
        response = Response(answer, status, headers, media_type="application/json")
        await response(scope, receive, send)

    def _answer(
        self, method: str, path: str, form: Obj, key: str | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        for failure in self._failures:
            if path.startswith(failure.path_prefix):
                self._failures.remove(failure)
                raise StripeApiError(
                    failure.status, failure.message, type=failure.error_type, code=failure.code
                )
        handler, ids = self._route(method, path)
        if key is not None:
            saved = self._saved.get(key)
            if saved is not None:
                if (saved.method, saved.path, saved.form) != (method, path, form):
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        type="idempotency_error",
                    )
                headers.update(
                    {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
                )
                return saved.status, saved.body
        try:
            status, body = 200, json.dumps(self._expand(handler(form, *ids), form))
        except StripeApiError as err:
            if not err.saved:
                raise
            status, body = err.status, json.dumps(err.body)
        if key is not None:
            self._saved[key] = _Saved(method, path, form, status, body, headers["Request-Id"])
        return status, body

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):
                credentials = base64.b64decode(credentials).decode().partition(":")[0]
        elif scheme.lower() != "bearer":
            credentials = ""
        if not credentials:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth "
                "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                saved=False,
            )
        if not hmac.compare_digest(credentials, self.api_key):
            raise StripeApiError(
                401,
                f"Invalid API Key provided: {credentials[:8]}****{credentials[-4:]}",
                saved=False,
            )

    def _route(self, method: str, path: str) -> tuple[Callable[..., Obj], tuple[str, ...]]:
        routes: list[tuple[str, str, Callable[..., Obj]]] = [
            ("POST", r"/v1/customers", self._create_customer),
            ("GET", r"/v1/customers/([^/]+)", self._get_customer),
            ("POST", r"/v1/setup_intents", self._create_setup_intent),
            ("GET", r"/v1/setup_intents/([^/]+)", self._get_setup_intent),
            ("GET", r"/v1/payment_methods/([^/]+)", self._get_payment_method),
            ("POST", r"/v1/payment_intents", self._create_payment_intent),
            ("GET", r"/v1/payment_intents/([^/]+)", self._get_payment_intent),
            ("POST", r"/v1/payment_intents/([^/]+)/capture", self._capture),
            ("POST", r"/v1/payment_intents/([^/]+)/cancel", self._cancel),
            ("POST", r"/v1/refunds", self._create_refund),
            ("GET", r"/v1/refunds/([^/]+)", self._get_refund),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler, match.groups()
        raise StripeApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            saved=False,
        )

    def _expand(self, obj: Obj, form: Obj) -> Obj:
        """``expand[]=customer`` and the like, one level deep."""
        expand = form.get("expand", [])
        if not isinstance(expand, list):
            raise invalid("Invalid array", param="expand")
        found = dict(obj)
        for name in expand:
            value = found.get(name)
            for store in (self.customers, self.payment_methods, self.payment_intents):
                if isinstance(value, str) and value in store:
                    found[name] = store[value]
        return found

    # --- customers, setup intents, payment methods ----------------------------------------

    def _create_customer(self, form: Obj) -> Obj:
        _only(form, {"email", "name", "description", "metadata"})
        customer: Obj = {
            "id": _new_id("cus", 14),
            "object": "customer",
            "created": int(time.time()),
            "description": form.get("description"),
            "email": form.get("email"),
            "livemode": False,
            "metadata": _metadata(form),
            "name": form.get("name"),
        }
        self.customers[customer["id"]] = customer
        return customer

    def _get_customer(self, form: Obj, customer_id: str) -> Obj:
        return self._find(self.customers, customer_id, "customer", "id", 404)

    def _create_setup_intent(self, form: Obj) -> Obj:
        _only(
            form,
            {"customer", "usage", "allowed_payment_method_types", "description"} | {"metadata"},
        )
        customer = form.get("customer")
        if customer is not None:
            self._find(self.customers, customer, "customer", "customer")
        usage = form.get("usage", "off_session")
        if usage not in ("off_session", "on_session"):
            raise invalid(f"Invalid usage: {usage}", param="usage")
        intent_id = _new_id("seti")
        intent: Obj = {
            "id": intent_id,
            "object": "setup_intent",
            "allowed_payment_method_types": form.get("allowed_payment_method_types"),
            "client_secret": f"{intent_id}_secret_{_new_id('x')[2:]}",
            "created": int(time.time()),
            "customer": customer,
            "description": form.get("description"),
            "last_setup_error": None,
            "livemode": False,
            "metadata": _metadata(form),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": form.get("allowed_payment_method_types") or ["card"],
            "status": "requires_payment_method",
            "usage": usage,
        }
        self.setup_intents[intent_id] = intent
        return intent

    def _get_setup_intent(self, form: Obj, intent_id: str) -> Obj:
        return self._find(self.setup_intents, intent_id, "setup_intent", "intent", 404)

    def _get_payment_method(self, form: Obj, method_id: str) -> Obj:
        if method_id in TEST_CARDS:
            return self._card_method(method_id, method_id, None)
        return self._find(self.payment_methods, method_id, "PaymentMethod", "payment_method", 404)

    @staticmethod
    def _card_method(token: str, method_id: str, customer_id: str | None) -> Obj:
        card = TEST_CARDS[token]
        return {
            "id": method_id,
            "object": "payment_method",
            "card": {
                "brand": card.brand,
                "country": "US",
                "exp_month": 12,
                "exp_year": time.gmtime().tm_year + 3,
                "funding": "credit",
                "last4": card.last4,
            },
            "created": int(time.time()),
            "customer": customer_id,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }

    @staticmethod
    def _find(store: dict[str, Obj], key: Any, name: str, param: str, status: int = 400) -> Obj:
        found = store.get(key) if isinstance(key, str) else None
        if found is None:
            raise StripeApiError(
                status,
                f"No such {name}: '{key}'",
                code="resource_missing",
                param=param,
                saved=False,
            )
        return found

    # --- payment intents ------------------------------------------------------------------

    def _create_payment_intent(self, form: Obj) -> Obj:
        _only(
            form,
            {"amount", "currency", "customer", "payment_method", "capture_method", "confirm"}
            | {"off_session", "description", "metadata", "allowed_payment_method_types"}
            | {"return_url", "error_on_requires_action"},
        )
        amount = _integer(form, "amount", required=True)
        assert amount is not None
        if amount < 1:
            raise invalid("Amount must be at least 1", code="amount_too_small", param="amount")
        currency = form.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            code = "parameter_missing" if currency is None else None
            raise invalid(f"Invalid currency: {currency}", code=code, param="currency")
        customer = form.get("customer")
        if customer is not None:
            self._find(self.customers, customer, "customer", "customer")
        capture_method = form.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise invalid(f"Invalid capture_method: {capture_method}", param="capture_method")
        confirm, off_session = _boolean(form, "confirm"), _boolean(form, "off_session")
        if off_session and not confirm:
            raise invalid("off_session can only be used when confirm=true", param="off_session")
        method = self._payment_method_for(form.get("payment_method"), customer, confirm=confirm)
        intent_id = _new_id("pi")
        intent: Obj = {
            "id": intent_id,
            "object": "payment_intent",
            "allowed_payment_method_types": form.get("allowed_payment_method_types"),
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{_new_id('x')[2:]}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency.lower(),
            "customer": customer,
            "description": form.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(form),
            "next_action": None,
            "payment_method": method["id"] if method else None,
            "payment_method_types": ["card"],
            "status": "requires_confirmation" if method else "requires_payment_method",
        }
        self.payment_intents[intent_id] = intent
        if confirm and method is not None:
            self._confirm(intent, method, off_session=off_session)
        return intent

    def _payment_method_for(self, method_id: Any, customer: Any, *, confirm: bool) -> Obj | None:
        if method_id is None:
            if confirm:
                raise invalid(
                    "You cannot confirm this PaymentIntent because it's missing a payment "
                    "method. Specify a payment method attached to the customer.",
                    code="resource_missing",
                    param="payment_method",
                )
            return None
        if method_id in TEST_CARDS:
            return self._card_method(method_id, method_id, None)
        method = self._find(self.payment_methods, method_id, "PaymentMethod", "payment_method")
        if method["customer"] is not None and method["customer"] != customer:
            raise invalid(
                f"The customer does not have a payment method with the ID {method_id}. The "
                "payment method must be attached to the customer.",
                code="resource_missing",
                param="payment_method",
            )
        return method

    def _confirm(self, intent: Obj, method: Obj, *, off_session: bool) -> None:
        card = self._test_card(method)
        if card.outcome == "authentication_required":
            if not off_session or self.authentication_off_session == "requires_action":
                intent.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
                return
            self._decline(
                intent,
                method,
                code="authentication_required",
                decline_code="authentication_required",
                message="Your card was declined. This transaction requires authentication.",
            )
        if card.outcome == "decline":
            self._decline(
                intent,
                method,
                code="card_declined",
                decline_code=card.decline_code,
                message=card.message or "Your card was declined.",
            )
        intent["latest_charge"] = _new_id("ch")
        if intent["capture_method"] == "manual":
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])

    def _test_card(self, method: Obj) -> TestCard:
        # A pm_… made by attach_card behaves like the test card it was made from.
        method_id: str = method["id"]
        return TEST_CARDS[self._test_cards.get(method_id, method_id)]

    def _decline(self, intent: Obj, method: Obj, **reason: Any) -> NoReturn:
        charge = _new_id("ch")
        error = {"type": "card_error", "charge": charge, "payment_method": method} | reason
        intent.update(
            status="requires_payment_method", latest_charge=charge, last_payment_error=error
        )
        message = reason.pop("message")
        raise StripeApiError(
            402,
            message,
            type="card_error",
            charge=charge,
            payment_intent=dict(intent),
            payment_method=method,
            **reason,
        )

    def _get_payment_intent(self, form: Obj, intent_id: str) -> Obj:
        return self._find(self.payment_intents, intent_id, "payment_intent", "intent", 404)

    def _capture(self, form: Obj, intent_id: str) -> Obj:
        _only(form, {"amount_to_capture", "metadata"})
        intent = self._get_payment_intent(form, intent_id)
        if intent["status"] != "requires_capture":
            self._unexpected_state(intent, "captured", ("requires_capture",))
        amount = _integer(form, "amount_to_capture")
        if amount is not None and not 0 < amount <= intent["amount_capturable"]:
            raise invalid(
                f"The amount to capture ({amount}) must be positive and at most the amount "
                f"capturable ({intent['amount_capturable']}).",
                code="amount_too_large" if amount > 0 else "amount_too_small",
                param="amount_to_capture",
            )
        received = intent["amount_capturable"] if amount is None else amount
        intent.update(status="succeeded", amount_received=received, amount_capturable=0)
        intent["metadata"] |= _metadata(form)
        return intent

    def _cancel(self, form: Obj, intent_id: str) -> Obj:
        _only(form, {"cancellation_reason"})
        intent = self._get_payment_intent(form, intent_id)
        reason = form.get("cancellation_reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
            raise invalid(f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
        if intent["status"] not in CANCELABLE:
            self._unexpected_state(intent, "canceled", CANCELABLE)
        intent.update(
            status="canceled",
            amount_capturable=0,
            canceled_at=int(time.time()),
            cancellation_reason=reason,
        )
        return intent

    @staticmethod
    def _unexpected_state(intent: Obj, verb: str, allowed: tuple[str, ...]) -> NoReturn:
        raise StripeApiError(
            400,
            f"This PaymentIntent could not be {verb} because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be {verb}: {', '.join(allowed)}.",
            code="payment_intent_unexpected_state",
            payment_intent=dict(intent),
        )

    # --- refunds --------------------------------------------------------------------------

    def _create_refund(self, form: Obj) -> Obj:
        _only(form, {"payment_intent", "charge", "amount", "reason", "metadata"})
        intent = self._intent_to_refund(form)
        reason = form.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise invalid(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        left = intent["amount_received"] - refunded
        if left <= 0:
            raise StripeApiError(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _integer(form, "amount")
        amount = left if amount is None else amount
        if not 0 < amount <= left:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
                if amount > 0
                else "Refund amount must be positive",
                code="amount_too_large" if amount > 0 else "amount_too_small",
                param="amount",
            )
        refund: Obj = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": _metadata(form),
            "payment_intent": intent["id"],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return refund

    def _intent_to_refund(self, form: Obj) -> Obj:
        intent_id, charge = form.get("payment_intent"), form.get("charge")
        if charge is not None:
            matches = [i for i in self.payment_intents.values() if i["latest_charge"] == charge]
            if not matches:
                raise invalid(
                    f"No such charge: '{charge}'", code="resource_missing", param="charge"
                )
            intent = matches[0]
        elif intent_id is not None:
            intent = self._find(self.payment_intents, intent_id, "payment_intent", "payment_intent")
        else:
            raise invalid(
                "One of the following params should be provided for this request: payment_intent "
                "or charge.",
                code="parameter_missing",
            )
        if intent["status"] != "succeeded":
            raise StripeApiError(
                400,
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            )
        return intent

    def _get_refund(self, form: Obj, refund_id: str) -> Obj:
        return self._find(self.refunds, refund_id, "refund", "id", 404)


# --- serving ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_fake_stripe(**options: Any) -> AsyncIterator[FakeStripe]:
    """Serve a new FakeStripe (``options`` are its fields) until the block ends."""
    fake = FakeStripe(**options)
    async with serving(fake, "the fake Stripe server") as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
