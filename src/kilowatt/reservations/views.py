"""Reservations as the API shows them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing.pricing import breakdown_from_json
from kilowatt.billing.views import amount, breakdown_view, line_view
from kilowatt.reservations import repository, service
from kilowatt.reservations.models import Reservation
from kilowatt.reservations.repository import ACTIVE_STATES
from kilowatt.sessions.controller import evse_id
from kilowatt.stations.models import Station


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


async def reservation_view(
    db: AsyncSession, reservation: Reservation, evse_operator_id: str
) -> dict[str, Any]:
    station = await db.get(Station, reservation.station_id)
    assert station is not None
    return {
        "reservationId": reservation.id,
        "state": reservation.state,
        "active": reservation.state in ACTIVE_STATES,
        "message": service.message(reservation),
        "chargingStationId": station.charge_point_id,
        "connectorId": reservation.connector_id,
        "evseId": evse_id(evse_operator_id, station, reservation.connector_id)
        if reservation.connector_id
        else None,
        "idTag": reservation.id_tag,
        "parentIdTag": reservation.parent_id_tag,
        "userId": reservation.user_id,
        "tenantId": reservation.tenant_id,
        "expiresAt": _iso(reservation.expires_at),
        "createdAt": _iso(reservation.created_at),
        "answeredAt": _iso(reservation.answered_at),
        "endedAt": _iso(reservation.ended_at),
        "transactionId": reservation.transaction_id,
        "reason": reservation.reason,
        "reserveCommandId": reservation.reserve_command_id,
        "cancelCommandId": reservation.cancel_command_id,
        "requestedBy": reservation.requested_by,
        "cost": await cost_view(db, reservation),
    }


async def cost_view(db: AsyncSession, r: Reservation) -> dict[str, Any]:
    """The fee: ``none``; ``pending`` (active; its tariff prices reservations); ``session``
    (used: the fee's lines are on that session's bill, whose total includes them); ``final``
    (expired unused: its own bill, and the payment of it)."""
    view: dict[str, Any] = {
        "status": r.cost_status,
        "currency": r.currency,
        "total": None,
        "items": [],
        "tariff": None
        if r.tariff_snapshot is None
        else {k: r.tariff_snapshot[k] for k in ("id", "name", "version")},
        "sessionId": None,
        "payment": None,
    }
    if r.cost_status == "final" and r.cost_breakdown is not None:
        bill = breakdown_from_json(r.cost_breakdown)
        priced = breakdown_view(bill)
        view |= {
            "total": priced["total"],
            "subtotal": priced["subtotal"],
            "tax": priced["tax"],
            "vatPercent": priced["vatPercent"],
            "reservedSeconds": bill.reservation_seconds,
            "billedAt": _iso(r.billed_at),
            "items": priced["lines"],
        }
    if r.payment_state is not None and r.currency is not None:
        captured = r.payment_captured or Decimal(0)
        view["payment"] = {
            "state": r.payment_state.removesuffix(":claimed"),
            "captured": amount(captured, r.currency),
            "balanceDue": amount((r.cost_total or Decimal(0)) - captured, r.currency),
            "lastError": r.payment_error,
        }
    if r.cost_status == "session" and r.transaction_id is not None:
        session = await repository.session_of(db, r.transaction_id)
        if session is not None:
            view["sessionId"], view["currency"] = session.id, session.currency
            if session.cost_breakdown is not None:
                lines = breakdown_from_json(session.cost_breakdown).lines
                view["items"] = [line_view(x) for x in lines if x.reservation is not None]
    return view
