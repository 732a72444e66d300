"""API models of local lists."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kilowatt.billing.schemas import TokenGroup


class Pending(BaseModel):
    upserts: int = Field(description="entries to add or change on the station")
    deletes: int = Field(description="entries to remove from the station")


class LocalListOut(BaseModel):
    charge_point_id: str
    state: str = Field(description="unknown, in_sync, stale, failed or unsupported")
    supported: bool | None = Field(description="null until the station has been asked")
    version: int = Field(description="the list version the station acknowledged last (0: none)")
    station_version: int | None = Field(description="its last GetLocalListVersion answer")
    entries: int = Field(description="entries on the station (as acknowledged)")
    desired_entries: int = Field(description="entries the tenant's tokens give")
    left_out: int = Field(description="tokens left out to fit LocalAuthListMaxLength")
    pending: Pending
    token_group: str | None
    local_auth_list_max_length: int | None
    send_local_list_max_length: int | None
    last_attempt_at: datetime | None
    last_sync_at: datetime | None
    last_outcome: str | None
    last_error: str | None


class LocalListEntryOut(BaseModel):
    id_tag: str
    status: str
    expiry_date: str | None
    parent_id_tag: str | None
    on_station: bool = Field(description="acknowledged by the station")
    pending: Literal["add", "update", "delete"] | None


class LocalListSync(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update_type: Literal["Full", "Differential"] | None = Field(
        default=None,
        description="force Full or Differential; default: Differential when the station's "
        "version matches the one it acknowledged, else Full",
    )


class LocalListSyncOut(BaseModel):
    outcome: str = Field(
        description="InSync, Accepted, Failed, NotSupported, VersionMismatch, Offline, Timeout"
    )
    update_type: str | None
    messages: int = Field(description="SendLocalList messages sent")
    local_list: LocalListOut


class LocalListUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_group: TokenGroup | None = Field(
        description="only the tokens of this group go on the station's list; null: all"
    )
