"""The rules of the security whitepaper's messages; services never commit."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.events import Event
from kilowatt.security import ca, repository
from kilowatt.security.models import InstalledCertificate, SecurityEvent, StationCertificate
from kilowatt.stations.models import Station

log = logging.getLogger(__name__)

# The security events the whitepaper (§8) marks critical: a station pushes these at once.
CRITICAL_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)

# The commands whose answers change what we know of a station's installed certificates.
INVENTORY_ACTIONS = frozenset(
    {"DeleteCertificate", "GetInstalledCertificateIds", "InstallCertificate"}
)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def record_event(
    db: AsyncSession,
    station: Station,
    charge_point_id: str,
    type: str,
    timestamp: datetime,
    tech_info: str | None,
    now: datetime,
) -> tuple[SecurityEvent, Event]:
    """Store one SecurityEventNotification; the bus event to publish once it is committed."""
    row = SecurityEvent(
        tenant_id=station.tenant_id,
        station_id=station.id,
        type=type,
        tech_info=tech_info,
        timestamp=timestamp,
        received_at=now,
        critical=type in CRITICAL_EVENTS,
    )
    db.add(row)
    await db.flush()
    if row.critical:
        log.warning("%s: critical security event %s (%s)", charge_point_id, type, tech_info)
    event = Event(
        "security.event",
        {
            "id": row.id,
            "type": type,
            "techInfo": tech_info,
            "timestamp": _iso(timestamp),
            "critical": row.critical,
        },
        tenant_id=station.tenant_id,
        station=charge_point_id,
    )
    return row, event


async def issue(
    db: AsyncSession, station: Station, issued: ca.Issued, now: datetime
) -> StationCertificate:
    """Keep a certificate we signed for ``station`` (to be sent with CertificateSigned)."""
    certificate = issued.certificate
    row = StationCertificate(
        tenant_id=station.tenant_id,
        station_id=station.id,
        serial=issued.serial,
        subject=certificate.subject.rfc4514_string()[:255],
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint=issued.fingerprint,
        certificate=issued.pem,
        state="issued",
        created_at=now,
    )
    db.add(row)
    await db.flush()
    return row


def certificate_answered(row: StationCertificate, state: str, outcome: str | None) -> str:
    """Move an issued certificate by its CertificateSigned command: the station's Accepted /
    Rejected, or undelivered (offline, timeout, CALLERROR). Returns the new state."""
    if state == "completed" and outcome == "Accepted":
        row.state = "accepted"
    elif state == "completed" and outcome == "Rejected":
        row.state = "rejected"
    else:
        row.state = "undelivered"
    row.outcome = outcome
    return row.state


def _hash_data(item: Mapping[str, Any]) -> ca.HashData:
    return ca.HashData(
        str(item["hashAlgorithm"]),
        str(item["issuerNameHash"]),
        str(item["issuerKeyHash"]),
        str(item["serialNumber"]),
    )


async def command_answered(
    db: AsyncSession,
    station_id: int,
    action: str,
    request: Mapping[str, Any],
    response: Mapping[str, Any],
    now: datetime,
) -> None:
    """What a station's answer to a certificate command tells us of its installed ones."""
    status = response.get("status")
    if action == "GetInstalledCertificateIds":
        certificate_type = str(request["certificateType"])
        if status not in ("Accepted", "NotFound"):
            return
        # The answer is the whole truth for this type: replace what we knew.
        await repository.forget_type(db, station_id, certificate_type)
        await db.flush()
        seen: set[tuple[str, str, str, str]] = set()
        for item in response.get("certificateHashData") or [] if status == "Accepted" else []:
            data = _hash_data(item)
            key = (
                data.hash_algorithm,
                data.issuer_name_hash.lower(),
                data.issuer_key_hash.lower(),
                data.serial_number.lower(),
            )
            if key in seen:
                continue
            seen.add(key)
            _add(db, station_id, certificate_type, data, "report", now)
    elif action == "InstallCertificate" and status == "Accepted":
        computed = ca.self_signed_hash_data(str(request["certificate"]))
        if computed is None:
            # Not a root: its issuer's key is unknown here. GetInstalledCertificateIds will say.
            log.info(
                "station %s installed a non-root certificate; not in the inventory yet", station_id
            )
            return
        existing = await repository.find_installed(db, station_id, computed)
        if existing is None:
            _add(db, station_id, str(request["certificateType"]), computed, "install", now)
        else:
            existing.certificate_type = str(request["certificateType"])
            existing.updated_at = now
    elif action == "DeleteCertificate" and status in ("Accepted", "NotFound"):
        # NotFound: the station no longer holds it either; our inventory was stale.
        existing = await repository.find_installed(
            db, station_id, _hash_data(request["certificateHashData"])
        )
        if existing is not None:
            await db.delete(existing)


def _add(
    db: AsyncSession,
    station_id: int,
    certificate_type: str,
    data: ca.HashData,
    source: str,
    now: datetime,
) -> None:
    db.add(
        InstalledCertificate(
            station_id=station_id,
            certificate_type=certificate_type,
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number,
            source=source,
            updated_at=now,
        )
    )
