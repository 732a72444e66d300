"""The rules of firmware files, update campaigns and diagnostics requests (never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.config import Settings
from kilowatt.events import Event
from kilowatt.firmware import repository, signing, storage
from kilowatt.firmware.models import (
    DiagnosticsRequest,
    FirmwareCampaign,
    FirmwareFile,
    FirmwareUpdate,
)
from kilowatt.stations.models import Station

# FirmwareStatusNotification statuses that move a station's update (Idle only answers a
# TriggerMessage and says nothing about an update).
FIRMWARE_STEPS = frozenset(
    {"Downloading", "Downloaded", "Installing", "Installed", "DownloadFailed", "InstallationFailed"}
)
DIAGNOSTICS_STEPS = frozenset({"Uploading", "Uploaded", "UploadFailed"})


class FileInUse(Exception):
    """The file is being rolled out by an open campaign."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---- files -----------------------------------------------------------------------------------
async def add_file(
    db: AsyncSession,
    tenant_id: int,
    name: str,
    version: str | None,
    stored: storage.Stored,
    uploaded_by: str | None,
    now: datetime,
) -> FirmwareFile:
    row = FirmwareFile(
        tenant_id=tenant_id,
        name=storage.safe_name(name, "firmware.bin"),
        version=version,
        size_bytes=stored.size,
        sha256=stored.sha256,
        stored_as=stored.stored_as,
        uploaded_by=uploaded_by,
        created_at=now,
    )
    db.add(row)
    await db.flush()
    return row


async def delete_file(db: AsyncSession, data_dir: Path, file: FirmwareFile, now: datetime) -> None:
    """Remove the bytes and mark the row deleted (its campaigns keep naming it)."""
    if await repository.file_in_open_campaign(db, file.id):
        raise FileInUse(file.id)
    file.deleted_at = now
    await db.flush()
    storage.remove(data_dir, storage.FIRMWARE, file.stored_as)


def firmware_expiry(settings: Settings, retrieve_date: datetime, now: datetime) -> int:
    """A download URL is valid from now until ``firmware_url_ttl`` after the retrieve date."""
    return int((max(now, retrieve_date) + timedelta(seconds=settings.firmware_url_ttl)).timestamp())


def firmware_url(base_url: str, key: bytes, file: FirmwareFile, expires: int) -> str:
    signature = signing.sign(key, "firmware", file.id, expires)
    return f"{base_url}/firmware/{file.id}/{quote(file.name)}?expires={expires}&sig={signature}"


# ---- campaigns -------------------------------------------------------------------------------
async def create_campaign(
    db: AsyncSession,
    file: FirmwareFile,
    stations: Sequence[Station],
    *,
    retrieve_date: datetime,
    retries: int | None,
    retry_interval: int | None,
    created_by: str | None,
    now: datetime,
    batch_size: int | None = None,
    window: tuple[time | None, time | None, str | None] = (None, None, None),
    signing: tuple[str, str] | None = None,
    install_date: datetime | None = None,
) -> FirmwareCampaign:
    """A campaign and its stations' updates (``scheduled``); ``window``: the daily
    maintenance window (start, end, time zone; UTC when only the times are given);
    ``signing``: the (certificate, signature) of a signed campaign, already checked."""
    start, end, timezone = window
    campaign = FirmwareCampaign(
        tenant_id=file.tenant_id,
        file_id=file.id,
        retrieve_date=retrieve_date.astimezone(UTC),
        retries=retries,
        retry_interval=retry_interval,
        batch_size=batch_size,
        window_start=start,
        window_end=end,
        window_timezone=None if start is None else (timezone or "UTC"),
        state="open",
        created_by=created_by,
        created_at=now,
        signing_certificate=None if signing is None else signing[0],
        signature=None if signing is None else signing[1],
        install_date=None if install_date is None else install_date.astimezone(UTC),
    )
    db.add(campaign)
    await db.flush()
    for station in stations:
        db.add(
            FirmwareUpdate(
                campaign_id=campaign.id,
                station_id=station.id,
                state="scheduled",
                firmware_before=station.firmware_version,
                updated_at=now,
            )
        )
    await db.flush()
    return campaign


def update_payload(
    settings: Settings,
    base_url: str,
    key: bytes,
    campaign: FirmwareCampaign,
    file: FirmwareFile,
    now: datetime,
) -> dict[str, Any]:
    """The UpdateFirmware.req of a campaign's station."""
    expires = firmware_expiry(settings, campaign.retrieve_date, now)
    payload: dict[str, Any] = {
        "location": firmware_url(base_url, key, file, expires),
        "retrieveDate": iso(campaign.retrieve_date),
    }
    if campaign.retries is not None:
        payload["retries"] = campaign.retries
    if campaign.retry_interval is not None:
        payload["retryInterval"] = campaign.retry_interval
    return payload


async def complete_if_done(db: AsyncSession, campaign_id: int, now: datetime) -> bool:
    """An open campaign whose every station is done is completed."""
    campaign = await db.get(FirmwareCampaign, campaign_id)
    if campaign is None or campaign.state != "open":
        return False
    if await repository.unfinished_count(db, campaign_id):
        return False
    campaign.state, campaign.closed_at = "completed", now
    await db.flush()
    return True


