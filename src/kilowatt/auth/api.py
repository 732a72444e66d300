"""Auth API: driver registration, logins with rotating refresh tokens, and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kilowatt.api.auth import IdPath
from kilowatt.auth import service
from kilowatt.auth.deps import require_permission
from kilowatt.auth.principal import Principal
from kilowatt.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from kilowatt.auth.service import TokenPair
from kilowatt.db import utcnow
from kilowatt.users import service as users
from kilowatt.users.api import account_problems
from kilowatt.users.schemas import (
    Login,
    RefreshRequest,
    Register,
    Registered,
    TokenPairOut,
    UserOut,
)
from kilowatt.users.service import AccountError

KeyAdmin = Annotated[Principal, Depends(require_permission("api_keys:write"))]
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
api_keys_router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])


def _pair(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


@router.post("/register", status_code=201)
async def register(request: Request, body: Register) -> Registered:
    """A driver signs up with a tenant (``default`` unless named) and is logged in."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        with account_problems():
            user = await users.register_driver(
                db,
                email=body.email,
                password=body.password,
                name=body.name,
                tenant_slug=body.tenant,
            )
        pair = await service.issue_pair(db, node.settings, user, now=utcnow())
        await db.commit()
        return Registered(user=UserOut.model_validate(user), **_pair(pair).model_dump())


@router.post("/login")
async def login(request: Request, body: Login) -> TokenPairOut:
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        with account_problems():
            _, pair = await service.login(
                db, node.settings, body.email, body.password, now=utcnow()
            )
        await db.commit()
        return _pair(pair)


@router.post("/refresh")
async def refresh(request: Request, body: RefreshRequest) -> TokenPairOut:
    """A new pair; the presented refresh token is used up. Reusing one revokes its family."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        with account_problems():
            try:
                _, pair = await service.refresh(db, node.settings, body.refresh_token, now=utcnow())
            except AccountError:
                await db.commit()  # a detected reuse has revoked the family: keep that
                raise
        await db.commit()
        return _pair(pair)


@router.post("/logout", status_code=204)
async def logout(request: Request, body: RefreshRequest) -> Response:
    """End the login the refresh token belongs to (every token of its family)."""
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            await service.logout(db, body.refresh_token, now=utcnow())
        await db.commit()
    return Response(status_code=204)


# ---- API keys -----------------------------------------------------------------------------------
@api_keys_router.post("", status_code=201)
async def create_api_key(
    request: Request,
    body: ApiKeyCreate,
    principal: KeyAdmin,
) -> ApiKeyCreated:
    """A new key; the response holds the full key, which is never shown again."""
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            row, full_key = await service.create_api_key(
                db, principal, name=body.name, permissions=body.permissions, tenant_slug=body.tenant
            )
        await db.commit()
        return ApiKeyCreated(key=full_key, **ApiKeyOut.model_validate(row).model_dump())


@api_keys_router.get("")
async def list_api_keys(request: Request, principal: KeyAdmin) -> list[ApiKeyOut]:
    async with request.app.state.kilowatt.sessions() as db:
        return [ApiKeyOut.model_validate(k) for k in await service.list_api_keys(db, principal)]


@api_keys_router.delete("/{key_id}", status_code=204)
async def revoke_api_key(
    request: Request,
    key_id: IdPath,
    principal: KeyAdmin,
) -> Response:
    async with request.app.state.kilowatt.sessions() as db:
        with account_problems():
            await service.revoke_api_key(db, principal, key_id, now=utcnow())
        await db.commit()
    return Response(status_code=204)
