"""SignedUpdateFirmware / SignedFirmwareStatusNotification (OCPP 1.6 security whitepaper, use
case L01; OCTT TC_080, TC_081): a real node, the ``ocpp`` library's charge point downloading
the firmware from the signed link and checking the signature with the certificate it got."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from api.api_kit import assert_problem
from kilowatt.firmware import signed
from kilowatt.firmware.models import FirmwareFile, FirmwareUpdate
from kilowatt.gateway.dispatch_v16 import HANDLERS

from support.firmware_steps import BOUND, Events, by_station, campaign, firmware, upload_firmware
from support.ocpp_client import LibChargePoint
from support.server import RunningServer, running_server
from support.steps import boot, get_json

IMAGE = bytes(range(256)) * 100  # 25.6 KiB
Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def certificate(key: Key, *, days: tuple[int, int] = (-1, 30)) -> str:
    """A self-signed firmware signing certificate (PEM), valid ``days`` around now."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kilowatt test firmware signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(key: Key, data: bytes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
        return base64.b64encode(key.sign(data, pss, hashes.SHA256())).decode()
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class SignedChargePoint(LibChargePoint):
    """Answers SignedUpdateFirmware with ``answers["SignedUpdateFirmware"]`` (Accepted)."""

    @on(Action.signed_update_firmware)
    def _signed_update(self, **fields: Any) -> Any:
        return call_result.SignedUpdateFirmware(status=self._got("SignedUpdateFirmware", **fields))


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        running.app.state.firmware.public_url = running.http_url
        yield running


@asynccontextmanager
async def station(server: RunningServer, charge_point_id: str) -> AsyncIterator[SignedChargePoint]:
    """A booted ``SignedChargePoint`` connected for the block."""
    async with websockets.connect(
        server.ws_url(charge_point_id), subprotocols=["ocpp1.6"], open_timeout=BOUND
    ) as ws:
        cp = SignedChargePoint(charge_point_id, ws)
        loop = asyncio.create_task(cp.start())
        try:
            await boot(cp)
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


async def _campaign(server: RunningServer, **body: Any) -> httpx.Response:
    async with server.api() as api:
        return await api.post("/api/v1/firmware/campaigns", json=body)


async def _report(cp: SignedChargePoint, events: Events, status: str, request_id: int) -> None:
    """A SignedFirmwareStatusNotification, answered, and the state it moved the update to."""
    answer = await cp.call(
        call.SignedFirmwareStatusNotification(status=status, request_id=request_id)
    )
    assert answer == call_result.SignedFirmwareStatusNotification()
    await events.until(firmware(status, cp.id))


async def _update(server: RunningServer, update_id: int) -> FirmwareUpdate:
    async with server.node.sessions() as db:
        row = await db.get(FirmwareUpdate, update_id)
    assert row is not None
    return row


async def _security_event(cp: SignedChargePoint, kind: str) -> None:
    """L01.FR.03 / TC_080's FirmwareUpdated: answered once kilowatt.security handles it."""
    answer = await cp.call(
        call.SecurityEventNotification(
            type=kind, timestamp=datetime.now(UTC).isoformat(), tech_info=None
        )
    )
    if "SecurityEventNotification" in HANDLERS:
        assert answer is not None


