"""API models of sites."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.api.auth import TENANT_FIELD_DESCRIPTION, TenantRefIn


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)


class SiteUpdate(BaseModel):
    """Only the fields given change; ``address: null`` clears the address."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    name: str
    address: str | None
    created_at: datetime
