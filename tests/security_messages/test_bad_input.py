"""Bad input around the security messages: CSRs we must not sign (A02.FR.12: Rejected, nothing
issued, nothing sent), payloads that break the schemas (the right CALLERROR, the connection
keeps working), and commands the operator API refuses before they reach a station."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from kilowatt.security.models import StationCertificate
from security_messages.kit import (
    BOUND,
    SecureChargePoint,
    authority,
    bus_events,
    csr_pem,
    ec_key,
    get_json,
    next_event,
    rsa_key,
    secure_charge_point,
)

from support.server import RunningServer


def _tampered(pem: str) -> str:
    """The CSR with one byte of its signature flipped (still parses; does not verify)."""
    import base64

    lines = pem.strip().splitlines()
    der = bytearray(base64.b64decode("".join(lines[1:-1])))
    der[-5] ^= 0x01
    body = base64.b64encode(bytes(der)).decode()
    wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"{lines[0]}\n{wrapped}\n{lines[-1]}\n"


async def test_csrs_we_do_not_sign_are_rejected(server: RunningServer) -> None:
    """A02.FR.12: malformed PEM, a broken signature, another station's CN, no CN, RSA 1024
    (A00.FR.502), EC P-192 (A00.FR.503): each Rejected with its reason published; nothing is
    issued, no CertificateSigned goes out; a good CSR afterwards is still Accepted."""
    garbage = "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----\n"
    # (what is wrong, the CSR, the words its published reason holds)
    cases: list[tuple[str, str, str]] = [
        ("malformed PEM", garbage, "not a pem certificate signing request"),
        ("a certificate, not a CSR", authority("CPBAD").pem, "not a pem certificate signing"),
        ("broken signature", _tampered(csr_pem("CPBAD")), "signature does not verify"),
        ("another station's id", csr_pem("CP-OTHER"), "'cp-other' is not this charge point"),
        ("no CN", _no_cn(), "exactly one cn"),
        ("RSA 1024", csr_pem("CPBAD", rsa_key(1024)), "rsa key of 1024 bits"),
        ("EC P-192", csr_pem("CPBAD", ec_key(ec.SECP192R1())), "ec key of 192 bits"),
    ]
    async with secure_charge_point(server, "CPBAD") as cp:
        with bus_events(server, "security.csr_rejected", "security.certificate_issued") as events:
            for what, pem, words in cases:
                assert await cp.sign_certificate(pem) == "Rejected", what
                event = await next_event(events)
                assert event.type == "security.csr_rejected", what
                assert words in event.data["reason"].lower(), (what, event.data["reason"])
            async with server.node.sessions() as db:
                assert await db.get(StationCertificate, 1) is None
            # The same connection still gets a good CSR signed.
            assert await cp.sign_certificate(csr_pem("CPBAD")) == "Accepted"
            issued = await next_event(events)
            assert issued.type == "security.certificate_issued"
            action, _ = await cp.next_command()
    assert action == "CertificateSigned"  # the first and only call the station got
    assert [f[2] for f in cp.frames if f[0] == 2] == ["CertificateSigned"]


def _no_cn() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(ec_key(), hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def test_schema_violations_get_the_right_callerror(server: RunningServer) -> None:
    """OCPP-J §4.2.3: a SecurityEventNotification without its type is an
    OccurenceConstraintViolation, a type over 50 characters and a CSR over 5500 a
    PropertyConstraintViolation; nothing is stored and the connection keeps working."""
    frames = {
        "e1": ("SecurityEventNotification", {"timestamp": "2026-11-27T22:00:00Z"}),
        "e2": (
            "SecurityEventNotification",
            {"type": "X" * 51, "timestamp": "2026-11-27T22:00:00Z"},
        ),
        "e3": ("SignCertificate", {"csr": "A" * 5501}),
        "ok": (
            "SecurityEventNotification",
            {"type": "TamperDetectionActivated", "timestamp": "2026-11-27T22:00:00Z"},
        ),
    }
    answers: dict[str, Any] = {}
    async with websockets.connect(server.ws_url("CPSCHEMA"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        async with asyncio.timeout(BOUND):
            for message_id, (action, payload) in frames.items():
                await ws.send(json.dumps([2, message_id, action, payload]))
                answer = json.loads(await ws.recv())
                answers[answer[1]] = answer
    assert answers["e1"][2] == "OccurenceConstraintViolation"
    assert answers["e2"][2] == "PropertyConstraintViolation"
    assert answers["e3"][2] == "PropertyConstraintViolation"
    assert answers["ok"] == [3, "ok", {}]
    body = await get_json(server, "/api/v1/stations/CPSCHEMA/security-events")
    assert [e["type"] for e in body["items"]] == ["TamperDetectionActivated"]
    assert body["items"][0]["critical"] is True


class BadAnswers(SecureChargePoint):
    @on(Action.get_installed_certificate_ids, skip_schema_validation=True)
    def _get_installed(self, certificate_type: str, **fields: Any) -> Any:
        self._got("GetInstalledCertificateIds", certificate_type=certificate_type)
        return call_result.GetInstalledCertificateIds(
            status="Accepted",
            certificate_hash_data=[
                {
                    "hash_algorithm": "MD5",
                    "issuer_name_hash": "a",
                    "issuer_key_hash": "b",
                    "serial_number": "1",
                }
            ],
        )


async def test_unknown_certificate_types_and_hash_algorithms(server: RunningServer) -> None:
    """An unknown certificateType is refused by the API (422, the schema's enum) and never sent;
    a station answering GetInstalledCertificateIds with an unknown hashAlgorithm gets the
    command recorded as the schema's PropertyConstraintViolation, the inventory untouched."""
    async with secure_charge_point(server, "CPTYPE", factory=BadAnswers) as cp:
        async with server.api() as api:
            for action, payload in [
                ("InstallCertificate", {"certificateType": "FooCertificate", "certificate": "x"}),
                ("GetInstalledCertificateIds", {"certificateType": "FooCertificate"}),
                ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "MD5"}}),
            ]:
                response = await api.post(
                    f"/api/v1/stations/CPTYPE/commands/{action}", json=payload
                )
                assert response.status_code == 422, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["code"] == "InvalidPayload"
            response = await api.post(
                "/api/v1/stations/CPTYPE/commands/GetInstalledCertificateIds",
                json={"certificateType": "ManufacturerRootCertificate"},
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["state"], body["outcome"]) == ("error", "PropertyConstraintViolation")
        assert await cp.next_command() == (
            "GetInstalledCertificateIds",
            {"certificate_type": "ManufacturerRootCertificate"},
        )
    assert cp.received.empty()  # the refused commands never reached the station
    certificates = await get_json(server, "/api/v1/stations/CPTYPE/certificates")
    assert certificates["installed"] == []


