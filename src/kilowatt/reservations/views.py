"""Reservations as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.reservations import service
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
    }
