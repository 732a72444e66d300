"""Who is calling: a driver, an operator (by role), an API key, or the node's admin key.

Every API dependency resolves the caller to one ``Principal``; every query is scoped with it
(an operator to their tenant, a driver to their own rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    DRIVER = "driver"
    VIEWER = "viewer"  # an operator who may read
    OPERATOR = "operator"  # … and act: commands, tokens, sessions
    ADMIN = "admin"  # … and manage the tenant: stations, users, API keys
    PLATFORM_ADMIN = "platform_admin"  # … every tenant, and the tenants themselves


# Operator roles in increasing power; drivers are not on this ladder.
OPERATOR_RANK: dict[Role, int] = {
    Role.VIEWER: 1,
    Role.OPERATOR: 2,
    Role.ADMIN: 3,
    Role.PLATFORM_ADMIN: 4,
}

# What an API key may be granted; an operator role implies the permissions listed for it.
PERMISSIONS: frozenset[str] = frozenset(
    {
        "stations:read",
        "stations:write",
        "commands:send",
        "tokens:read",
        "tokens:write",
        "sessions:read",
        "sessions:write",
        "transactions:read",
        "users:read",
        "users:write",
        "api_keys:write",
        "tariffs:read",
        "tariffs:write",
        "billing:read",  # costs, receipts, payments, exports
        "billing:refund",
        "webhooks:read",  # subscriptions and their delivery log
        "webhooks:write",  # create, change, rotate secrets, test-fire, redeliver
        "ocpp_api",  # the OCPP.Core-compatible /API/ routes
        "reservations:read",  # the tenant's reservations (drivers always see their own)
        "reservations:write",  # reserve for any token of the tenant, cancel
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.DRIVER: frozenset(),
    Role.VIEWER: frozenset(
        {
            "stations:read",
            "tokens:read",
            "sessions:read",
            "transactions:read",
            "users:read",
            "tariffs:read",
            "billing:read",
            "reservations:read",
        }
    ),
    Role.OPERATOR: frozenset(
        {
            "stations:read",
            "tokens:read",
            "tokens:write",
            "sessions:read",
            "sessions:write",
            "transactions:read",
            "users:read",
            "commands:send",
            "tariffs:read",
            "billing:read",
            "webhooks:read",
            "ocpp_api",
            "reservations:read",
            "reservations:write",
        }
    ),
    Role.ADMIN: PERMISSIONS,
    Role.PLATFORM_ADMIN: PERMISSIONS,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    kind: str  # "user" | "api_key" | "node"
    role: Role
    tenant_id: int | None  # None only for a platform admin (or the node key): every tenant
    user_id: int | None = None
    api_key_id: int | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_driver(self) -> bool:
        return self.role is Role.DRIVER

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    @property
    def actor(self) -> str:
        """Who acted, for records and logs: ``user:<id>``, ``api_key:<id>`` or the kind."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        if self.api_key_id is not None:
            return f"api_key:{self.api_key_id}"
        return self.kind

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def sees_tenant(self, tenant_id: int) -> bool:
        """Whether rows of ``tenant_id`` are visible to this caller at all."""
        return self.tenant_id is None or self.tenant_id == tenant_id
