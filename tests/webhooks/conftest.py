"""A running node with tenants ``acme`` and ``bolt`` and a webhook receiver next to it.

Retries are immediate (``webhook_retry_delays=(0.0, 0.0)``: three attempts in all); a test
changes the node's settings by parametrizing ``node_settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kilowatt.auth.principal import Role
from kilowatt.events import Event
from kilowatt.users import service as users
from kilowatt.webhooks.dispatcher import WebhookDispatcher
from webhooks.receiver import WAIT, Receiver, running_receiver

from support.accounts import make_account
from support.server import RunningServer, running_server

PEOPLE = {
    "a_admin": (Role.ADMIN, "acme"),
    "a_operator": (Role.OPERATOR, "acme"),
    "a_viewer": (Role.VIEWER, "acme"),
    "b_admin": (Role.ADMIN, "bolt"),
}


@dataclass
class Node:
    server: RunningServer
    receiver: Receiver
    tenants: dict[str, int]
    stack: contextlib.AsyncExitStack

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self.server.node.webhooks

    async def client(self, name: str) -> httpx.AsyncClient:
        role, slug = PEOPLE[name]
        account = await make_account(
            self.server, f"{name}@example.com", role=role, tenant_id=self.tenants[slug]
        )
        return await self.stack.enter_async_context(account.client(self.server))

    async def subscribe(
        self, client: httpx.AsyncClient, path: str = "/hooks", **fields: Any
    ) -> dict[str, Any]:
        """A new subscription of the client's tenant to the receiver's ``path``."""
        response = await client.post(
            "/api/v1/webhooks", json={"url": self.receiver.url(path), **fields}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def publish(self, event_type: str, tenant: str | None = "acme", **data: Any) -> Event:
        tenant_id = None if tenant is None else self.tenants[tenant]
        return self.server.node.bus.publish(Event(event_type, data, tenant_id=tenant_id))

    async def deliveries(
        self,
        client: httpx.AsyncClient,
        webhook_id: int,
        until: Callable[[list[dict[str, Any]]], bool] = lambda items: True,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """The webhook's delivery log (newest first), once ``until`` holds for it: re-read
        after every attempt the dispatcher records."""
        async with asyncio.timeout(WAIT):
            while True:
                self.dispatcher.progress.clear()
                response = await client.get(
                    f"/api/v1/webhooks/{webhook_id}/deliveries", params=params
                )
                assert response.status_code == 200, response.text
                items: list[dict[str, Any]] = response.json()["items"]
                if until(items):
                    return items
                await self.dispatcher.progress.wait()


@pytest.fixture
def node_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@pytest.fixture
async def node(
    database_url: str, tmp_path: Path, receiver: Receiver, node_settings: dict[str, Any]
) -> AsyncIterator[Node]:
    settings = {"webhook_retry_delays": (0.0, 0.0), **node_settings}
    async with running_server(database_url, tmp_path, **settings) as server:
        async with server.node.sessions() as db:
            acme = await users.create_tenant(db, name="Acme Charging", slug="acme")
            bolt = await users.create_tenant(db, name="Bolt Energy", slug="bolt")
            await db.commit()
        async with contextlib.AsyncExitStack() as stack:
            yield Node(server, receiver, {"acme": acme.id, "bolt": bolt.id}, stack)


def finished(count: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    """At least ``count`` deliveries, none of them still pending or being sent."""

    def check(items: list[dict[str, Any]]) -> bool:
        return len(items) >= count and all(i["state"] in ("delivered", "failed") for i in items)

    return check
