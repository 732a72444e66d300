"""Auth API: driver registration, logins with rotating refresh tokens, and API keys.

Logins, refreshes and logouts are limited (``kilowatt.auth.login_limits``): a locked account or
address is answered 429 with ``Retry-After`` before any password is checked.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from kilowatt.api.auth import IdPath, problem_responses
from kilowatt.api.problems import Problem
from kilowatt.auth import login_limits, service
from kilowatt.auth.deps import require_permission
from kilowatt.auth.principal import Principal
from kilowatt.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from kilowatt.auth.service import TokenPair
from kilowatt.db import utcnow
from kilowatt.events import Event
from kilowatt.users import repository as accounts
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
log = logging.getLogger(__name__)
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


def _address(request: Request) -> str:
    """The source address the limits count (as uvicorn's proxy-header settings resolve it)."""
    return request.client.host if request.client is not None else "unknown"


def _too_many(lock: login_limits.Locked, now: datetime) -> Problem:
    # The same answer for known and unknown accounts, and for account and address locks.
    seconds = lock.retry_after(now)
    problem = Problem(
        429, "Too many attempts", f"too many failed attempts; try again in {seconds} seconds"
    )
    problem.headers = {"Retry-After": str(seconds)}
    return problem


async def _failed(
    request: Request, kind: str, counted: list[tuple[str, str]], account: str | None, now: datetime
) -> None:
    """Count a failed attempt against each ``(scope, value)`` (own transaction, committed) and
    report the lock-outs it causes: in the log and as ``security.login_locked`` on the bus."""
    node = request.app.state.kilowatt
    policy = login_limits.Policy.of(node.settings)
    async with node.sessions() as db:
        lockouts = [
            lockout
            for scope, value in counted
            if (lockout := await login_limits.record_failure(db, policy, scope, value, now=now))
        ]
        user = await accounts.user_by_email(db, account) if lockouts and account else None
        await db.commit()
    for lockout in lockouts:
        data: dict[str, Any] = {
            "kind": kind,  # "login" or "refresh"
            "scope": lockout.scope,  # "account", "address" or "refresh_address"
            "address": _address(request),
            "until": lockout.until.isoformat().replace("+00:00", "Z"),
            "failures": lockout.failures,
        }
        # Operators of the account's tenant see their user's lock-out; other locks (addresses,
        # emails nobody has) go to platform admins only.
        named = user if lockout.scope == login_limits.ACCOUNT else None
        if named is not None:
            data.update(user_id=named.id, email=named.email, lockouts=lockout.lockouts)
        log.warning(
            "%s locked until %s after %d failed %s attempts (from %s)",
            lockout.scope,
            data["until"],
            lockout.failures,
            kind,
            data["address"],
        )
        node.bus.publish(
            Event(
                type=login_limits.LOCKED_EVENT,
                data=data,
                tenant_id=named.tenant_id if named is not None else None,
                user_id=named.id if named is not None else None,
            )
        )


LIMITED = problem_responses(429)


@router.post("/login", responses=LIMITED)
async def login(request: Request, body: Login) -> TokenPairOut:
    """Operators and drivers (dashboard and driver app) log in with their email and password."""
    node = request.app.state.kilowatt
    now, account = utcnow(), body.email.strip().lower()
    counted = [(login_limits.ACCOUNT, account), (login_limits.ADDRESS, _address(request))]
    async with node.sessions() as db:
        lock = await login_limits.locked(db, counted, now=now)
        if lock is not None:
            raise _too_many(lock, now)
        try:
            _, pair = await service.login(db, node.settings, body.email, body.password, now=now)
        except AccountError as exc:
            await db.rollback()
            await _failed(request, "login", counted, account, now)
            raise Problem(exc.status, exc.title, exc.detail) from None
        await login_limits.record_success(db, account, now=now)
        await db.commit()
        return _pair(pair)


@router.post("/refresh", responses=LIMITED)
async def refresh(request: Request, body: RefreshRequest) -> TokenPairOut:
    """A new pair; the presented refresh token is used up. Reusing one revokes its family."""
    node = request.app.state.kilowatt
    now = utcnow()
    counted = [(login_limits.REFRESH_ADDRESS, _address(request))]
    async with node.sessions() as db:
        lock = await login_limits.locked(db, counted, now=now)
        if lock is not None:
            raise _too_many(lock, now)
        try:
            _, pair = await service.refresh(db, node.settings, body.refresh_token, now=now)
        except AccountError as exc:
            await db.commit()  # a detected reuse has revoked the family: keep that
            await _failed(request, "refresh", counted, None, now)
            raise Problem(exc.status, exc.title, exc.detail) from None
        await db.commit()
        return _pair(pair)


@router.post("/logout", status_code=204, responses=LIMITED)
async def logout(request: Request, body: RefreshRequest) -> Response:
    """End the login the refresh token belongs to (every token of its family)."""
    now = utcnow()
    counted = [(login_limits.REFRESH_ADDRESS, _address(request))]
    async with request.app.state.kilowatt.sessions() as db:
        lock = await login_limits.locked(db, counted, now=now)
        if lock is not None:
            raise _too_many(lock, now)
        try:
            await service.logout(db, body.refresh_token, now=now)
        except AccountError as exc:
            await db.rollback()
            await _failed(request, "refresh", counted, None, now)
            raise Problem(exc.status, exc.title, exc.detail) from None
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
