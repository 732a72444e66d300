"""Signed firmware updates (OCPP 1.6 security whitepaper, use case L01): the signing
certificate and signature are checked against the file before anything is sent, the campaign
sends SignedUpdateFirmware (requestId: the station's update id), and each
SignedFirmwareStatusNotification moves the update with that requestId.

The signature is checked over the SHA-256 taken when the file was uploaded (the same bytes the
station downloads), so no file is read again: RSA (PSS or PKCS#1 v1.5) and ECDSA with SHA-256.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature as BadSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.config import Settings
from kilowatt.firmware import repository, service
from kilowatt.firmware.models import FirmwareCampaign, FirmwareFile, FirmwareUpdate
from kilowatt.stations.models import Station

# The SignedUpdateFirmware.req schema's limits.
MAX_CERTIFICATE = 5500
MAX_SIGNATURE = 800

# SignedFirmwareStatusNotification statuses that move an update (Idle only answers a trigger).
SIGNED_STEPS = frozenset(
    {
        "Downloaded",
        "DownloadFailed",
        "Downloading",
        "DownloadScheduled",
        "DownloadPaused",
        "InstallationFailed",
        "Installing",
        "Installed",
        "InstallRebooting",
        "InstallScheduled",
        "InstallVerificationFailed",
        "InvalidSignature",
        "SignatureVerified",
    }
)


class SignatureRefused(ValueError):
    """The certificate or the signature is not one a station could accept for this file."""


def check(file: FirmwareFile, certificate_pem: str, signature_b64: str, now: datetime) -> None:
    """``SignatureRefused`` unless the PEM is one X.509 certificate valid now, with an RSA or
    EC key, and the base64 signature verifies over the file's SHA-256 with that key."""
    if len(certificate_pem) > MAX_CERTIFICATE:
        raise SignatureRefused(f"the signing certificate is longer than {MAX_CERTIFICATE} chars")
    if len(signature_b64) > MAX_SIGNATURE:
        raise SignatureRefused(f"the signature is longer than {MAX_SIGNATURE} characters")
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except (ValueError, UnicodeEncodeError):
        raise SignatureRefused("the signing certificate is not a PEM X.509 certificate") from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureRefused(
            "the signing certificate is not valid now (valid "
            f"{certificate.not_valid_before_utc.isoformat()} to "
            f"{certificate.not_valid_after_utc.isoformat()})"
        )
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused("the signature is not base64") from None
    digest = bytes.fromhex(file.sha256)
    key = certificate.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPublicKey):
        schemes: list[padding.AsymmetricPadding] = [
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            padding.PKCS1v15(),
        ]
        for scheme in schemes:
            try:
                key.verify(signature, digest, scheme, prehashed)
                return
            except BadSignature:
                continue
    elif isinstance(key, ec.EllipticCurvePublicKey):
        try:
            key.verify(signature, digest, ec.ECDSA(prehashed))
            return
        except BadSignature:
            pass
    else:
        raise SignatureRefused("the signing certificate's key is neither RSA nor EC")
    raise SignatureRefused("the signature does not verify over the file with the certificate")


def signed_payload(
    settings: Settings,
    base_url: str,
    key: bytes,
    campaign: FirmwareCampaign,
    file: FirmwareFile,
    update_: FirmwareUpdate,
    now: datetime,
) -> dict[str, Any]:
    """The SignedUpdateFirmware.req of a signed campaign's station."""
    assert campaign.signing_certificate is not None and campaign.signature is not None
    expires = service.firmware_expiry(settings, campaign.retrieve_date, now)
    firmware: dict[str, Any] = {
        "location": service.firmware_url(base_url, key, file, expires),
        "retrieveDateTime": service.iso(campaign.retrieve_date),
        "signingCertificate": campaign.signing_certificate,
        "signature": campaign.signature,
    }
    if campaign.install_date is not None:
        firmware["installDateTime"] = service.iso(campaign.install_date)
    payload: dict[str, Any] = {"requestId": update_.id, "firmware": firmware}
    if campaign.retries is not None:
        payload["retries"] = campaign.retries
    if campaign.retry_interval is not None:
        payload["retryInterval"] = campaign.retry_interval
    return payload


def answer_state(outcome: str | None) -> tuple[str, str | None]:
    """A SignedUpdateFirmware.conf's status: ``sent``, or ``error`` with the refusal."""
    if outcome in ("Accepted", "AcceptedCanceled"):
        return "sent", None
    return "error", f"the station answered {outcome}"


async def signed_status(
    db: AsyncSession, station: Station, status: str, request_id: int | None, now: datetime
) -> FirmwareUpdate | None:
    """A SignedFirmwareStatusNotification moves this station's signed update ``request_id``
    while it is in progress (L01.FR.10); anything else (Idle, no or an unknown requestId, an
    update already final) moves nothing."""
    if status not in SIGNED_STEPS or request_id is None or not 1 <= request_id <= 2**31 - 1:
        return None
    update_ = await db.get(FirmwareUpdate, request_id)
    if update_ is None or update_.station_id != station.id:
        return None
    values: dict[str, Any] = {}
    if status == "Installed":  # normally after the reboot: its BootNotification is in
        values["firmware_after"] = station.firmware_version
    moved = await repository.move(db, update_.id, repository.IN_PROGRESS, status, now, **values)
    if not moved:
        return None
    await db.refresh(update_)
    if status in repository.FINAL:
        await service.complete_if_done(db, update_.campaign_id, now)
    return update_


def signing_of(
    file: FirmwareFile,
    certificate: str | None,
    signature: str | None,
    *,
    signed: bool,
    now: datetime,
) -> tuple[str, str] | None:
    """The (certificate, signature) a campaign sends: the operator's, else the file's when
    ``signed``, else None (a plain UpdateFirmware); ``SignatureRefused`` if they do not check
    out against the file."""
    if certificate is None or signature is None:
        if not signed:
            return None
        if file.signing_certificate is None or file.signature is None:
            raise SignatureRefused("the file carries no signing certificate and signature")
        certificate, signature = file.signing_certificate, file.signature
    check(file, certificate, signature, now)
    return certificate, signature.strip()
