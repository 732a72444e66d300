"""API models of accounts: registration, login, token pairs, users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from kilowatt.auth.principal import Role
from kilowatt.tenants.models import SLUG_PATTERN
from kilowatt.users.service import EMAIL_PATTERN

Email = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
Password = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Email
    password: str = Password
    name: str = Field(default="", max_length=200)
    tenant: str = Field(default="default", max_length=64, pattern=SLUG_PATTERN)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(max_length=200)


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role
    tenant_id: int | None
    created_at: datetime
    disabled_at: datetime | None


class Registered(TokenPairOut):
    user: UserOut


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Email
    password: str = Password
    name: str = Field(default="", max_length=200)
    role: Role = Role.OPERATOR
    # The tenant's slug: platform admins must name one (unless creating a platform admin).
    tenant: str | None = Field(default=None, max_length=64, pattern=SLUG_PATTERN)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    name: str | None = Field(default=None, max_length=200)


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class Me(BaseModel):
    """The caller: a user (``user`` set), an API key or the node key."""

    kind: str
    role: Role
    tenant_id: int | None
    permissions: list[str]
    user: UserOut | None = None
    api_key_id: int | None = None
