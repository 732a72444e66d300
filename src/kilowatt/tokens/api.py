"""Tokens (OCPP idTags) API: operators manage their tenant's, drivers their own cards.

Operators and API keys: ``/api/v1/tokens`` with ``tokens:read`` / ``tokens:write``. Drivers:
``/api/v1/me/tokens``; a driver never sees another's cards (they are a 404, as no card is).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.api.auth import (
    GUARDED,
    MAX_ID,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    TENANT_FIELD_DESCRIPTION,
    TenantQuery,
    TenantRefIn,
    TokensRead,
    TokensWrite,
    id_query,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import CurrentDriver
from kilowatt.auth.principal import Principal
from kilowatt.billing.schemas import TokenGroup
from kilowatt.tokens import service
from kilowatt.tokens.models import Token
from kilowatt.tokens.service import TokenError

router = APIRouter(prefix="/api/v1", tags=["tokens"], responses=GUARDED)

Status = Literal["Accepted", "Blocked", "Expired", "Invalid"]
# An RFID card's UID or an app token: printable ASCII, no spaces (OCPP 1.6 CiString20).
IdTag = Field(min_length=1, max_length=20, pattern=r"^[!-~]+$")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_tag: str = IdTag
    status: Status = "Accepted"
    expiry_date: AwareDatetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=20)
    max_concurrent_transactions: int = Field(default=1, ge=1, le=100)
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the owner: a user of the tenant"
    )
    token_group: TokenGroup | None = Field(
        default=None, description="the group whose tariffs apply to the token, e.g. members"
    )
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)


class TokenUpdate(BaseModel):
    """Only the fields given change; ``null`` clears expiry, parent, owner and group."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    expiry_date: AwareDatetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=20)
    max_concurrent_transactions: int | None = Field(default=None, ge=1, le=100)
    user_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    token_group: TokenGroup | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    id_tag: str
    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None
    max_concurrent_transactions: int
    user_id: int | None
    token_group: str | None
    created_at: datetime


class CardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_tag: str = IdTag


class CardOut(BaseModel):
    """A driver's own card, as they see it."""

    model_config = ConfigDict(from_attributes=True)

    id_tag: str
    status: str
    expiry_date: datetime | None
    created_at: datetime


@contextmanager
def token_problems() -> Iterator[None]:
    """Answer a refused token operation as a problem document with its status."""
    try:
        yield
    except TokenError as exc:
        raise Problem(exc.status, exc.title, exc.detail) from None


async def _scope(db: AsyncSession, principal: Principal, tenant: str | None) -> int | None:
    """The tenant a token lookup runs in: the caller's, or the one a platform admin names."""
    if tenant is None:
        return principal.tenant_id
    return await target_tenant(db, principal, tenant)


# ---- operators --------------------------------------------------------------------------------
@router.get("/tokens")
async def list_tokens(
    request: Request,
    principal: TokensRead,
    page: PageParams,
    status: Status | None = Query(None),
    user_id: int | None = id_query("only this user's tokens"),
    tenant: str | None = TenantQuery,
) -> Page[TokenOut]:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await _scope(db, principal, tenant)
        tokens, total = await service.tokens_page(
            db, tenant_id, user_id=user_id, status=status, limit=page.limit, offset=page.offset
        )
        return Page[TokenOut].of([TokenOut.model_validate(t) for t in tokens], total, page)


@router.post("/tokens", status_code=201, responses=NOT_FOUND_OR_CONFLICT)
async def create_token(request: Request, principal: TokensWrite, body: TokenCreate) -> TokenOut:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await target_tenant(db, principal, body.tenant)
        with token_problems():
            token = await service.add_token(
                db,
                tenant_id,
                body.id_tag,
                user_id=body.user_id,
                status=body.status,
                expiry_date=body.expiry_date,
                parent_id_tag=body.parent_id_tag,
                max_concurrent_transactions=body.max_concurrent_transactions,
                token_group=body.token_group,
            )
        await db.commit()
        return TokenOut.model_validate(token)


