"""What an OCPP handler gets besides its typed request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.config import Settings
from kilowatt.events import Event
from kilowatt.stations.service import VendorHook


@dataclass(slots=True)
class OcppContext:
    """One incoming message's boundary: its station, DB session (committed after), and clock."""

    charge_point_id: str
    station_id: int
    tenant_id: int
    db: AsyncSession
    now: datetime
    settings: Settings
    vendor_hooks: dict[str, VendorHook] = field(default_factory=dict)
    # Published on the node's bus once the message's data is committed.
    events: list[Event] = field(default_factory=list)
