"""API models of API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.tenants.models import SLUG_PATTERN


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    permissions: list[str] = Field(max_length=64)
    # Platform admins (and the node key) name the tenant; others create keys of their own.
    tenant: str | None = Field(default=None, max_length=64, pattern=SLUG_PATTERN)


class ApiKeyOut(BaseModel):
    """An API key as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    name: str
    prefix: str
    permissions: list[str]
    created_by: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str  # the full key, shown this once
