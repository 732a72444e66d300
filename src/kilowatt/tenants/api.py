"""Tenants API: platform admins create and list the charge point operators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from kilowatt.auth.deps import require_platform_admin
from kilowatt.tenants.schemas import TenantCreate, TenantOut
from kilowatt.users import service
from kilowatt.users.api import account_problems

router = APIRouter(
    prefix="/api/v1/tenants", tags=["tenants"], dependencies=[Depends(require_platform_admin)]
)


@router.post("", status_code=201)
async def create_tenant(request: Request, body: TenantCreate) -> TenantOut:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            tenant = await service.create_tenant(db, name=body.name, slug=body.slug)
        await db.commit()
        return TenantOut.model_validate(tenant)


@router.get("")
async def list_tenants(request: Request) -> list[TenantOut]:
    async with request.app.state.kilowatt.sessions() as db:
        return [TenantOut.model_validate(t) for t in await service.list_tenants(db)]
