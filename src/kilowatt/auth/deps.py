"""FastAPI dependencies that resolve the caller to a ``Principal`` and check what it may do.

Credentials, in order:

* ``Authorization: Bearer <JWT>`` -> the user (their role's permissions, checked enabled);
* the node's admin key (``KILOWATT_ADMIN_API_KEY``) as ``X-API-Key`` or ``Bearer`` -> the node
  (platform admin, every permission);
* ``X-API-Key: kw_…`` or ``Authorization: Bearer kw_…`` -> a tenant's API key (role operator,
  the key's permissions).

A credential that is present but invalid, expired, tampered with or revoked is a 401, never an
anonymous request; no credential at all is ``None`` (``optional_principal``) or a 401.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from kilowatt.api.problems import Problem
from kilowatt.auth import api_keys, service
from kilowatt.auth.principal import PERMISSIONS, Principal, Role
from kilowatt.config import Settings
from kilowatt.db import utcnow
from kilowatt.users.service import AccountError

__all__ = [
    "CurrentDriver",
    "CurrentPrincipal",
    "OptionalPrincipal",
    "PlatformAdmin",
    "optional_principal",
    "require_driver",
    "require_permission",
    "require_platform_admin",
    "require_principal",
]


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail)


# Query parameters that would carry a credential into URLs, and so into proxy and access logs,
# browser history and Referer headers: refused outright (RFC 6750 §5.3), never read.
CREDENTIAL_QUERY_NAMES = frozenset(
    {"access_token", "api_key", "apikey", "api-key", "x-api-key", "x_api_key", "authorization"}
)


def _refuse_credentials_in_query(request: HTTPConnection) -> None:
    for name, value in request.query_params.multi_items():
        if name.lower() in CREDENTIAL_QUERY_NAMES or api_keys.parse(value) is not None:
            raise Problem(
                400,
                "Credentials in the query string",
                "send credentials in the Authorization or X-API-Key header, never in the URL",
            )


def _presented(request: HTTPConnection) -> tuple[str, str] | None:
    """``("bearer" | "api_key", credential)`` from the request headers (a Bearer token first),
    or None when there is none. Credentials in the query string are a 400."""
    _refuse_credentials_in_query(request)
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return "bearer", credential.strip()
    key = request.headers.get("x-api-key")
    if key is not None:
        return "api_key", key.strip()
    if scheme:
        raise _unauthorized("use 'Authorization: Bearer <token>' or 'X-API-Key: <key>'")
    return None


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when the request carries no credentials; 401 for bad ones."""
    presented = _presented(request)
    if presented is None:
        return None
    return await principal_for(request, *presented)


async def connection_principal(connection: HTTPConnection) -> Principal | None:
    """``optional_principal`` for any connection (a WebSocket too)."""
    presented = _presented(connection)
    return None if presented is None else await principal_for(connection, *presented)


async def principal_for(connection: HTTPConnection, kind: str, credential: str) -> Principal:
    """The caller a credential names (``kind``: "bearer" or "api_key"); 401 if it is bad."""
    settings: Settings = connection.app.state.kilowatt.settings
    admin_key = settings.admin_api_key
    # Digests of equal length: the comparison's time says nothing about the key, not even its size.
    if admin_key and hmac.compare_digest(
        hashlib.sha256(credential.encode()).digest(), hashlib.sha256(admin_key.encode()).digest()
    ):
        return service.node_principal()
    async with connection.app.state.kilowatt.sessions() as db:
        try:
            if kind == "api_key" or api_keys.looks_like_api_key(credential):
                principal = await service.principal_for_api_key(db, credential, now=utcnow())
                await db.commit()  # last_used_at
                return principal
            return await service.principal_for_access_token(db, settings, credential)
        except AccountError as exc:
            raise _unauthorized(exc.detail) from None


async def require_principal(
    principal: Principal | None = Depends(optional_principal),
) -> Principal:
    """Any authenticated caller; 401 for anonymous requests."""
    if principal is None:
        raise _unauthorized("authentication required")
    return principal


async def require_driver(principal: Principal = Depends(require_principal)) -> Principal:
    """A logged-in driver (their own rows only); 403 for operators and keys."""
    if principal.kind != "user" or principal.role is not Role.DRIVER:
        raise Problem(403, "Forbidden", "this endpoint is for drivers")
    return principal


async def require_platform_admin(principal: Principal = Depends(require_principal)) -> Principal:
    """A platform admin or the node key; 403 for everybody else."""
    if not principal.is_platform_admin:
        raise Problem(403, "Forbidden", "platform administrators only")
    return principal


def require_permission(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if it holds ``permission`` (drivers never do); else 403."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(principal: Principal = Depends(require_principal)) -> Principal:
        if not principal.can(permission):
            raise Problem(403, "Forbidden", f"requires the permission {permission!r}")
        return principal

    dependency.__name__ = f"require_permission_{permission.replace(':', '_')}"
    return dependency


# Annotated forms, for endpoint signatures: ``async def f(principal: CurrentPrincipal) -> ...``;
# for a permission: ``Annotated[Principal, Depends(require_permission("commands:send"))]``.
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CurrentDriver = Annotated[Principal, Depends(require_driver)]
PlatformAdmin = Annotated[Principal, Depends(require_platform_admin)]
