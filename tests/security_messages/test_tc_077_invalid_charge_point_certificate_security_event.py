"""OCPP 1.6 security whitepaper, TC_077: Invalid ChargePointCertificate Security Event (use
case A02, A02.FR.07): the station rejects the certificate it was sent and reports the
InvalidChargePointCertificate security event."""

from __future__ import annotations

from security_messages.kit import (
    bus_events,
    command,
    csr_pem,
    get_json,
    next_event,
    secure_charge_point,
)

from support.server import RunningServer


async def test_tc_077_invalid_charge_point_certificate_security_event(
    server: RunningServer,
) -> None:
    """TC_077: ExtendedTriggerMessage Accepted; SignCertificate Accepted; the station answers
    CertificateSigned with Rejected, which is recorded on the issued certificate; the
    SecurityEventNotification that follows is answered, stored, not critical, and published."""
    async with secure_charge_point(server, "CP077") as cp:
        cp.answers["CertificateSigned"] = "Rejected"
        trigger = await command(
            server,
            "CP077",
            "ExtendedTriggerMessage",
            {"requestedMessage": "SignChargePointCertificate"},
        )
        assert trigger["outcome"] == "Accepted"
        with bus_events(server, "security.certificate_answered", "security.event") as events:
            assert await cp.sign_certificate(csr_pem("CP077")) == "Accepted"
            answered = await next_event(events)
            assert (answered.type, answered.data["state"]) == (
                "security.certificate_answered",
                "rejected",
            )
            await cp.security_event("InvalidChargePointCertificate", "signature check failed")
            published = await next_event(events)

    assert published.type == "security.event" and published.station == "CP077"
    assert published.data["type"] == "InvalidChargePointCertificate"
    assert published.data["critical"] is False

    (issued,) = (await get_json(server, "/api/v1/stations/CP077/certificates"))["issued"]
    assert (issued["state"], issued["outcome"]) == ("rejected", "Rejected")
    assert issued["answered_at"] is not None
    body = await get_json(server, "/api/v1/stations/CP077/security-events")
    assert body["total"] == 1
    (event,) = body["items"]
    assert (event["type"], event["tech_info"], event["critical"]) == (
        "InvalidChargePointCertificate",
        "signature check failed",
        False,
    )
    assert event["charge_point_id"] == "CP077"
