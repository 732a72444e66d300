"""OCPP 1.6 station messages → the version-neutral stations service."""

from __future__ import annotations

from kilowatt.events import Event
from kilowatt.gateway.context import OcppContext
from kilowatt.ocpp.v16 import enums
from kilowatt.ocpp.v16 import messages as m
from kilowatt.reservations import service as reservations
from kilowatt.sessions import service as charging_sessions
from kilowatt.stations import service
from kilowatt.stations.service import BootInfo, StatusReport
from kilowatt.transactions.ocpp_handlers import billing_policy


async def boot_notification(
    ctx: OcppContext, req: m.BootNotificationRequest
) -> m.BootNotificationResponse:
    info = BootInfo(
        vendor=req.charge_point_vendor,
        model=req.charge_point_model,
        serial_number=req.charge_point_serial_number,
        charge_box_serial_number=req.charge_box_serial_number,
        firmware_version=req.firmware_version,
        iccid=req.iccid,
        imsi=req.imsi,
        meter_type=req.meter_type,
        meter_serial_number=req.meter_serial_number,
    )
    status, interval = await service.boot(ctx.db, ctx.settings, ctx.station_id, info, ctx.now)
    ctx.events.append(
        Event(
            "station.booted",
            {
                "registrationStatus": status,
                "vendor": info.vendor,
                "model": info.model,
                "firmwareVersion": info.firmware_version,
            },
            tenant_id=ctx.tenant_id,
            station=ctx.charge_point_id,
        )
    )
    return m.BootNotificationResponse(
        status=enums.RegistrationStatus(status), current_time=ctx.now, interval=interval
    )


async def heartbeat(ctx: OcppContext, req: m.HeartbeatRequest) -> m.HeartbeatResponse:
    await service.heartbeat(ctx.db, ctx.station_id, ctx.now)
    return m.HeartbeatResponse(current_time=ctx.now)


async def status_notification(
    ctx: OcppContext, req: m.StatusNotificationRequest
) -> m.StatusNotificationResponse:
    report = StatusReport(
        connector_id=req.connector_id,
        status=str(req.status),
        error_code=str(req.error_code),
        info=req.info,
        vendor_id=req.vendor_id,
        vendor_error_code=req.vendor_error_code,
        timestamp=req.timestamp,
    )
    connector, was = await service.status_notification(ctx.db, ctx.station_id, report, ctx.now)
    if req.connector_id > 0 and was == "Preparing" and connector.status == "Available":
        await _connection_timed_out(ctx, req.connector_id)
    # Faulted/Unavailable ends reservations there; Available after the expiry: expired (§5.13).
    await reservations.on_connector_status(
        ctx.db, ctx.station_id, req.connector_id, report.status, ctx.now
    )
    ctx.events.append(
        Event(
            "connector.status",
            {
                "status": report.status,
                "errorCode": report.error_code,
                "info": report.info,
                "timestamp": None if report.timestamp is None else report.timestamp.isoformat(),
            },
            tenant_id=ctx.tenant_id,
            station=ctx.charge_point_id,
            connector_id=report.connector_id,
        )
    )
    return m.StatusNotificationResponse()


async def _connection_timed_out(ctx: OcppContext, connector_id: int) -> None:
    """Preparing → Available: the charger gave up waiting for a cable (ConnectionTimeOut)."""
    expired = await charging_sessions.on_connection_timeout(
        ctx.db,
        station_id=ctx.station_id,
        connector_id=connector_id,
        now=ctx.now,
        policy=billing_policy(ctx.settings),
    )
    for session in expired:  # the payment worker releases the driver's hold
        ctx.events.append(Event("session.closed", {"sessionId": session.id, "state": "expired"}))


async def data_transfer(ctx: OcppContext, req: m.DataTransferRequest) -> m.DataTransferResponse:
    status, data = await service.data_transfer_in(
        ctx.db, ctx.vendor_hooks, ctx.station_id, req.vendor_id, req.message_id, req.data, ctx.now
    )
    return m.DataTransferResponse(status=enums.DataTransferStatus(status), data=data)