@router.get("/tokens/{id_tag}", responses=NOT_FOUND_OR_CONFLICT)
async def get_token(
    request: Request, principal: TokensRead, id_tag: str, tenant: str | None = TenantQuery
) -> TokenOut:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await _scope(db, principal, tenant)
        with token_problems():
            return TokenOut.model_validate(await service.visible_token(db, tenant_id, id_tag))


@router.patch("/tokens/{id_tag}", responses=NOT_FOUND_OR_CONFLICT)
async def update_token(
    request: Request,
    principal: TokensWrite,
    id_tag: str,
    body: TokenUpdate,
    tenant: str | None = TenantQuery,
) -> TokenOut:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await _scope(db, principal, tenant)
        with token_problems():
            token = await service.visible_token(db, tenant_id, id_tag)
            token = await service.update_token(db, token, **body.model_dump(exclude_unset=True))
        await db.commit()
        return TokenOut.model_validate(token)


# ---- drivers: their own cards ------------------------------------------------------------------
def _driver(principal: Principal) -> tuple[int, int]:
    """A driver's tenant and user id (a driver is a user of one tenant)."""
    assert principal.tenant_id is not None and principal.user_id is not None
    return principal.tenant_id, principal.user_id


async def _own(db: AsyncSession, driver: Principal, id_tag: str) -> Token:
    return await service.owned_token(db, *_driver(driver), id_tag)


@router.get("/me/tokens", tags=["me"])
async def list_my_tokens(
    request: Request, driver: CurrentDriver, page: PageParams
) -> Page[CardOut]:
    """The caller's own cards."""
    tenant_id, user_id = _driver(driver)
    async with request.app.state.kilowatt.sessions() as db:
        tokens, total = await service.owned_page(
            db, tenant_id, user_id, limit=page.limit, offset=page.offset
        )
        return Page[CardOut].of([CardOut.model_validate(t) for t in tokens], total, page)


@router.post("/me/tokens", status_code=201, tags=["me"], responses=NOT_FOUND_OR_CONFLICT)
async def add_my_token(request: Request, driver: CurrentDriver, body: CardCreate) -> CardOut:
    """Register an RFID card of the caller's; 409 if the tenant knows this id tag already."""
    tenant_id, user_id = _driver(driver)
    async with request.app.state.kilowatt.sessions() as db:
        with token_problems():
            token = await service.add_token(db, tenant_id, body.id_tag, user_id=user_id)
        await db.commit()
        return CardOut.model_validate(token)


@router.post("/me/tokens/{id_tag}/block", tags=["me"], responses=NOT_FOUND)
async def block_my_token(request: Request, driver: CurrentDriver, id_tag: str) -> CardOut:
    """Block a lost or stolen card: it authorizes nothing from now on."""
    async with request.app.state.kilowatt.sessions() as db:
        with token_problems():
            token = await service.block_own(db, await _own(db, driver, id_tag))
        await db.commit()
        return CardOut.model_validate(token)


@router.post("/me/tokens/{id_tag}/unblock", tags=["me"], responses=NOT_FOUND_OR_CONFLICT)
async def unblock_my_token(request: Request, driver: CurrentDriver, id_tag: str) -> CardOut:
    """Unblock a card; 409 for a blocked card (only an operator unblocks, for now)."""
    async with request.app.state.kilowatt.sessions() as db:
        with token_problems():
            token = await service.unblock_own(db, await _own(db, driver, id_tag))
        await db.commit()
        return CardOut.model_validate(token)


@router.delete("/me/tokens/{id_tag}", status_code=204, tags=["me"], responses=NOT_FOUND_OR_CONFLICT)
async def remove_my_token(request: Request, driver: CurrentDriver, id_tag: str) -> Response:
    """Remove a card from the caller's account; 409 while a transaction with it runs."""
    async with request.app.state.kilowatt.sessions() as db:
        with token_problems():
            await service.remove_own(db, await _own(db, driver, id_tag))
        await db.commit()
    return Response(status_code=204)
