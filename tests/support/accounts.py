"""Accounts for API tests: a driver (or operator) with an access token, and their cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from kilowatt.auth import service as auth
from kilowatt.auth.principal import Role
from kilowatt.tenants import service as tenants
from kilowatt.tokens import service as tokens
from kilowatt.users import service as users

from support.server import RunningServer

PASSWORD = "correct horse battery"


@dataclass
class Account:
    user_id: int
    tenant_id: int
    email: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def client(self, server: RunningServer) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=server.http_url, headers=self.headers, timeout=60)


async def make_account(
    server: RunningServer,
    email: str,
    *,
    role: Role = Role.DRIVER,
    tenant_id: int | None = None,
    cards: tuple[str, ...] = (),
    **card_kw: Any,
) -> Account:
    """A user of the default tenant (unless given) with the given RFID cards, logged in."""
    async with server.node.sessions() as db:
        if tenant_id is None:
            tenant_id = (await tenants.default_tenant(db)).id
        user = await users.create_user(
            db, email=email, password=PASSWORD, role=role, tenant_id=tenant_id
        )
        for id_tag in cards:
            token = await tokens.create(db, tenant_id, id_tag, **card_kw)
            token.user_id = user.id
        pair = await auth.issue_pair(db, server.node.settings, user, now=datetime.now(UTC))
        await db.commit()
        return Account(user.id, tenant_id, user.email, pair.access_token)
