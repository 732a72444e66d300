"""Logging: JSON lines in production, readable lines in development; a request id that follows
a request from the API through the command to the charger's reply; no secret in any line.

``KILOWATT_LOG_FORMAT`` = ``text`` (default) or ``json``. The request id comes from the
client's ``X-Request-ID`` (if it is a sane token) or is generated, is echoed in the response's
``X-Request-ID``, and is on every line logged while the request is handled — including the
command service's lines about the command it sent and the charger's answer.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("kilowatt_request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# What must never reach a log line, whatever code logged it: credentials in headers, tokens,
# keys, passwords in URLs or key=value text — each pattern with its replacement.
_SECRETS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[redacted]"),
    (re.compile(r"\bkw_[A-Za-z0-9_-]{8,}"), "[redacted]"),  # Kilowatt API keys, the admin key
    (re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}"), "[redacted]"),  # Stripe secret keys
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]{8,}"), "[redacted]"),  # webhook signing secrets
    (re.compile(r"\b(seti|pi)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), "[redacted]"),  # client secrets
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization(?:key)?)"
            r"(\"?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',;&]+)"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "://[redacted]@"),  # user:password@ in URLs
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Redacting(logging.Filter):
    """Render the message once, scrub it, and keep only the scrubbed text on the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what we have rather than nothing
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        if record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s]: %(message)s"


def configure(level: str, fmt: str = "text") -> None:
    """Set up the root logger (uvicorn's loggers propagate to it) for ``kilowatt serve``."""
    handler = logging.StreamHandler()
    handler.addFilter(Redacting())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class RequestIds:
    """ASGI middleware: a request id per HTTP request and WebSocket, in the context and echoed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SANE_ID.match(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None
