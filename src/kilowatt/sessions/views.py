"""How a charging session reads in the API (camelCase, as the seed's clients expect)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing import service as billing
from kilowatt.billing.views import cost_view, price_view
from kilowatt.sessions import service
from kilowatt.sessions.controller import ChargingSessions, Place, evse_id
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import Station
from kilowatt.tenants.models import Site, Tenant
from kilowatt.transactions.models import Transaction


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def session_view(
    db: AsyncSession, controller: ChargingSessions, session: ChargingSession, *, live: bool = True
) -> dict[str, Any]:
    station = await db.get(Station, session.station_id)
    assert station is not None
    values = await service.live_values(db, session) if live else None
    now = datetime.now(UTC)
    end = session.ended_at or (now if session.state == "active" else None)
    tx = await db.get(Transaction, session.transaction_id) if session.transaction_id else None
    duration = (
        int((end - session.started_at).total_seconds()) if end and session.started_at else None
    )
    energy = values.energy_wh if values is not None else session.energy_wh
    return {
        "sessionId": session.id,
        "state": session.state,
        "origin": session.origin,
        "chargingStationId": station.charge_point_id,
        "connectorId": session.connector_id,
        "evseId": evse_id(controller.evse_operator_id, station, session.connector_id),
        "chargeTagId": session.id_tag,
        "transactionId": session.transaction_id,
        "ocppStartStatus": session.start_status,
        "ocppStopStatus": session.stop_status,
        "requestedAt": _iso(session.requested_at),
        "startedAt": _iso(session.started_at),
        "endRequestedAt": _iso(session.end_requested_at),
        "endedAt": _iso(session.ended_at),
        "durationSeconds": duration,
        "meterStartWh": session.meter_start_wh,
        "meterStopWh": session.meter_stop_wh,
        "energyWh": energy,
        "powerW": values.power_w if values is not None and session.state == "active" else None,
        "stateOfChargePercent": values.soc_percent
        if values is not None and session.state == "active"
        else None,
        "lastReadingAt": _iso(values.at) if values is not None else None,
        "reconciled": session.reconciled,
        "cost": await cost_view(db, session, tx, now=now),
        "failureReason": session.failure_reason,
        "warnings": session.warnings.split("; ") if session.warnings else [],
    }


async def gun_status_view(
    db: AsyncSession, controller: ChargingSessions, place: Place
) -> dict[str, Any]:
    can_start, message = await controller.can_start(db, place)
    tenant = await db.get(Tenant, place.station.tenant_id)
    site = await db.get(Site, place.station.site_id) if place.station.site_id else None
    return {
        "chargingGunId": place.connector.id,
        "evseId": controller.evse_id(place),
        "chargingStationId": place.station.charge_point_id,
        "connectorId": place.connector.connector_id,
        "status": place.connector.status,
        "errorCode": place.connector.error_code,
        "online": controller.online(place.station),
        "canStart": can_start,
        "message": message,
        "statusAt": _iso(place.connector.status_at),
        # Who runs the charger and where: the app registers a driver with this operator.
        "operator": None
        if tenant is None
        else {"tenantId": tenant.id, "slug": tenant.slug, "name": tenant.name},
        "site": None if site is None else {"name": site.name, "address": site.address},
        # The ad-hoc price, VAT included, before the driver starts (EU AFIR).
        "price": price_view(
            await billing.applicable_tariff(db, place.station, place.connector.connector_id, None),
            at=datetime.now(UTC),
        ),
    }
