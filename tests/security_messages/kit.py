"""A charge point of the security whitepaper, and the keys, CSRs and certificates it uses.

``secure_charge_point`` connects the ``ocpp`` library's ChargePoint (support/ocpp_client.py)
extended with the whitepaper's commands: it keeps the certificates it was asked to install,
reports them with ``hash_algorithm``'s hash data (computed by cryptography's OCSP request
builder, not by Kilowatt's code), deletes by hash data, and checks a CertificateSigned chain.
``answers[action]`` chooses a command's status; every raw frame it received is in ``frames``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from kilowatt.events import Event

from support.ocpp_client import LibChargePoint
from support.server import HANDSHAKE_TIMEOUT, RunningServer

BOUND = 20  # seconds any awaited condition may take before the test fails
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


# ---- keys, CSRs, certificates -------------------------------------------------------------
def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def csr_pem(common_name: str, key: PrivateKey | None = None, org: str = "Kilowatt CPO") -> str:
    """A PEM CSR (A02.FR.03) with CN ``common_name`` and O the CPO name (A02.FR.13)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    signed = request.sign(key or ec_key(), hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Authority:
    """A CA of the test's own (a root, or an intermediate under one)."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def authority(common_name: str, *, parent: Authority | None = None) -> Authority:
    key = ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if parent is None else parent.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key if parent is None else parent.key, hashes.SHA256())
    )
    return Authority(certificate, key)


def hash_data(
    certificate: x509.Certificate, issuer: x509.Certificate, algorithm: str
) -> dict[str, str]:
    """CertificateHashDataType as an OCSP request computes it (RFC 6960 CertID)."""
    request = (
        ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, HASHES[algorithm]()).build()
    )
    return {
        "hash_algorithm": algorithm,
        "issuer_name_hash": request.issuer_name_hash.hex(),
        "issuer_key_hash": request.issuer_key_hash.hex(),
        "serial_number": format(request.serial_number, "x"),
    }


def camel(data: dict[str, str]) -> dict[str, str]:
    """The API / OCPP spelling of ``hash_data``'s keys."""
    return {
        "".join(w.title() if i else w for i, w in enumerate(k.split("_"))): v
        for k, v in data.items()
    }


# ---- the charge point ---------------------------------------------------------------------
class SecureChargePoint(LibChargePoint):
    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.frames: list[list[Any]] = []  # every frame received, parsed, in order
        self.installed: list[tuple[str, x509.Certificate]] = []  # (type, certificate)
        self.hash_algorithm = "SHA256"
        self.signed: list[list[x509.Certificate]] = []  # each CertificateSigned's chain

    async def route_message(self, raw_msg: str) -> Any:
        self.frames.append(json.loads(raw_msg))
        return await super().route_message(raw_msg)

    def _reported(self, certificate_type: str) -> list[dict[str, str]]:
        # The installed certificates are roots: each is its own issuer.
        return [
            hash_data(cert, cert, self.hash_algorithm)
            for kind, cert in self.installed
            if kind == certificate_type
        ]

    @on(Action.extended_trigger_message)
    def _extended_trigger(self, **fields: Any) -> Any:
        return call_result.ExtendedTriggerMessage(
            status=self._got("ExtendedTriggerMessage", **fields)
        )

    @on(Action.certificate_signed)
    def _certificate_signed(self, certificate_chain: str, **fields: Any) -> Any:
        status = self._got("CertificateSigned", certificate_chain=certificate_chain, **fields)
        self.signed.append(x509.load_pem_x509_certificates(certificate_chain.encode()))
        return call_result.CertificateSigned(status=status)

    @on(Action.install_certificate)
    def _install(self, certificate_type: str, certificate: str, **fields: Any) -> Any:
        status = self._got(
            "InstallCertificate", certificate_type=certificate_type, certificate=certificate
        )
        if status == "Accepted":
            self.installed.append(
                (certificate_type, x509.load_pem_x509_certificate(certificate.encode()))
            )
        return call_result.InstallCertificate(status=status)

    @on(Action.get_installed_certificate_ids)
    def _get_installed(self, certificate_type: str, **fields: Any) -> Any:
        self._got("GetInstalledCertificateIds", certificate_type=certificate_type)
        reported = self._reported(certificate_type)
        if not reported:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data=reported
        )

    @on(Action.delete_certificate)
    def _delete(self, certificate_hash_data: dict[str, str], **fields: Any) -> Any:
        self._got("DeleteCertificate", certificate_hash_data=certificate_hash_data)
        algorithm = certificate_hash_data["hash_algorithm"]
        for entry in list(self.installed):
            if hash_data(entry[1], entry[1], algorithm) == certificate_hash_data:
                self.installed.remove(entry)
                return call_result.DeleteCertificate(status="Accepted")
        return call_result.DeleteCertificate(status="NotFound")

    async def sign_certificate(self, csr: str) -> str:
        response = await self.call(call.SignCertificate(csr=csr))
        status: str = response.status
        return status

    async def security_event(self, type: str, tech_info: str | None = None) -> None:
        timestamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        await self.call(
            call.SecurityEventNotification(type=type, timestamp=timestamp, tech_info=tech_info)
        )


@contextlib.asynccontextmanager
async def secure_charge_point(
    server: RunningServer,
    charge_point_id: str,
    factory: type[SecureChargePoint] = SecureChargePoint,
) -> AsyncIterator[SecureChargePoint]:
    """Connect a SecureChargePoint, boot it, and run its receive loop for the block."""
    async with websockets.connect(
        server.ws_url(charge_point_id),
        subprotocols=["ocpp1.6"],
        open_timeout=HANDSHAKE_TIMEOUT,  # type: ignore[list-item]
    ) as ws:
        cp = factory(charge_point_id, ws)
        loop = asyncio.create_task(cp.start())
        try:
            await cp.call(
                call.BootNotification(charge_point_model="SecureX", charge_point_vendor="VendorY")
            )
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


# ---- the central system's side ------------------------------------------------------------
@contextlib.contextmanager
def bus_events(server: RunningServer, *types: str) -> Any:
    """A queue of the node's bus events of ``types`` published from now on."""
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def offer(event: Event) -> None:
        if event.type in types:
            queue.put_nowait(event)

    unsubscribe: Callable[[], None] = server.node.bus.subscribe(offer)
    try:
        yield queue
    finally:
        unsubscribe()


async def next_event(queue: asyncio.Queue[Event]) -> Event:
    async with asyncio.timeout(BOUND):
        return await queue.get()


async def command(
    server: RunningServer, cp_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Send a command through the operator API and wait for its outcome."""
    async with server.api() as api:
        response = await api.post(f"/api/v1/stations/{cp_id}/commands/{action}", json=payload)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["state"] == "completed", body
    return body


async def get_json(server: RunningServer, path: str, **params: Any) -> Any:
    async with server.api() as api:
        response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()
