"""Reservation rows as domain events (published by ``live/capture.py`` on commit)."""

from __future__ import annotations

from typing import Any

from kilowatt.reservations.models import Reservation
from kilowatt.reservations.repository import ACTIVE_STATES


def reservation_event(r: Reservation, *, new: bool, changed: bool) -> str | None:
    """``reservation.created`` for a new row, ``reservation.ended`` when it reaches a final
    state, ``reservation.updated`` for another state change (requested → accepted)."""
    if new:
        return "reservation.created"
    if not changed:
        return None
    return "reservation.updated" if r.state in ACTIVE_STATES else "reservation.ended"


def reservation_data(r: Reservation) -> dict[str, Any]:
    return {
        "reservationId": r.id,
        "state": r.state,
        "stationId": r.station_id,
        "connectorId": r.connector_id,
        "expiresAt": r.expires_at.isoformat().replace("+00:00", "Z"),
        "transactionId": r.transaction_id,
        "reason": r.reason,
    }