class ErrsOnCertificateSigned(SecureChargePoint):
    @on(Action.certificate_signed)
    def _certificate_signed(self, certificate_chain: str, **fields: Any) -> Any:
        self._got("CertificateSigned", certificate_chain=certificate_chain)
        raise RuntimeError("the station's certificate store is broken")  # -> CALLERROR


async def test_a_certificate_the_station_errs_on_is_undelivered(server: RunningServer) -> None:
    """A CALLERROR to CertificateSigned: the certificate is ``undelivered`` with the error code
    as its outcome, the command keeps the error; nothing is lost (the PEM stays)."""
    async with secure_charge_point(server, "CPERR", factory=ErrsOnCertificateSigned) as cp:
        with bus_events(server, "security.certificate_answered") as answered:
            assert await cp.sign_certificate(csr_pem("CPERR")) == "Accepted"
            event = await next_event(answered)
    assert event.data["state"] == "undelivered"
    (issued,) = (await get_json(server, "/api/v1/stations/CPERR/certificates"))["issued"]
    assert (issued["state"], issued["outcome"]) == ("undelivered", event.data["outcome"])
    assert issued["outcome"] == "InternalError"  # the ocpp library answers a raising handler so
    assert issued["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    command_row = await get_json(server, f"/api/v1/commands/{issued['command_id']}")
    assert (command_row["state"], command_row["outcome"]) == ("error", issued["outcome"])
