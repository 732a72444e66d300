"""Reservation rows as domain events (published by ``live/capture.py`` on commit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from kilowatt.billing.views import amount
from kilowatt.reservations.models import Reservation
from kilowatt.reservations.repository import ACTIVE_STATES


def reservation_event(r: Reservation, *, new: bool, changed: bool) -> str | None:
    """``reservation.created`` for a new row, ``reservation.ended`` when it reaches a final
    state, ``reservation.updated`` for another state change (requested → accepted) and for a
    change of its fee's payment (an expired reservation's fee charged, or left unpaid)."""
    if new:
        return "reservation.created"
    if changed:
        return "reservation.updated" if r.state in ACTIVE_STATES else "reservation.ended"
    if inspect(r).attrs.payment_state.history.has_changes():
        return "reservation.updated"
    return None


def cost_data(r: Reservation) -> dict[str, Any]:
    """The fee in brief: its status, currency and total (a decimal string; None: not billed)."""
    return {
        "status": r.cost_status,
        "currency": r.currency,
        "total": None
        if r.cost_total is None or r.currency is None
        else amount(r.cost_total, r.currency),
        "payment": None if r.payment_state is None else r.payment_state.removesuffix(":claimed"),
    }


def reservation_data(r: Reservation) -> dict[str, Any]:
    return {
        "reservationId": r.id,
        "state": r.state,
        "stationId": r.station_id,
        "connectorId": r.connector_id,
        "expiresAt": r.expires_at.isoformat().replace("+00:00", "Z"),
        "transactionId": r.transaction_id,
        "reason": r.reason,
        "cost": cost_data(r),
    }
