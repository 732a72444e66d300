from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class CommandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    charge_point_id: str
    action: str
    request: dict[str, Any]
    state: str
    outcome: str | None
    response: dict[str, Any] | None
    error_description: str | None
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    latency_ms: int | None
