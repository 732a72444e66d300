"""Building charging profiles in tests: keyword overrides over a valid default."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from kilowatt.ocpp.v16.messages import ChargingProfile


def profile(
    *,
    id: int = 1,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack: int = 0,
    unit: str = "A",
    periods: list[tuple[int, float]] | None = None,
    start: datetime | None = None,
    duration: int | None = None,
    recurrency: str | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
    phases: int | None = None,
) -> dict[str, Any]:
    """A csChargingProfiles object (camelCase, as on the wire)."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": s, "limit": lim, **({"numberPhases": phases} if phases else {})}
            for s, lim in (periods or [(0, 16)])
        ],
    }
    if start is not None:
        schedule["startSchedule"] = start.isoformat().replace("+00:00", "Z")
    if duration is not None:
        schedule["duration"] = duration
    body: dict[str, Any] = {
        "chargingProfileId": id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    for key, value in (
        ("recurrencyKind", recurrency),
        ("transactionId", transaction_id),
        ("validFrom", valid_from),
        ("validTo", valid_to),
    ):
        if value is not None:
            body[key] = (
                value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
            )
    return body


def typed(body: dict[str, Any]) -> ChargingProfile:
    return msgspec.convert(body, ChargingProfile, strict=False, dec_hook=_dec)


def _dec(tp: type, value: Any) -> Any:
    if tp is Decimal:
        return Decimal(str(value))
    raise TypeError(f"no decoder for {tp!r}")
