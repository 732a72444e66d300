"""A webhook receiver on 127.0.0.1 with an ephemeral port: records every request it gets.

It answers 204, or what it was told for the next requests (``fail_next``: a status;
``hang_next``: no answer until the receiver stops). Tests wait for requests with ``received``,
which returns as soon as they are there (no sleeping).

    async with running_receiver() as receiver:
        url = receiver.url("/hooks")
        receiver.fail_next(2)           # two 500s, then 204s
        first, second, third = await receiver.received(3)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send

from kilowatt.webhooks.signing import verify

from support.asgi_server import serving

HANG = -1
WAIT = 15.0  # seconds a test waits for what it expects before it fails


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lowercased names
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The payload, if the request is signed with ``secret`` (else it raises)."""
        return verify(secret, self.headers, self.body)


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    _plan: deque[int] = field(default_factory=deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self._plan.extend([status] * count)

    def hang_next(self, count: int = 1) -> None:
        """Do not answer the next ``count`` requests (until the receiver stops)."""
        self._plan.extend([HANG] * count)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def received(self, count: int) -> list[Received]:
        """The first ``count`` requests, once they have arrived (at most ``WAIT`` s)."""
        async with asyncio.timeout(WAIT):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests[:count]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append(Received(scope["method"], scope["path"], headers, body))
        self._arrived.set()
        status = self._plan.popleft() if self._plan else 204
        if status == HANG:
            await self._release.wait()
            status = 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def closed_url(path: str = "/hooks") -> str:
    """A URL on 127.0.0.1 where nothing listens: a port bound and released just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with serving(receiver, "the webhook receiver") as port:
        receiver.port = port
        try:
            yield receiver
        finally:
            receiver._release.set()
