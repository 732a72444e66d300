"""OCPP 1.6 security whitepaper, TC_074: Update Charge Point Certificate by request of the
Central System (use case A02): ExtendedTriggerMessage(SignChargePointCertificate), the station's
SignCertificate, and the signed certificate sent back with CertificateSigned."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kilowatt.security import ca
from security_messages.kit import (
    authority,
    bus_events,
    command,
    csr_pem,
    ec_key,
    get_json,
    next_event,
    rsa_key,
    secure_charge_point,
)

from support.server import RunningServer, running_server


def _verify(leaf: x509.Certificate, issuer: x509.Certificate) -> None:
    leaf.verify_directly_issued_by(issuer)  # raises when the signature or names do not match


async def test_tc_074_update_charge_point_certificate(server: RunningServer) -> None:
    """TC_074: the trigger is Accepted; the CSR (EC P-256, CN = charge point id) is Accepted
    (A02.FR.11); CertificateSigned follows the SignCertificate reply (never before it) with a
    certificate of the station CA for the CSR's key and subject; the station's Accepted is
    recorded with the issued certificate."""
    data_dir = server.node.settings.data_dir
    dev_ca = x509.load_pem_x509_certificate((data_dir / "station-ca" / "ca.pem").read_bytes())
    key = ec_key()
    async with secure_charge_point(server, "CP074") as cp:
        trigger = await command(
            server,
            "CP074",
            "ExtendedTriggerMessage",
            {"requestedMessage": "SignChargePointCertificate"},
        )
        assert trigger["outcome"] == "Accepted"
        assert await cp.next_command() == (
            "ExtendedTriggerMessage",
            {"requested_message": "SignChargePointCertificate"},
        )
        with bus_events(server, "security.certificate_answered") as answered:
            assert await cp.sign_certificate(csr_pem("CP074", key)) == "Accepted"
            action, _ = await cp.next_command()
            assert action == "CertificateSigned"
            event = await next_event(answered)

        # The reply to SignCertificate came before the CertificateSigned call.
        reply_at = next(i for i, f in enumerate(cp.frames) if f[0] == 3)
        call_at = next(
            i for i, f in enumerate(cp.frames) if f[0] == 2 and f[2] == "CertificateSigned"
        )
        assert reply_at < call_at

    (chain,) = cp.signed
    (leaf,) = chain  # a root CA is not sent along
    _verify(leaf, dev_ca)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP074"
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert event.data["state"] == "accepted" and event.station == "CP074"

    body = await get_json(server, "/api/v1/stations/CP074/certificates")
    (issued,) = body["issued"]
    assert issued["state"] == "accepted" and issued["outcome"] == "Accepted"
    assert issued["serial"] == format(leaf.serial_number, "x")
    assert issued["fingerprint"] == leaf.fingerprint(hashes.SHA256()).hex()
    assert issued["command_id"]
    command_row = await get_json(server, f"/api/v1/commands/{issued['command_id']}")
    assert (command_row["action"], command_row["outcome"]) == ("CertificateSigned", "Accepted")


async def test_tc_074_with_a_configured_intermediate_ca_and_rsa(
    database_url: str, tmp_path: Path
) -> None:
    """TC_074 with the CA of KILOWATT_STATION_CA_CERT / _KEY, an intermediate: the chain holds
    the leaf then the intermediate (the station builds its path to the root, A02.FR.06); an
    RSA 2048 CSR is accepted (A00.FR.502); no development CA is generated."""
    root = authority("Test Root")
    intermediate = authority("Test Station CA", parent=root)
    (tmp_path / "ca.pem").write_text(intermediate.pem)
    (tmp_path / "ca-key.pem").write_bytes(intermediate.key_pem())
    data_dir = tmp_path / "data"
    async with running_server(
        database_url,
        data_dir,
        station_ca_cert=str(tmp_path / "ca.pem"),
        station_ca_key=str(tmp_path / "ca-key.pem"),
    ) as server:
        async with secure_charge_point(server, "CP074R") as cp:
            with bus_events(server, "security.certificate_answered") as answered:
                assert await cp.sign_certificate(csr_pem("CP074R", rsa_key(2048))) == "Accepted"
                await next_event(answered)
    (chain,) = cp.signed
    leaf, sub_ca = chain
    assert sub_ca == intermediate.certificate
    _verify(leaf, intermediate.certificate)
    _verify(sub_ca, root.certificate)
    assert not (data_dir / "station-ca").exists()


def test_a_generated_dev_ca_is_reused_and_its_key_private(tmp_path: Path) -> None:
    """The development CA is made once per data directory, its key mode 0600."""
    first = ca.load(tmp_path)
    ca._loaded.clear()  # as after a restart
    again = ca.load(tmp_path)
    assert first.certificate == again.certificate
    assert (tmp_path / "station-ca" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert isinstance(again.key, ec.EllipticCurvePrivateKey)
