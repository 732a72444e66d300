"""Operator API for tokens (idTags)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field

from kilowatt.api.auth import require_admin
from kilowatt.api.problems import Problem
from kilowatt.tenants import service as tenants
from kilowatt.tokens import service

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], dependencies=[Depends(require_admin)])


class TokenCreate(BaseModel):
    id_tag: str = Field(min_length=1, max_length=20)
    status: str = Field(default="Accepted", pattern="^(Accepted|Blocked|Expired|Invalid)$")
    expiry_date: AwareDatetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=20)
    max_concurrent_transactions: int = Field(default=1, ge=1, le=100)


def _out(token: Any) -> dict[str, Any]:
    return {
        "id_tag": token.id_tag,
        "status": token.status,
        "expiry_date": token.expiry_date,
        "parent_id_tag": token.parent_id_tag,
        "max_concurrent_transactions": token.max_concurrent_transactions,
    }


@router.get("")
async def list_tokens(request: Request) -> list[dict[str, Any]]:
    async with request.app.state.kilowatt.sessions() as db:
        tenant = await tenants.default_tenant(db)
        return [_out(t) for t in await service.list_tokens(db, tenant.id)]


@router.post("", status_code=201)
async def create_token(request: Request, body: TokenCreate) -> dict[str, Any]:
    async with request.app.state.kilowatt.sessions() as db:
        tenant = await tenants.default_tenant(db)
        if await service.find(db, tenant.id, body.id_tag) is not None:
            raise Problem(409, "Token exists", body.id_tag)
        expiry: datetime | None = body.expiry_date
        token = await service.create(
            db,
            tenant.id,
            body.id_tag,
            status=body.status,
            expiry_date=expiry,
            parent_id_tag=body.parent_id_tag,
            max_concurrent_transactions=body.max_concurrent_transactions,
        )
        await db.commit()
        return _out(token)