async def test_tc_080_secure_firmware_update(
    server: RunningServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """TC_080: SignedUpdateFirmware carries the location, the signature and the signing
    certificate (L01.FR.11) and a requestId; the station downloads, verifies and installs,
    and every SignedFirmwareStatusNotification with that requestId (L01.FR.01/10) moves the
    update through to Installed, with the version it boots with afterwards."""
    pem, signature = certificate(ec_key), sign(ec_key, IMAGE)
    file = await upload_firmware(server, "sec-2.0.bin", IMAGE, version="2.0")
    install_at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    async with station(server, "SEC080") as cp:
        with Events(server.node.bus, "firmware.status") as events:
            response = await _campaign(
                server,
                file_id=file["id"],
                stations=["SEC080"],
                signingCertificate=pem,
                signature=signature,
                installDateTime=install_at.isoformat(),
                retries=2,
                retryInterval=60,
            )
            assert response.status_code == 201, response.text
            started = response.json()
            assert started["signed"] is True
            [row] = started["stations"]
            request_id = row["request_id"]
            action, sent = await cp.next_command()
            assert action == "SignedUpdateFirmware"
            assert (sent["request_id"], sent["retries"], sent["retry_interval"]) == (
                request_id,
                2,
                60,
            )
            fw = sent["firmware"]
            assert (fw["signing_certificate"], fw["signature"]) == (pem, signature)
            assert fw["install_date_time"] == install_at.isoformat().replace("+00:00", "Z")
            assert fw["location"].startswith(
                f"{server.http_url}/firmware/{file['id']}/sec-2.0.bin?"
            )
            await events.until(firmware("sent", "SEC080"))

            # the station's side of L01.FR.04/12: download, verify with the certificate sent
            async with httpx.AsyncClient(timeout=BOUND) as http:
                image = (await http.get(fw["location"])).content
            assert hashlib.sha256(image).hexdigest() == file["sha256"]
            sent_cert = x509.load_pem_x509_certificate(fw["signing_certificate"].encode())
            public = sent_cert.public_key()
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(base64.b64decode(fw["signature"]), image, ec.ECDSA(hashes.SHA256()))

            steps = [
                "DownloadScheduled",
                "Downloading",
                "Downloaded",
                "SignatureVerified",
                "InstallScheduled",
                "Installing",
                "InstallRebooting",
            ]
            for status in steps:
                await _report(cp, events, status, request_id)
            # the reboot into the new firmware, its security event, then Installed
            await cp.call(
                call.BootNotification(
                    charge_point_model="Model-X",
                    charge_point_vendor="VendorY",
                    firmware_version="sec-2.0",
                )
            )
            await _security_event(cp, "FirmwareUpdated")
            await _report(cp, events, "Installed", request_id)
        assert [e.data["status"] for e in events.seen if e.data.get("status")] == [
            *steps,
            "Installed",
        ]
    done = await campaign(server, started["id"])
    row = by_station(done)["SEC080"]
    assert (done["state"], done["progress"], done["signed"]) == (
        "completed",
        {"Installed": 1},
        True,
    )
    assert (row["state"], row["firmware_after"], row["request_id"]) == (
        "Installed",
        "sec-2.0",
        request_id,
    )
    data = await get_json(server, "/api/v1/stations/SEC080")
    assert (data["firmware_version"], data["firmware_status"]) == ("sec-2.0", "Installed")


async def test_tc_081_secure_firmware_update_invalid_signature(
    server: RunningServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """TC_081: the station finds the signature invalid (L01 step 5, L01.FR.03): the update
    ends InvalidSignature, the campaign completes, and a later report changes nothing."""
    file = await upload_firmware(server, "sec-2.1.bin", IMAGE)
    async with station(server, "SEC081") as cp:
        with Events(server.node.bus, "firmware.status") as events:
            response = await _campaign(
                server,
                file_id=file["id"],
                stations=["SEC081"],
                signing_certificate=certificate(ec_key),
                signature=sign(ec_key, IMAGE),
            )
            assert response.status_code == 201, response.text
            started = response.json()
            request_id = started["stations"][0]["request_id"]
            action, _ = await cp.next_command()
            assert action == "SignedUpdateFirmware"
            await events.until(firmware("sent", "SEC081"))
            for status in ("Downloading", "Downloaded", "InvalidSignature"):
                await _report(cp, events, status, request_id)
            await _security_event(cp, "InvalidFirmwareSignature")
        late = call.SignedFirmwareStatusNotification(status="Installing", request_id=request_id)
        assert await cp.call(late) == call_result.SignedFirmwareStatusNotification()
        assert (await _update(server, request_id)).state == "InvalidSignature"
    done = await campaign(server, started["id"])
    assert (done["state"], done["progress"]) == ("completed", {"InvalidSignature": 1})


async def test_bad_certificates_and_signatures_are_refused_before_sending(
    server: RunningServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """Kilowatt checks the certificate and that the signature verifies over the file with its
    key before anything is sent: otherwise 422 and no campaign."""
    file = await upload_firmware(server, "sec-bad.bin", IMAGE)
    other = ec.generate_private_key(ec.SECP256R1())
    good_pem, good_sig = certificate(ec_key), sign(ec_key, IMAGE)
    async with server.api() as api:
        assert (await api.post("/api/v1/stations", json={"charge_point_id": "SEC-BAD"})).is_success
    base = {"file_id": file["id"], "stations": ["SEC-BAD"]}
    for signing in (
        {"signing_certificate": "-----BEGIN CERTIFICATE-----\nnope\n", "signature": good_sig},
        {"signing_certificate": certificate(ec_key, days=(-30, -1)), "signature": good_sig},
        {"signing_certificate": good_pem, "signature": sign(ec_key, IMAGE + b"x")},
        {"signing_certificate": good_pem, "signature": sign(other, IMAGE)},
        {"signing_certificate": certificate(other), "signature": good_sig},
        {"signing_certificate": good_pem, "signature": "not base64!"},
        {"signing_certificate": good_pem},  # both or neither
        {"signed": True},  # the file carries none
        {"install_date": "2026-12-01T03:00:00Z"},  # signed updates only
    ):
        assert_problem(await _campaign(server, **base, **signing), 422)
    async with server.api() as api:
        assert (await api.get("/api/v1/firmware/campaigns")).json()["total"] == 0
        path = f"/api/v1/firmware/{file['id']}/signature"
        refused = await api.put(
            path, json={"signingCertificate": good_pem, "signature": sign(other, IMAGE)}
        )
        assert_problem(refused, 422)
        assert (await api.get(f"/api/v1/firmware/{file['id']}")).json()["signature"] is None
        assert_problem(
            await api.put(
                "/api/v1/firmware/99999/signature",
                json={"signingCertificate": good_pem, "signature": good_sig},
            ),
            404,
        )


async def test_a_file_carries_its_signature_and_a_station_may_refuse_it(
    server: RunningServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """A signature attached to the file is sent by ``signed`` campaigns; a station answering
    InvalidCertificate (L01.FR.24) ends its update in error, with the reason."""
    file = await upload_firmware(server, "sec-3.0.bin", IMAGE)
    pem, signature = certificate(ec_key), sign(ec_key, IMAGE)
    async with server.api() as api:
        attached = await api.put(
            f"/api/v1/firmware/{file['id']}/signature",
            json={"signing_certificate": pem, "signature": signature},
        )
        assert attached.status_code == 200, attached.text
        assert attached.json()["signing_certificate"] == pem
    async with station(server, "SEC-FILE") as cp:
        cp.answers["SignedUpdateFirmware"] = "InvalidCertificate"
        with Events(server.node.bus, "firmware.status") as events:
            response = await _campaign(
                server, file_id=file["id"], stations=["SEC-FILE"], signed=True
            )
            assert response.status_code == 201, response.text
            action, sent = await cp.next_command()
            assert action == "SignedUpdateFirmware"
            assert (sent["firmware"]["signing_certificate"], sent["firmware"]["signature"]) == (
                pem,
                signature,
            )
            failed = await events.until(firmware("error", "SEC-FILE"))
    assert failed.data["detail"] == "the station answered InvalidCertificate"
    done = await campaign(server, response.json()["id"])
    assert (done["state"], done["progress"]) == ("completed", {"error": 1})


async def test_signed_status_with_an_unknown_or_foreign_request_id_moves_nothing(
    server: RunningServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """L01.FR.10/21: a report moves only its own station's update with that requestId; an
    unknown id, another station's, Idle or a plain update's id are answered and change
    nothing but the station's last reported status."""
    signed_file = await upload_firmware(server, "sec-4.0.bin", IMAGE)
    async with station(server, "SEC-A") as a, station(server, "SEC-B") as b:
        with Events(server.node.bus, "firmware.status") as events:
            response = await _campaign(
                server,
                file_id=signed_file["id"],
                stations=["SEC-A"],
                signing_certificate=certificate(ec_key),
                signature=sign(ec_key, IMAGE),
            )
            request_id = response.json()["stations"][0]["request_id"]
            await events.until(firmware("sent", "SEC-A"))
        for cp, status, rid in (
            (b, "Downloading", request_id),
            (a, "Downloading", 99_999),
            (a, "Idle", request_id),
        ):
            answer = await cp.call(
                call.SignedFirmwareStatusNotification(status=status, request_id=rid)
            )
            assert answer == call_result.SignedFirmwareStatusNotification()
        assert (await _update(server, request_id)).state == "sent"
    data = await get_json(server, "/api/v1/stations/SEC-B")
    assert data["firmware_status"] == "Downloading"  # what it said, kept with the station


def test_rsa_pss_and_pkcs1_signatures_verify() -> None:
    """RSA keys: PSS (L01.FR.04) and PKCS#1 v1.5 signatures verify; an EC key's check is
    covered above; a signature by another key is refused."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    file = FirmwareFile(sha256=hashlib.sha256(IMAGE).hexdigest())
    now = datetime.now(UTC)
    signed.check(file, certificate(key), sign(key, IMAGE), now)
    pkcs1 = base64.b64encode(key.sign(IMAGE, padding.PKCS1v15(), hashes.SHA256())).decode()
    signed.check(file, certificate(key), pkcs1, now)
    with pytest.raises(signed.SignatureRefused, match="does not verify"):
        signed.check(file, certificate(key), sign(key, IMAGE[:-1]), now)
