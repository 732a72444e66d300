"""The rules of accounts: who may create or change which user, in which tenant.

Services take a database session and never commit; the request does. Failures are
``AccountError``s carrying the HTTP status the API answers with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password_async
from kilowatt.auth.principal import OPERATOR_RANK, Principal, Role
from kilowatt.tenants.models import Tenant
from kilowatt.users import repository
from kilowatt.users.models import User

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)

# Roles an operator account can be created with; drivers register themselves.
STAFF_ROLES = frozenset({Role.VIEWER, Role.OPERATOR, Role.ADMIN, Role.PLATFORM_ADMIN})


class AccountError(Exception):
    """A refused account operation; ``status`` is the HTTP status of the answer."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


def not_found(user_id: int) -> AccountError:
    return AccountError(404, "User not found", f"no user {user_id}")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise AccountError(422, "Invalid email", "an email address like name@example.com")
    return email


def check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            422,
            "Invalid password",
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    role: Role,
    tenant_id: int | None,
    name: str = "",
) -> User:
    """A new user; 409 when the email is taken. Platform admins have no tenant, others one."""
    email = normalise_email(email)
    check_password(password)
    if (role is Role.PLATFORM_ADMIN) != (tenant_id is None):
        raise AccountError(
            422, "Invalid tenant", "platform admins have no tenant; every other user has one"
        )
    if await repository.user_by_email(db, email) is not None:
        raise AccountError(409, "Email taken", "a user with this email exists")
    user = User(
        email=email,
        password_hash=await hash_password_async(password),
        role=role.value,
        tenant_id=tenant_id,
        name=name,
    )
    try:
        async with db.begin_nested():  # a concurrent sign-up may take the email meanwhile
            db.add(user)
    except IntegrityError:
        raise AccountError(409, "Email taken", "a user with this email exists") from None
    return user


async def tenant_for_slug(db: AsyncSession, slug: str) -> Tenant:
    tenant = await repository.tenant_by_slug(db, slug)
    if tenant is None:
        raise AccountError(404, "Tenant not found", f"no tenant {slug!r}")
    return tenant


async def register_driver(
    db: AsyncSession, *, email: str, password: str, name: str, tenant_slug: str
) -> User:
    tenant = await tenant_for_slug(db, tenant_slug)
    return await create_user(
        db, email=email, password=password, role=Role.DRIVER, tenant_id=tenant.id, name=name
    )


def _check_may_grant(caller: Principal, role: Role) -> None:
    """An operator may hand out roles up to their own rank, never above; drivers are not staff."""
    if role not in STAFF_ROLES:
        raise AccountError(422, "Invalid role", "drivers register themselves")
    if OPERATOR_RANK[role] > OPERATOR_RANK.get(caller.role, 0):
        raise AccountError(403, "Forbidden", f"you cannot grant the role {role.value!r}")


async def create_staff_user(
    db: AsyncSession,
    caller: Principal,
    *,
    email: str,
    password: str,
    role: Role,
    name: str,
    tenant_slug: str | None,
) -> User:
    """An operator account in the caller's tenant (a platform admin names any tenant)."""
    _check_may_grant(caller, role)
    tenant_id: int | None
    if role is Role.PLATFORM_ADMIN:
        tenant_id = None
    elif caller.tenant_id is None:
        if tenant_slug is None:
            raise AccountError(422, "Tenant required", "name the tenant of the new user")
        tenant_id = (await tenant_for_slug(db, tenant_slug)).id
    else:
        if tenant_slug is not None:
            tenant = await repository.tenant_by_slug(db, tenant_slug)
            if tenant is None or tenant.id != caller.tenant_id:
                raise AccountError(404, "Tenant not found", f"no tenant {tenant_slug!r}")
        tenant_id = caller.tenant_id
    return await create_user(
        db, email=email, password=password, role=role, tenant_id=tenant_id, name=name
    )


async def visible_user(db: AsyncSession, caller: Principal, user_id: int) -> User:
    """The user if the caller's tenant holds it; 404 otherwise (ids of others do not leak)."""
    user = await repository.user_by_id(db, user_id)
    if user is None or not _sees(caller, user):
        raise not_found(user_id)
    return user


def _sees(caller: Principal, user: User) -> bool:
    if caller.tenant_id is None:
        return True
    return user.tenant_id == caller.tenant_id


async def list_users(
    db: AsyncSession, caller: Principal, *, limit: int, offset: int, tenant_slug: str | None
) -> tuple[Sequence[User], int]:
    tenant_id = caller.tenant_id
    if tenant_slug is not None:
        tenant = await repository.tenant_by_slug(db, tenant_slug)
        if tenant is None or not caller.sees_tenant(tenant.id):
            raise AccountError(404, "Tenant not found", f"no tenant {tenant_slug!r}")
        tenant_id = tenant.id
    return await repository.list_users(db, tenant_id, limit=limit, offset=offset)


async def update_user(
    db: AsyncSession,
    caller: Principal,
    user_id: int,
    *,
    now: datetime,
    role: Role | None = None,
    disabled: bool | None = None,
    name: str | None = None,
) -> User:
    """Change a user's role, name or disabled state; disabling ends their sessions too."""
    user = await visible_user(db, caller, user_id)
    current = Role(user.role)
    # Nobody changes an account that outranks them (an admin cannot disable a platform admin).
    if current is not Role.DRIVER and OPERATOR_RANK[current] > OPERATOR_RANK.get(caller.role, 0):
        raise AccountError(403, "Forbidden", "this user outranks you")
    if caller.user_id == user.id and (role not in (None, current) or disabled):
        raise AccountError(409, "Refused", "you cannot demote or disable yourself")
    if role is not None and role is not current:
        if current is Role.DRIVER or role is Role.DRIVER:
            raise AccountError(
                422, "Invalid role", "drivers and staff do not change into each other"
            )
        _check_may_grant(caller, role)
        if (role is Role.PLATFORM_ADMIN) != (user.tenant_id is None):
            raise AccountError(422, "Invalid role", "platform admins are users without a tenant")
        user.role = role.value
    if name is not None:
        user.name = name
    if disabled is True and user.disabled_at is None:
        user.disabled_at = now
        await repository.revoke_user_refresh_tokens(db, user.id, now)
    elif disabled is False:
        user.disabled_at = None
    await db.flush()
    return user


async def create_tenant(db: AsyncSession, *, name: str, slug: str) -> Tenant:
    if await repository.tenant_exists(db, name=name, slug=slug):
        raise AccountError(409, "Tenant exists", "a tenant with this name or slug exists")
    tenant = Tenant(name=name, slug=slug)
    try:
        async with db.begin_nested():
            db.add(tenant)
    except IntegrityError:
        raise AccountError(409, "Tenant exists", "a tenant with this name or slug exists") from None
    return tenant


async def list_tenants(db: AsyncSession) -> Sequence[Tenant]:
    return await repository.list_tenants(db)
