"""Operator authentication for this stage: the node's admin API key.

(Accounts, roles, per-tenant API keys and driver JWTs come with the driver/operator API.)
"""

from __future__ import annotations

import hmac

from fastapi import Request

from kilowatt.api.problems import Problem


def require_admin(request: Request) -> str:
    """FastAPI dependency: the caller presents the admin key as X-API-Key or a Bearer token."""
    expected: str = request.app.state.kilowatt.settings.admin_api_key
    presented = request.headers.get("x-api-key")
    if presented is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = token if scheme.lower() == "bearer" else None
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Problem(401, "Unauthorized", "a valid X-API-Key header is required")
    return "admin"
