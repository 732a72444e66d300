"""A limit on the size of API request bodies (``KILOWATT_MAX_BODY_BYTES``, default 1 MiB).

A body announced larger (``Content-Length``) is answered 413 before a byte of it is read; a
body without a length (chunked) is counted as it arrives and refused once it passes the limit,
so it is never held whole in memory. The uploads that stream to disk with their own, larger
limits (firmware images, diagnostics and log files: ``STREAMED_UPLOADS``) are left to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kilowatt.api.problems import problem_response

# (methods, path pattern) of the routes that enforce their own limit while streaming to disk:
# firmware uploads (KILOWATT_FIRMWARE_MAX_BYTES), and diagnostics and log files sent by
# stations to their signed URLs (KILOWATT_DIAGNOSTICS_MAX_BYTES).
STREAMED_UPLOADS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"POST"}), r"/api/v1/firmware"),
    (frozenset({"PUT", "POST"}), r"/diagnostics/[^/]+(?:/[^/]+)?"),
    (frozenset({"PUT", "POST"}), r"/logs/[^/]+(?:/[^/]+)?"),
)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the limit (FastAPI re-raises HTTPExceptions
    met while reading a body, so the app's handler below answers it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"a request body is at most {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> JSONResponse:
    return problem_response(
        413, "Request body too large", f"a request body is at most {limit} bytes", limit=limit
    )


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` per request body, except the ``exempt`` routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        exempt: Iterable[tuple[frozenset[str], str]] = STREAMED_UPLOADS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._exempt = [(methods, re.compile(pattern)) for methods, pattern in exempt]

    def _exempted(self, scope: Scope) -> bool:
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method in methods and p.fullmatch(path) for methods, p in self._exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempted(scope):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced > limit:
                    await too_large(limit)(scope, receive, send)
                    return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def install(app: FastAPI, max_bytes: int) -> None:
    """Limit every request body of ``app`` to ``max_bytes`` (see the module's docstring)."""

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return too_large(exc.limit)

    app.add_middleware(BodyLimit, max_bytes=max_bytes)
