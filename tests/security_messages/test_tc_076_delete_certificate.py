"""OCPP 1.6 security whitepaper, TC_076: Delete a specific certificate from the Charge Point
(use case M04), with the hash data the station reports for SHA256, SHA384 and SHA512."""

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

TYPE = "CentralSystemRootCertificate"


async def _installed(server: RunningServer, cp_id: str) -> list[dict[str, str]]:
    body = await get_json(server, f"/api/v1/stations/{cp_id}/certificates")
    rows: list[dict[str, str]] = body["installed"]
    return rows


async def test_tc_076_delete_certificate(server: RunningServer) -> None:
    """TC_076, for SHA256, SHA384 and SHA512 in turn (one station each, one node)."""
    for algorithm in ("SHA256", "SHA384", "SHA512"):
        await _delete_with(server, algorithm)


async def _delete_with(server: RunningServer, algorithm: str) -> None:
    """Install two roots; the station reports them with ``algorithm``'s hash data
    (M03.FR.04); DeleteCertificate with one's hash data as reported (M04.FR.07) is Accepted
    (M04.FR.02) and only that one leaves the inventory; deleting it again is NotFound
    (M04.FR.04)."""
    cp_id = f"CP076{algorithm[3:]}"
    roots = [authority(f"Root {n} {algorithm}") for n in (1, 2)]
    async with secure_charge_point(server, cp_id) as cp:
        cp.hash_algorithm = algorithm
        for root in roots:
            result = await command(
                server,
                cp_id,
                "InstallCertificate",
                {"certificateType": TYPE, "certificate": root.pem},
            )
            assert result["outcome"] == "Accepted"
        listed = await command(
            server, cp_id, "GetInstalledCertificateIds", {"certificateType": TYPE}
        )
        reported = listed["response"]["certificateHashData"]
        expected = [camel(hash_data(r.certificate, r.certificate, algorithm)) for r in roots]
        assert reported == expected
        assert {r["hash_algorithm"] for r in await _installed(server, cp_id)} == {algorithm}

        deleted = await command(
            server, cp_id, "DeleteCertificate", {"certificateHashData": reported[0]}
        )
        assert deleted["outcome"] == "Accepted"
        assert [root for _, root in cp.installed] == [roots[1].certificate]
        (left,) = await _installed(server, cp_id)
        assert left["serial_number"] == reported[1]["serialNumber"]

        again = await command(
            server, cp_id, "DeleteCertificate", {"certificateHashData": reported[0]}
        )
        assert again["outcome"] == "NotFound"
        assert len(await _installed(server, cp_id)) == 1
