"""Users API: the caller (``/me``) and operator accounts of a tenant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from kilowatt.api.auth import IdPath
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import require_permission, require_principal
from kilowatt.auth.principal import Principal
from kilowatt.db import utcnow
from kilowatt.users import repository, service
from kilowatt.users.schemas import Me, UserCreate, UserOut, UserPage, UserUpdate
from kilowatt.users.service import AccountError

UsersWriter = Annotated[Principal, Depends(require_permission("users:write"))]
UsersReader = Annotated[Principal, Depends(require_permission("users:read"))]
router = APIRouter(tags=["users"])

MAX_PAGE = 200


@contextmanager
def account_problems() -> Iterator[None]:
    """Answer a refused account operation as a problem document with its status."""
    try:
        yield
    except AccountError as exc:
        raise Problem(exc.status, exc.title, exc.detail) from None


@router.get("/api/v1/me")
async def me(request: Request, principal: Principal = Depends(require_principal)) -> Me:
    user = None
    if principal.user_id is not None:
        async with request.app.state.kilowatt.sessions() as db:
            found = await repository.user_by_id(db, principal.user_id)
        user = UserOut.model_validate(found) if found is not None else None
    return Me(
        kind=principal.kind,
        role=principal.role,
        tenant_id=principal.tenant_id,
        permissions=sorted(principal.permissions),
        user=user,
        api_key_id=principal.api_key_id,
    )


@router.post("/api/v1/users", status_code=201)
async def create_user(
    request: Request,
    body: UserCreate,
    principal: UsersWriter,
) -> UserOut:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            user = await service.create_staff_user(
                db,
                principal,
                email=body.email,
                password=body.password,
                role=body.role,
                name=body.name,
                tenant_slug=body.tenant,
            )
        await db.commit()
        return UserOut.model_validate(user)


@router.get("/api/v1/users")
async def list_users(
    request: Request,
    principal: UsersReader,
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
    offset: int = Query(default=0, ge=0, le=2**31 - 1),
    tenant: str | None = Query(default=None, max_length=64),
) -> UserPage:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            users, total = await service.list_users(
                db, principal, limit=limit, offset=offset, tenant_slug=tenant
            )
        return UserPage(
            items=[UserOut.model_validate(u) for u in users],
            total=total,
            limit=limit,
            offset=offset,
        )


@router.get("/api/v1/users/{user_id}")
async def get_user(
    request: Request,
    user_id: IdPath,
    principal: UsersReader,
) -> UserOut:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            return UserOut.model_validate(await service.visible_user(db, principal, user_id))


@router.patch("/api/v1/users/{user_id}")
async def update_user(
    request: Request,
    user_id: IdPath,
    body: UserUpdate,
    principal: UsersWriter,
) -> UserOut:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            user = await service.update_user(
                db,
                principal,
                user_id,
                now=utcnow(),
                role=body.role,
                disabled=body.disabled,
                name=body.name,
            )
        await db.commit()
        return UserOut.model_validate(user)