async def close_campaign(db: AsyncSession, campaign: FirmwareCampaign, now: datetime) -> None:
    """Stop a campaign: stations not reached yet are cancelled; those already updating go on
    (an UpdateFirmware cannot be taken back) and are still tracked."""
    # The campaign's row is locked first: an update the worker is recording as ``offline`` at
    # this moment is either seen here (and cancelled) or sees the campaign closed (PostgreSQL;
    # SQLite serialises writers anyway).
    await repository.lock_campaign(db, campaign.id)
    if campaign.state != "open":
        return
    for update_, _ in await repository.campaign_updates(db, campaign.id):
        if update_.state in repository.UNDELIVERED:
            await repository.move(db, update_.id, repository.UNDELIVERED, "cancelled", now)
    campaign.state, campaign.closed_at = "closed", now
    await db.flush()


def firmware_event(
    update_: FirmwareUpdate, tenant_id: int, charge_point_id: str, status: str | None = None
) -> Event:
    return Event(
        "firmware.status",
        {
            "campaignId": update_.campaign_id,
            "updateId": update_.id,
            "state": update_.state,
            "status": status,
            "firmwareVersion": update_.firmware_after,
            "detail": update_.detail,
        },
        tenant_id=tenant_id,
        station=charge_point_id,
    )


async def firmware_status(
    db: AsyncSession, station: Station, status: str, now: datetime
) -> FirmwareUpdate | None:
    """A FirmwareStatusNotification moves the station's update in progress, if any."""
    if status not in FIRMWARE_STEPS:
        return None
    update_ = await repository.current_update(db, station.id)
    if update_ is None:
        return None
    values: dict[str, Any] = {}
    if status == "Installed":  # normally after the reboot: its BootNotification is in
        values["firmware_after"] = station.firmware_version
    await repository.move(db, update_.id, repository.IN_PROGRESS, status, now, **values)
    await db.refresh(update_)
    if status in repository.FINAL:
        await complete_if_done(db, update_.campaign_id, now)
    return update_


async def booted(
    db: AsyncSession, station_id: int, firmware_version: str | None, now: datetime
) -> FirmwareUpdate | None:
    """A BootNotification while (or right after) installing: the version it runs now."""
    update_ = await repository.latest_update(db, station_id)
    if update_ is None or update_.state not in ("Installing", "InstallRebooting", "Installed"):
        return None
    if update_.firmware_after == firmware_version:
        return None
    update_.firmware_after = firmware_version
    update_.updated_at = now
    await db.flush()
    return update_


# ---- diagnostics -----------------------------------------------------------------------------
async def new_diagnostics(
    db: AsyncSession,
    station: Station,
    *,
    start_time: datetime | None,
    stop_time: datetime | None,
    retries: int | None,
    retry_interval: int | None,
    requested_by: str | None,
    ttl: float,
    now: datetime,
) -> DiagnosticsRequest:
    row = DiagnosticsRequest(
        tenant_id=station.tenant_id,
        station_id=station.id,
        start_time=None if start_time is None else start_time.astimezone(UTC),
        stop_time=None if stop_time is None else stop_time.astimezone(UTC),
        retries=retries,
        retry_interval=retry_interval,
        state="sending",
        expires_at=now + timedelta(seconds=ttl),
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    return row


def upload_location(base_url: str, key: bytes, row: DiagnosticsRequest) -> str:
    token = signing.diagnostics_token(key, row.id, int(row.expires_at.timestamp()))
    return f"{base_url}/diagnostics/{token}"


def diagnostics_payload(row: DiagnosticsRequest, location: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"location": location}
    if row.retries is not None:
        payload["retries"] = row.retries
    if row.retry_interval is not None:
        payload["retryInterval"] = row.retry_interval
    if row.start_time is not None:
        payload["startTime"] = iso(row.start_time)
    if row.stop_time is not None:
        payload["stopTime"] = iso(row.stop_time)
    return payload


def diagnostics_event(row: DiagnosticsRequest, charge_point_id: str, status: str | None) -> Event:
    return Event(
        "diagnostics.status",
        {
            "requestId": row.id,
            "state": row.state,
            "status": status,
            "fileName": row.file_name,
            "received": row.received_at is not None,
            "receivedSize": row.received_size,
        },
        tenant_id=row.tenant_id,
        station=charge_point_id,
    )


async def diagnostics_status(
    db: AsyncSession, station_id: int, status: str, now: datetime
) -> DiagnosticsRequest | None:
    """A DiagnosticsStatusNotification moves the station's open request, if any."""
    if status not in DIAGNOSTICS_STEPS:
        return None
    row = await repository.current_diagnostics(db, station_id)
    if row is None:
        return None
    await repository.move_diagnostics(db, row.id, repository.DIAGNOSTICS_OPEN, status, now)
    await db.refresh(row)
    return row
