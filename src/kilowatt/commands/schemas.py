"""API models of commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CommandOut(BaseModel):
    """A command's durable record: what was asked, and what the station answered."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    charge_point_id: str
    action: str
    request: dict[str, Any]
    state: str = Field(description="pending, sent, completed, error, timeout or offline")
    outcome: str | None = Field(
        description="the station's status word (Accepted, Rejected, …), a CALLERROR code, "
        "Timeout or Offline"
    )
    response: dict[str, Any] | None
    error_description: str | None
    requested_by: str | None = Field(
        default=None, description="user:<id>, api_key:<id>, node, or the service that sent it"
    )
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    latency_ms: int | None
