from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class LocalAuthList(Base):
    """A station's local authorization list as Kilowatt last had it acknowledged.

    ``entries`` is what the station holds (idTag -> OCPP idTagInfo, camelCase) at ``version``;
    what it should hold is computed from the tenant's tokens, the difference is what is pending.
    """

    __tablename__ = "local_auth_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), unique=True
    )
    # unknown | in_sync | stale | failed | unsupported (see docs/local-lists.md)
    state: Mapped[str] = mapped_column(String(20), default="unknown")
    # The list version the station acknowledged last (0: none yet).
    version: Mapped[int] = mapped_column(default=0)
    entries: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the station reported in its last GetLocalListVersion.conf.
    station_version: Mapped[int | None]
    # Only tokens of this group go on the list; None: every token of the tenant.
    token_group: Mapped[str | None] = mapped_column(String(40))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last SendLocalList status (Accepted, Failed, NotSupported, VersionMismatch) or
    # Offline / Timeout / a CALLERROR code.
    last_outcome: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
