"""OCPP 1.6 Firmware Management messages a station sends: its status is kept on the station
and moves its update in progress (a campaign's) or its open diagnostics request."""

from __future__ import annotations

from kilowatt.firmware import logs, service, signed
from kilowatt.gateway.context import OcppContext
from kilowatt.ocpp.v16 import messages as m
from kilowatt.stations import repository as stations
from kilowatt.stations import service as station_service


async def firmware_status_notification(
    ctx: OcppContext, req: m.FirmwareStatusNotificationRequest
) -> m.FirmwareStatusNotificationResponse:
    status = str(req.status)
    await station_service.firmware_status(ctx.db, ctx.station_id, status, ctx.now)
    station = await stations.by_id(ctx.db, ctx.station_id)
    assert station is not None
    update = await service.firmware_status(ctx.db, station, status, ctx.now)
    if update is not None:
        ctx.events.append(
            service.firmware_event(update, ctx.tenant_id, ctx.charge_point_id, status)
        )
    return m.FirmwareStatusNotificationResponse()


async def diagnostics_status_notification(
    ctx: OcppContext, req: m.DiagnosticsStatusNotificationRequest
) -> m.DiagnosticsStatusNotificationResponse:
    status = str(req.status)
    await station_service.diagnostics_status(ctx.db, ctx.station_id, status, ctx.now)
    row = await service.diagnostics_status(ctx.db, ctx.station_id, status, ctx.now)
    if row is not None:
        ctx.events.append(service.diagnostics_event(row, ctx.charge_point_id, status))
    return m.DiagnosticsStatusNotificationResponse()


# ---- security whitepaper: a signed update's and a GetLog's progress, by their requestId --------
async def signed_firmware_status_notification(
    ctx: OcppContext, req: m.SignedFirmwareStatusNotificationRequest
) -> m.SignedFirmwareStatusNotificationResponse:
    status = str(req.status)
    await station_service.firmware_status(ctx.db, ctx.station_id, status, ctx.now)
    station = await stations.by_id(ctx.db, ctx.station_id)
    assert station is not None
    update = await signed.signed_status(ctx.db, station, status, req.request_id, ctx.now)
    if update is not None:
        ctx.events.append(
            service.firmware_event(update, ctx.tenant_id, ctx.charge_point_id, status)
        )
    return m.SignedFirmwareStatusNotificationResponse()


async def log_status_notification(
    ctx: OcppContext, req: m.LogStatusNotificationRequest
) -> m.LogStatusNotificationResponse:
    status = str(req.status)
    row = await logs.log_status(ctx.db, ctx.station_id, status, req.request_id, ctx.now)
    if row is not None:
        ctx.events.append(logs.log_event(row, ctx.charge_point_id, status))
    return m.LogStatusNotificationResponse()
