"""API models of tariffs, where they apply (assignments), and the tariff of a connector."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kilowatt.api.auth import MAX_ID, TENANT_FIELD_DESCRIPTION, TenantRefIn

# A token group, e.g. "members": printable ASCII, spaces inside only. Shared with the tokens
# API, so that every group a token can carry can also be given a tariff.
TOKEN_GROUP_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"
TokenGroup = Annotated[str, Field(min_length=1, max_length=40, pattern=TOKEN_GROUP_PATTERN)]

Scope = Literal["tenant", "site", "station", "connector"]

TARIFF_FIELD_DESCRIPTION = (
    "the tariff, OCPI 2.2.1-shaped: currency, vat_percent, timezone, idle_grace_minutes and "
    "elements (price_components and restrictions); answered in its canonical form"
)


class TariffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    tenant: TenantRefIn | None = Field(default=None, description=TENANT_FIELD_DESCRIPTION)
    tariff: dict[str, Any] = Field(description=TARIFF_FIELD_DESCRIPTION)


class TariffReplace(BaseModel):
    """A new version of the tariff: sessions already running keep the version they started with."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    tariff: dict[str, Any] = Field(description=TARIFF_FIELD_DESCRIPTION)


class TariffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    name: str
    currency: str
    version: int = Field(description="1 when created, one more on every change")
    tariff: dict[str, Any] = Field(validation_alias="spec")
    created_at: datetime
    updated_at: datetime


class AssignmentCreate(BaseModel):
    """Where the tariff applies: the whole tenant (no place given), a site, a station, or one
    connector of a station; with ``token_group``, only for the tokens of that group.

    One tariff per place and group: a place taken already is a 409, unless ``replace`` moves
    its assignment to this tariff.
    """

    model_config = ConfigDict(extra="forbid")

    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    station_id: (
        Annotated[int, Field(ge=1, le=MAX_ID)]
        | Annotated[str, Field(min_length=1, max_length=255)]
        | None
    ) = Field(default=None, description="a station: its charge point id (string) or id (number)")
    connector_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="a connector number of the station"
    )
    token_group: TokenGroup | None = None
    replace: bool = False

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if self.connector_id is not None and self.station_id is None:
            raise ValueError("connector_id needs station_id: a connector is named by its station")
        if self.site_id is not None and self.station_id is not None:
            raise ValueError("name a site or a station, not both")
        return self


class AssignmentOut(BaseModel):
    id: int
    tariff_id: int
    scope: Scope
    site_id: int | None
    station_id: str | None = Field(description="the station's charge point id")
    connector_id: int | None
    token_group: str | None
    scope_key: str = Field(description="the place and group, unique in the tenant")


class ConnectorTariffOut(BaseModel):
    """The tariff a session started now on the connector would pay, and why (its assignment)."""

    tariff_id: int
    name: str
    version: int
    scope: Scope
    scope_key: str
    tariff: dict[str, Any]
