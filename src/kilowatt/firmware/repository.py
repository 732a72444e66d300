"""Every query of the firmware domain; ``tenant_id`` None means every tenant (platform admins)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.firmware.models import (
    DiagnosticsRequest,
    FirmwareCampaign,
    FirmwareFile,
    FirmwareUpdate,
)
from kilowatt.stations.models import Station

T = TypeVar("T")

# Where an update stands: not delivered yet / being worked on by the station / done.
UNDELIVERED = ("scheduled", "offline")
IN_PROGRESS = (
    "sending",
    "sent",
    "Downloading",
    "Downloaded",
    "Installing",
    # a signed update's steps (SignedFirmwareStatusNotification)
    "DownloadScheduled",
    "DownloadPaused",
    "SignatureVerified",
    "InstallScheduled",
    "InstallRebooting",
)
FINAL = (
    "Installed",
    "DownloadFailed",
    "InstallationFailed",
    "error",
    "cancelled",
    "InstallVerificationFailed",
    "InvalidSignature",
)
# A diagnostics request the station is still working on.
DIAGNOSTICS_OPEN = ("sending", "sent", "Uploading")


async def _page(
    db: AsyncSession, query: Select[T], *, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await db.scalars(query.limit(limit).offset(offset))).all()
    return rows, total or 0


def _tenant(query: Select[T], column: Any, tenant_id: int | None) -> Select[T]:
    return query if tenant_id is None else query.where(column == tenant_id)


# ---- files ---------------------------------------------------------------------------------------
async def visible_file(
    db: AsyncSession, file_id: int, tenant_id: int | None
) -> FirmwareFile | None:
    query = select(FirmwareFile).where(
        FirmwareFile.id == file_id, FirmwareFile.deleted_at.is_(None)
    )
    return await db.scalar(_tenant(query, FirmwareFile.tenant_id, tenant_id))


async def files_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[FirmwareFile], int]:
    query = select(FirmwareFile).where(FirmwareFile.deleted_at.is_(None))
    query = _tenant(query, FirmwareFile.tenant_id, tenant_id).order_by(FirmwareFile.id.desc())
    return await _page(db, query, limit=limit, offset=offset)


async def file_in_open_campaign(db: AsyncSession, file_id: int) -> bool:
    found = await db.scalar(
        select(FirmwareCampaign.id).where(
            FirmwareCampaign.file_id == file_id, FirmwareCampaign.state == "open"
        )
    )
    return found is not None


# ---- campaigns -----------------------------------------------------------------------------------
async def visible_campaign(
    db: AsyncSession, campaign_id: int, tenant_id: int | None
) -> FirmwareCampaign | None:
    query = select(FirmwareCampaign).where(FirmwareCampaign.id == campaign_id)
    return await db.scalar(_tenant(query, FirmwareCampaign.tenant_id, tenant_id))


async def campaigns_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[FirmwareCampaign], int]:
    query = _tenant(select(FirmwareCampaign), FirmwareCampaign.tenant_id, tenant_id)
    return await _page(db, query.order_by(FirmwareCampaign.id.desc()), limit=limit, offset=offset)


async def campaign_updates(
    db: AsyncSession, campaign_id: int
) -> Sequence[tuple[FirmwareUpdate, str]]:
    """The campaign's stations with their charge point ids, in id order."""
    rows = await db.execute(
        select(FirmwareUpdate, Station.charge_point_id)
        .join(Station, Station.id == FirmwareUpdate.station_id)
        .where(FirmwareUpdate.campaign_id == campaign_id)
        .order_by(Station.charge_point_id)
    )
    return [(update_, cp) for update_, cp in rows.all()]


