"""What the operator API needs from authentication: the permission each endpoint requires, the
tenant a new row goes to, and how a caller is named in the records it leaves.

Who the caller is comes from ``kilowatt.auth.deps``. Every query is scoped with
``principal.tenant_id`` (``None``: a platform admin or the node key, who see every tenant), and
a row of another tenant is answered 404, never 403, so that ids do not leak.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.api.problems import Problem
from kilowatt.auth.deps import require_permission
from kilowatt.auth.principal import Principal
from kilowatt.tenants import service as tenants
from kilowatt.users import repository as accounts

StationsRead = Annotated[Principal, Depends(require_permission("stations:read"))]
StationsWrite = Annotated[Principal, Depends(require_permission("stations:write"))]
CommandsSend = Annotated[Principal, Depends(require_permission("commands:send"))]
TokensRead = Annotated[Principal, Depends(require_permission("tokens:read"))]
TokensWrite = Annotated[Principal, Depends(require_permission("tokens:write"))]
TransactionsRead = Annotated[Principal, Depends(require_permission("transactions:read"))]
TariffsRead = Annotated[Principal, Depends(require_permission("tariffs:read"))]
TariffsWrite = Annotated[Principal, Depends(require_permission("tariffs:write"))]
BillingRead = Annotated[Principal, Depends(require_permission("billing:read"))]
BillingRefund = Annotated[Principal, Depends(require_permission("billing:refund"))]
WebhooksRead = Annotated[Principal, Depends(require_permission("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_permission("webhooks:write"))]


class ProblemOut(BaseModel):
    """An error, as an RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


_MEANING = {
    401: "no credentials, or invalid, expired or revoked ones",
    403: "authenticated, but without the permission this endpoint needs",
    404: "no such row in the caller's tenant (another tenant's rows are answered the same)",
    409: "refused in the row's current state",
    422: "the request does not match the schema (`errors` says where), or an invalid command",
    413: "the request body is larger than the limit (`KILOWATT_MAX_BODY_BYTES`)",
    429: "too many failed attempts: wait the `Retry-After` header's seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the problem documents an endpoint may answer with."""
    schema = ProblemOut.model_json_schema()
    return {
        status: {
            "description": _MEANING[status],
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }


# Every guarded router: 401, 403 and 422 (as problem documents, in place of FastAPI's default
# 422 body); the endpoints that name a row add 404.
GUARDED = problem_responses(401, 403, 422)
NOT_FOUND = problem_responses(404)
NOT_FOUND_OR_CONFLICT = problem_responses(404, 409)

# How requests name rows. Ids are INTEGER keys (PostgreSQL int4): a larger number is a 422 up
# front, where the database would answer it with an error.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def id_query(description: str) -> Any:
    """An optional id filter in the query string."""
    return Query(None, ge=1, le=MAX_ID, description=description)


# A tenant, by its id or its slug (in a body; a query string's digits are an id).
TenantRef = int | str
TenantRefIn = (
    Annotated[int, Field(ge=1, le=MAX_ID)] | Annotated[str, Field(min_length=1, max_length=64)]
)
TENANT_FIELD_DESCRIPTION = (
    "platform admins: the tenant's id or slug (default: the default tenant); "
    "others may only name their own"
)


def requested_by(principal: Principal) -> str:
    """The caller as recorded on what they cause (commands): ``user:7``, ``api_key:3``, ``node``."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.api_key_id is not None:
        return f"api_key:{principal.api_key_id}"
    return principal.kind


async def target_tenant(db: AsyncSession, principal: Principal, ref: TenantRef | None) -> int:
    """The tenant a row the caller creates (or names) belongs to.

    A tenant's caller gets their own tenant (naming another one is a 404); a platform admin
    names any tenant, or gets the default tenant, which owns what is created without one.
    """
    if ref is None:
        if principal.tenant_id is not None:
            return principal.tenant_id
        return (await tenants.default_tenant(db)).id
    if isinstance(ref, str) and ref.isdecimal():
        ref = int(ref)
    if isinstance(ref, int):
        tenant = await accounts.tenant_by_id(db, ref) if 1 <= ref <= MAX_ID else None
    else:
        tenant = await accounts.tenant_by_slug(db, ref)
    if tenant is None or not principal.sees_tenant(tenant.id):
        raise Problem(404, "Tenant not found", f"no tenant {ref!r}")
    return tenant.id


# A list's ?tenant= filter: platform admins name any tenant (id or slug); others their own.
TenantQuery = Query(None, max_length=64, description="platform admins: the tenant's id or slug")
