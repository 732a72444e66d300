"""OCPP 1.6 security whitepaper messages a station sends: SecurityEventNotification and
SignCertificate (its CertificateSigned goes out later, from the signer, off the receive loop)."""

from __future__ import annotations

import logging

from kilowatt.events import Event
from kilowatt.gateway.context import OcppContext
from kilowatt.ocpp.v16 import messages as m
from kilowatt.ocpp.v16.enums import GenericStatus
from kilowatt.security import ca, service
from kilowatt.stations import repository as stations

log = logging.getLogger(__name__)


async def security_event_notification(
    ctx: OcppContext, req: m.SecurityEventNotificationRequest
) -> m.SecurityEventNotificationResponse:
    station = await stations.by_id(ctx.db, ctx.station_id)
    assert station is not None
    _, event = await service.record_event(
        ctx.db, station, ctx.charge_point_id, req.type, req.timestamp, req.tech_info, ctx.now
    )
    ctx.events.append(event)
    return m.SecurityEventNotificationResponse()


async def sign_certificate(
    ctx: OcppContext, req: m.SignCertificateRequest
) -> m.SignCertificateResponse:
    """A02.FR.11/12: Accepted when we can sign the CSR (and then do, and send it), else
    Rejected; the reason is logged and published, never told to the station."""
    station = await stations.by_id(ctx.db, ctx.station_id)
    assert station is not None
    settings = ctx.settings
    try:
        csr = ca.check_csr(
            req.csr,
            ctx.charge_point_id,
            tuple(s for s in (station.serial_number, station.charge_box_serial_number) if s),
        )
        authority = ca.load(settings.data_dir, settings.station_ca_cert, settings.station_ca_key)
    except (ca.CsrRejected, ca.CaUnavailable) as exc:
        log.warning("%s: SignCertificate rejected: %s", ctx.charge_point_id, exc)
        ctx.events.append(
            Event(
                "security.csr_rejected",
                {"reason": str(exc)},
                tenant_id=station.tenant_id,
                station=ctx.charge_point_id,
            )
        )
        return m.SignCertificateResponse(status=GenericStatus.REJECTED)
    issued = authority.sign(csr, ctx.now)
    row = await service.issue(ctx.db, station, issued, ctx.now)
    ctx.events.append(
        Event(
            "security.certificate_issued",
            {"certificateId": row.id, "serial": row.serial, "notAfter": row.not_after.isoformat()},
            tenant_id=station.tenant_id,
            station=ctx.charge_point_id,
        )
    )
    return m.SignCertificateResponse(status=GenericStatus.ACCEPTED)
