"""OCPP 1.6 security whitepaper, TC_078: Invalid CentralSystemCertificate Security Event (use
cases M05 and A00.FR.413): the station rejects a Central System root and reports it."""

from __future__ import annotations

from security_messages.kit import (
    authority,
    bus_events,
    command,
    get_json,
    next_event,
    secure_charge_point,
)

from support.server import RunningServer


async def test_tc_078_invalid_central_system_certificate_security_event(
    server: RunningServer,
) -> None:
    """TC_078: InstallCertificate(CentralSystemRootCertificate) answered Rejected (M05.FR.06)
    is recorded and leaves the inventory empty; the InvalidCentralSystemCertificate security
    event that follows is answered, stored and published."""
    root = authority("Not trusted")
    async with secure_charge_point(server, "CP078") as cp:
        cp.answers["InstallCertificate"] = "Rejected"
        result = await command(
            server,
            "CP078",
            "InstallCertificate",
            {"certificateType": "CentralSystemRootCertificate", "certificate": root.pem},
        )
        assert result["outcome"] == "Rejected"
        with bus_events(server, "security.event") as events:
            await cp.security_event("InvalidCentralSystemCertificate")
            published = await next_event(events)
    assert published.data["type"] == "InvalidCentralSystemCertificate"
    assert published.data["techInfo"] is None

    body = await get_json(server, "/api/v1/stations/CP078/certificates")
    assert body["installed"] == [] and body["issued"] == []
    events_page = await get_json(
        server, "/api/v1/security-events", station="CP078", type="InvalidCentralSystemCertificate"
    )
    assert events_page["total"] == 1
    assert events_page["items"][0]["tech_info"] is None
