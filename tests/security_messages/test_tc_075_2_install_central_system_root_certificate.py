"""OCPP 1.6 security whitepaper, TC_075_2: Install a certificate on the Charge Point —
CentralSystemRootCertificate (use cases M05 and M03)."""

from __future__ import annotations

from security_messages.test_tc_075_1_install_manufacturer_root_certificate import install_and_list

from support.server import RunningServer


async def test_tc_075_2_install_central_system_root_certificate(server: RunningServer) -> None:
    """TC_075_2: InstallCertificate(CentralSystemRootCertificate) Accepted (M05.FR.02), then
    GetInstalledCertificateIds lists it (M03.FR.03, M03.FR.04) and the inventory shows it."""
    await install_and_list(server, "CP0752", "CentralSystemRootCertificate")
