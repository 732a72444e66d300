"""API models of reservations."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kilowatt.api.auth import MAX_ID


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector: str | None = Field(
        default=None,
        max_length=64,
        description="connector id or EVSE id (from the QR code)",
    )
    station: str | None = Field(
        default=None, max_length=255, description="station id or charge point id"
    )
    connector_number: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="with station: the connector; 0 = any"
    )
    id_tag: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="drivers: one of your cards (default: your first valid one); "
        "operators: required, any card of the tenant",
    )
    minutes: int | None = Field(
        default=None, ge=1, le=24 * 60, description="default KILOWATT_RESERVATION_MINUTES"
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="instead of minutes: when the reservation ends (≤ 24 h)"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_place(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data.get("connector") and not data.get("station"):
                raise ValueError("name a connector, or a station and connector_number")
            if data.get("minutes") is not None and data.get("expires_at") is not None:
                raise ValueError("give minutes or expires_at, not both")
        return data


class ReservationPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
