"""OCPP 1.6 security whitepaper, TC_075_1: Install a certificate on the Charge Point —
ManufacturerRootCertificate (use cases M05 and M03): InstallCertificate, then
GetInstalledCertificateIds, with the inventory Kilowatt keeps of the station's certificates."""

from __future__ import annotations

from security_messages.kit import (
    authority,
    camel,
    command,
    get_json,
    hash_data,
    secure_charge_point,
)

from support.server import RunningServer

CERTIFICATE_TYPE = "ManufacturerRootCertificate"


async def install_and_list(server: RunningServer, cp_id: str, certificate_type: str) -> None:
    """Install a root of ``certificate_type``, list it, and check the inventory both times."""
    root = authority(f"{certificate_type} of {cp_id}")
    expected = camel(hash_data(root.certificate, root.certificate, "SHA256"))
    async with secure_charge_point(server, cp_id) as cp:
        # M05.FR.02: the station installed it and says Accepted.
        installed = await command(
            server,
            cp_id,
            "InstallCertificate",
            {"certificateType": certificate_type, "certificate": root.pem},
        )
        assert installed["outcome"] == "Accepted"
        assert await cp.next_command() == (
            "InstallCertificate",
            {"certificate_type": certificate_type, "certificate": root.pem},
        )
        # Kept at once, with the hash data we computed from the certificate (SHA256).
        (row,) = (await get_json(server, f"/api/v1/stations/{cp_id}/certificates"))["installed"]
        assert {k: row[k] for k in ("certificate_type", "source")} == {
            "certificate_type": certificate_type,
            "source": "install",
        }
        assert _hash_data(row) == expected

        # M03.FR.03/04: the station lists it with its hash data; the inventory is its answer.
        listed = await command(
            server, cp_id, "GetInstalledCertificateIds", {"certificateType": certificate_type}
        )
        assert listed["outcome"] == "Accepted"
        assert listed["response"]["certificateHashData"] == [expected]
        (row,) = (await get_json(server, f"/api/v1/stations/{cp_id}/certificates"))["installed"]
        assert (row["certificate_type"], row["source"]) == (certificate_type, "report")
        assert _hash_data(row) == expected

        # The other root type is not touched by this one's listing.
        other = (
            "CentralSystemRootCertificate"
            if certificate_type == "ManufacturerRootCertificate"
            else "ManufacturerRootCertificate"
        )
        listed = await command(
            server, cp_id, "GetInstalledCertificateIds", {"certificateType": other}
        )
        assert listed["outcome"] == "NotFound"
        body = await get_json(server, f"/api/v1/stations/{cp_id}/certificates")
        assert [r["certificate_type"] for r in body["installed"]] == [certificate_type]


def _hash_data(row: dict[str, str]) -> dict[str, str]:
    return {
        "hashAlgorithm": row["hash_algorithm"],
        "issuerNameHash": row["issuer_name_hash"],
        "issuerKeyHash": row["issuer_key_hash"],
        "serialNumber": row["serial_number"],
    }


async def test_tc_075_1_install_manufacturer_root_certificate(server: RunningServer) -> None:
    """TC_075_1: InstallCertificate(ManufacturerRootCertificate) Accepted (M05.FR.02), then
    GetInstalledCertificateIds lists it (M03.FR.03, M03.FR.04) and the inventory shows it."""
    await install_and_list(server, "CP0751", CERTIFICATE_TYPE)
