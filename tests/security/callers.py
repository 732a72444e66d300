"""Who calls the API in the security tests: the roster, and the forged credentials.

Two tenants: ``a`` (slug ``acme``), whose rows the matrix asks for, and ``b`` (``bolt``), the
other tenant. Every caller is described by what the API should grant it (tenant, role,
permissions); ``security.world`` gives each one its credentials on a running node.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt

from kilowatt.auth.principal import PERMISSIONS, ROLE_PERMISSIONS, Role

# How the caller authenticates.
USER, API_KEY, NODE, ANONYMOUS, FORGED = "user", "api_key", "node", "anonymous", "forged"


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    kind: str  # USER | API_KEY | NODE | ANONYMOUS | FORGED
    tenant: str | None = None  # "a" | "b" | None (every tenant, or nobody)
    role: Role | None = None
    permissions: frozenset[str] = frozenset()
    what: str = ""

    @property
    def valid(self) -> bool:
        """Holds a credential the node accepts."""
        return self.kind in (USER, API_KEY, NODE)

    @property
    def is_driver(self) -> bool:
        return self.role is Role.DRIVER

    @property
    def is_platform(self) -> bool:
        return self.valid and self.tenant is None

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def _user(name: str, tenant: str | None, role: Role, what: str) -> Caller:
    return Caller(name, USER, tenant, role, ROLE_PERMISSIONS[role], what)


def _key(name: str, tenant: str, permissions: frozenset[str], what: str) -> Caller:
    return Caller(name, API_KEY, tenant, Role.OPERATOR, permissions, what)


def _forged(name: str, what: str) -> Caller:
    return Caller(name, FORGED, what=what)


# The owner of the rows the matrix asks for: ``driver`` (a driver's rows) or tenant a's staff.
CALLERS: tuple[Caller, ...] = (
    _user("driver", "a", Role.DRIVER, "the driver who owns the cards and sessions asked for"),
    _user(
        "driver2", "a", Role.DRIVER, "another driver of the same tenant, with cards of their own"
    ),
    _user("b_driver", "b", Role.DRIVER, "a driver of the other tenant"),
    _user("a_viewer", "a", Role.VIEWER, "tenant a's viewer (reads)"),
    _user("a_operator", "a", Role.OPERATOR, "tenant a's operator (reads, acts)"),
    _user("a_admin", "a", Role.ADMIN, "tenant a's admin (manages the tenant)"),
    _user("b_admin", "b", Role.ADMIN, "the other tenant's admin"),
    _user("platform", None, Role.PLATFORM_ADMIN, "a platform admin (a user without a tenant)"),
    Caller("node", NODE, None, Role.PLATFORM_ADMIN, PERMISSIONS, "the node's admin key"),
    _key("a_key_all", "a", PERMISSIONS, "tenant a's API key holding every permission"),
    _key("a_key_ocpp", "a", frozenset({"ocpp_api"}), "tenant a's API key for /API/ only"),
    _key("a_key_none", "a", frozenset(), "tenant a's API key without any permission"),
    Caller("anonymous", ANONYMOUS, what="no credentials"),
    _forged("expired", "a platform admin's access token, expired (right key)"),
    _forged(
        "tampered", "a driver's token with sub/role changed to the platform admin's, signature kept"
    ),
    _forged("alg_none", "a platform admin's claims with alg: none and no signature"),
    _forged("other_secret", "a platform admin's claims signed HS256 with another secret"),
    _forged("refresh_as_access", "a refresh token presented as an access token"),
    _forged("disabled_user", "a valid access token of a user disabled since"),
    _forged("revoked_key", "an API key (every permission) revoked since"),
    _forged("unknown_key", "a well-formed API key that does not exist"),
    _forged("basic_scheme", "Authorization: Basic (neither Bearer nor X-API-Key)"),
)
BY_NAME: dict[str, Caller] = {c.name: c for c in CALLERS}


# ---- forging --------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def access_claims(
    user_id: int, tenant_id: int | None, role: str, *, ttl: int = 900
) -> dict[str, Any]:
    """Claims shaped exactly like the node's access tokens (``kilowatt.auth.jwt``)."""
    now = datetime.now(UTC)
    return {
        "sub": str(user_id),
        "tid": tenant_id,
        "role": role,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": "forged",
    }


def expired(claims: dict[str, Any], secret: str) -> str:
    """Properly signed, but expired an hour ago (well past any leeway)."""
    past = datetime.now(UTC) - timedelta(hours=2)
    late = {
        **claims,
        "iat": int(past.timestamp()),
        "exp": int((past + timedelta(hours=1)).timestamp()),
    }
    return pyjwt.encode(late, secret, algorithm="HS256")


def tampered(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims.update(changes)
    return ".".join((header, _b64(json.dumps(claims).encode()), signature))


def alg_none(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def other_secret(claims: dict[str, Any]) -> str:
    return pyjwt.encode(claims, "another secret, 32 bytes or longer!!", algorithm="HS256")