async def state_counts(db: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    if not campaign_ids:
        return counts
    rows = await db.execute(
        select(FirmwareUpdate.campaign_id, FirmwareUpdate.state, func.count())
        .where(FirmwareUpdate.campaign_id.in_(campaign_ids))
        .group_by(FirmwareUpdate.campaign_id, FirmwareUpdate.state)
    )
    for campaign_id, state, count in rows.all():
        counts[campaign_id][state] = count
    return counts


async def unfinished_count(db: AsyncSession, campaign_id: int) -> int:
    count = await db.scalar(
        select(func.count()).where(
            FirmwareUpdate.campaign_id == campaign_id, FirmwareUpdate.state.not_in(FINAL)
        )
    )
    return count or 0


async def current_update(db: AsyncSession, station_id: int) -> FirmwareUpdate | None:
    """The station's update in progress: the newest one it is working on."""
    return await db.scalar(
        select(FirmwareUpdate)
        .where(FirmwareUpdate.station_id == station_id, FirmwareUpdate.state.in_(IN_PROGRESS))
        .order_by(FirmwareUpdate.id.desc())
        .limit(1)
    )


async def latest_update(db: AsyncSession, station_id: int) -> FirmwareUpdate | None:
    return await db.scalar(
        select(FirmwareUpdate)
        .where(FirmwareUpdate.station_id == station_id)
        .order_by(FirmwareUpdate.id.desc())
        .limit(1)
    )


def _paced() -> Any:
    return FirmwareCampaign.batch_size.is_not(None) | FirmwareCampaign.window_start.is_not(None)


async def undelivered(
    db: AsyncSession, *, station_id: int | None = None
) -> Sequence[tuple[int, int, bool]]:
    """Updates of open campaigns still to deliver (of one station, or all ``scheduled``):
    (update id, campaign id, whether the campaign is paced)."""
    query = select(FirmwareUpdate.id, FirmwareUpdate.campaign_id, _paced()).join(
        FirmwareCampaign, FirmwareCampaign.id == FirmwareUpdate.campaign_id
    )
    query = query.where(FirmwareCampaign.state == "open")
    if station_id is None:
        query = query.where(FirmwareUpdate.state == "scheduled")
    else:
        query = query.where(
            FirmwareUpdate.station_id == station_id, FirmwareUpdate.state.in_(UNDELIVERED)
        )
    rows = await db.execute(query.order_by(FirmwareUpdate.id))
    return [(update_id, campaign_id, bool(paced)) for update_id, campaign_id, paced in rows]


async def open_paced_campaigns(db: AsyncSession) -> Sequence[int]:
    query = select(FirmwareCampaign.id).where(FirmwareCampaign.state == "open", _paced())
    return (await db.scalars(query.order_by(FirmwareCampaign.id))).all()


async def lock_campaign(db: AsyncSession, campaign_id: int) -> FirmwareCampaign | None:
    """The campaign, its row locked until the commit (PostgreSQL; SQLite has one writer), so
    that two nodes pacing it never start more stations than its batch between them; its
    attributes are read again from the database, as committed when the lock was taken."""
    query = select(FirmwareCampaign).where(FirmwareCampaign.id == campaign_id)
    return await db.scalar(query.with_for_update().execution_options(populate_existing=True))


async def updating_count(db: AsyncSession, campaign_id: int) -> int:
    count = await db.scalar(
        select(func.count()).where(
            FirmwareUpdate.campaign_id == campaign_id, FirmwareUpdate.state.in_(IN_PROGRESS)
        )
    )
    return count or 0


async def waiting(db: AsyncSession, campaign_id: int) -> Sequence[tuple[int, str, str]]:
    """The campaign's updates not started yet: (update id, state, charge point id), in charge
    point id order."""
    rows = await db.execute(
        select(FirmwareUpdate.id, FirmwareUpdate.state, Station.charge_point_id)
        .join(Station, Station.id == FirmwareUpdate.station_id)
        .where(FirmwareUpdate.campaign_id == campaign_id, FirmwareUpdate.state.in_(UNDELIVERED))
        .order_by(Station.charge_point_id)
    )
    return [(update_id, state, cp) for update_id, state, cp in rows.all()]


async def claim(db: AsyncSession, update_id: int, now: datetime) -> bool:
    """Move an undelivered update of an open campaign to ``sending`` (once, across nodes)."""
    open_campaign = (
        select(FirmwareCampaign.id)
        .where(FirmwareCampaign.id == FirmwareUpdate.campaign_id, FirmwareCampaign.state == "open")
        .exists()
    )
    result = await db.execute(
        update(FirmwareUpdate)
        .where(
            FirmwareUpdate.id == update_id,
            FirmwareUpdate.state.in_(UNDELIVERED),
            open_campaign,
        )
        .values(state="sending", attempts=FirmwareUpdate.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def move(
    db: AsyncSession,
    update_id: int,
    from_states: Sequence[str],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Set the update's state if it is still in one of ``from_states`` (a later station report
    is never overwritten by an earlier command outcome)."""
    result = await db.execute(
        update(FirmwareUpdate)
        .where(FirmwareUpdate.id == update_id, FirmwareUpdate.state.in_(from_states))
        .values(state=state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# ---- diagnostics ---------------------------------------------------------------------------------
async def diagnostics_page(
    db: AsyncSession, station_id: int, *, limit: int, offset: int
) -> tuple[Sequence[DiagnosticsRequest], int]:
    query = (
        select(DiagnosticsRequest)
        .where(DiagnosticsRequest.station_id == station_id)
        .order_by(DiagnosticsRequest.id.desc())
    )
    return await _page(db, query, limit=limit, offset=offset)


async def visible_diagnostics(
    db: AsyncSession, request_id: int, tenant_id: int | None
) -> DiagnosticsRequest | None:
    query = select(DiagnosticsRequest).where(DiagnosticsRequest.id == request_id)
    return await db.scalar(_tenant(query, DiagnosticsRequest.tenant_id, tenant_id))


async def current_diagnostics(db: AsyncSession, station_id: int) -> DiagnosticsRequest | None:
    """The station's newest diagnostics request it may still be uploading for."""
    return await db.scalar(
        select(DiagnosticsRequest)
        .where(
            DiagnosticsRequest.station_id == station_id,
            DiagnosticsRequest.state.in_(DIAGNOSTICS_OPEN),
        )
        .order_by(DiagnosticsRequest.id.desc())
        .limit(1)
    )


async def move_diagnostics(
    db: AsyncSession,
    request_id: int,
    from_states: Sequence[str],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    result = await db.execute(
        update(DiagnosticsRequest)
        .where(DiagnosticsRequest.id == request_id, DiagnosticsRequest.state.in_(from_states))
        .values(state=state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_upload(db: AsyncSession, request_id: int, now: datetime, **values: Any) -> bool:
    """Keep the request's one upload; False if it already has one (the token is used up)."""
    result = await db.execute(
        update(DiagnosticsRequest)
        .where(DiagnosticsRequest.id == request_id, DiagnosticsRequest.received_at.is_(None))
        .values(received_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def stations_of(
    db: AsyncSession,
    tenant_id: int,
    *,
    charge_point_ids: Sequence[str] | None = None,
    site_id: int | None = None,
) -> Sequence[Station]:
    """The tenant's stations: those named, those of a site, or all of them."""
    query = select(Station).where(Station.tenant_id == tenant_id)
    if charge_point_ids is not None:
        query = query.where(Station.charge_point_id.in_(charge_point_ids))
    if site_id is not None:
        query = query.where(Station.site_id == site_id)
    return (await db.scalars(query.order_by(Station.charge_point_id))).all()
