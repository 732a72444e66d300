"""Firmware Management API: firmware files, update campaigns, diagnostics — and the two public
routes chargers use, authorised by a signed URL instead of credentials.

Permissions: reading files, campaigns and diagnostics requests needs ``stations:read``;
uploading or deleting files and starting or closing campaigns ``stations:write`` (new firmware
is station management, for admins); requesting diagnostics and downloading what a station
uploaded ``commands:send`` (diagnostics may hold personal data such as card ids).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    CommandsSend,
    IdPath,
    StationsRead,
    StationsWrite,
    TenantQuery,
    requested_by,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.principal import Principal
from kilowatt.events import Event
from kilowatt.firmware import pacing, repository, service, signed, signing, storage
from kilowatt.firmware.manager import FirmwareManager
from kilowatt.firmware.models import (
    DiagnosticsRequest,
    FirmwareCampaign,
    FirmwareFile,
    LogRequest,
)
from kilowatt.firmware.schemas import (
    CampaignCreate,
    CampaignOut,
    DiagnosticsCreate,
    DiagnosticsOut,
    FirmwareFileOut,
    UpdateOut,
)
from kilowatt.stations import repository as stations
from kilowatt.stations.api import visible_station

router = APIRouter(tags=["firmware"])
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"description": "larger than the configured limit"}
}


def _now() -> datetime:
    return datetime.now(UTC)


def _manager(request: Request) -> FirmwareManager:
    manager: FirmwareManager = request.app.state.firmware
    return manager


def _clock(request: Request) -> datetime:
    """Now, as campaign pacing sees it."""
    return _manager(request).clock()


def _too_large(limit: int) -> Problem:
    return Problem(413, "Too large", f"at most {limit} bytes are accepted")


def _check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdecimal() and int(length) > limit:
        raise _too_large(limit)


async def _store(request: Request, kind: str, limit: int) -> storage.Stored:
    _check_length(request, limit)
    chunks: AsyncIterator[bytes] = request.stream()
    try:
        return await storage.store(
            request.app.state.kilowatt.settings.data_dir, kind, chunks, max_bytes=limit
        )
    except storage.TooLarge:
        raise _too_large(limit) from None


# ---- firmware files -------------------------------------------------------------------------
@router.post(
    "/api/v1/firmware",
    status_code=201,
    responses={**GUARDED, **NOT_FOUND, **TOO_LARGE},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_firmware(
    request: Request,
    principal: StationsWrite,
    name: str = Query(min_length=1, max_length=255, description="file name chargers will see"),
    version: str | None = Query(None, max_length=50, description="the firmware version"),
    tenant: str | None = TenantQuery,
) -> FirmwareFileOut:
    """Upload a firmware image as the raw request body (streamed to disk, never held whole)."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        tenant_id = await target_tenant(db, principal, tenant)
    stored = await _store(request, storage.FIRMWARE, node.settings.firmware_max_bytes)
    if stored.size == 0:
        storage.remove(node.settings.data_dir, storage.FIRMWARE, stored.stored_as)
        raise Problem(422, "Empty file", "the request body holds no firmware")
    try:
        async with node.sessions() as db:
            row = await service.add_file(
                db, tenant_id, name, version, stored, requested_by(principal), _now()
            )
            await db.commit()
            return FirmwareFileOut.model_validate(row)
    except BaseException:
        storage.remove(node.settings.data_dir, storage.FIRMWARE, stored.stored_as)
        raise


@router.get("/api/v1/firmware", responses=GUARDED)
async def list_firmware(
    request: Request, principal: StationsRead, page: PageParams
) -> Page[FirmwareFileOut]:
    async with request.app.state.kilowatt.sessions() as db:
        rows, total = await repository.files_page(
            db, principal.tenant_id, limit=page.limit, offset=page.offset
        )
        return Page[FirmwareFileOut].of(
            [FirmwareFileOut.model_validate(r) for r in rows], total, page
        )


async def _visible_file(db: AsyncSession, principal: Principal, file_id: int) -> FirmwareFile:
    row = await repository.visible_file(db, file_id, principal.tenant_id)
    if row is None:
        raise Problem(404, "Firmware file not found", f"no firmware file {file_id}")
    return row


# ---- campaigns (before /firmware/{file_id}, which would take "campaigns" for an id) ---------
async def _campaign_out(
    db: AsyncSession, campaign: FirmwareCampaign, now: datetime, *, with_stations: bool
) -> CampaignOut:
    file = await db.get(FirmwareFile, campaign.file_id)
    assert file is not None
    counts = await repository.state_counts(db, [campaign.id])
    updates = None
    if with_stations:
        updates = [
            UpdateOut(
                charge_point_id=cp,
                state=u.state,
                detail=u.detail,
                attempts=u.attempts,
                command_id=u.command_id,
                firmware_before=u.firmware_before,
                firmware_after=u.firmware_after,
                updated_at=u.updated_at,
                request_id=None if campaign.signing_certificate is None else u.id,
            )
            for u, cp in await repository.campaign_updates(db, campaign.id)
        ]
    queued, waiting_for_window = pacing.waiting_counts(campaign, counts[campaign.id], now)
    window = pacing.window_of(campaign)
    opens_at = None
    if campaign.state == "open" and window is not None and not window.is_open(now):
        opens_at = window.next_opening(now)
    return CampaignOut(
        id=campaign.id,
        tenant_id=campaign.tenant_id,
        file_id=file.id,
        file_name=file.name,
        version=file.version,
        retrieve_date=campaign.retrieve_date,
        retries=campaign.retries,
        retry_interval=campaign.retry_interval,
        batch_size=campaign.batch_size,
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        window_timezone=campaign.window_timezone,
        state=campaign.state,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        closed_at=campaign.closed_at,
        progress=counts[campaign.id],
        queued=queued,
        waiting_for_window=waiting_for_window,
        window_opens_at=opens_at,
        stations=updates,
        signed=campaign.signing_certificate is not None,
        install_date=campaign.install_date,
    )


@router.post("/api/v1/firmware/campaigns", status_code=201, responses={**GUARDED, **NOT_FOUND})
async def create_campaign(
    request: Request, principal: StationsWrite, body: CampaignCreate
) -> CampaignOut:
    """UpdateFirmware to the named stations, a site's, or all of the file's tenant. Offline
    stations get it when they reconnect, while the campaign is open."""
    node = request.app.state.kilowatt
    now = _now()
    async with node.sessions() as db:
        file = await _visible_file(db, principal, body.file_id)
        targets = await repository.stations_of(
            db,
            file.tenant_id,
            charge_point_ids=None if body.stations is None else list(dict.fromkeys(body.stations)),
            site_id=body.site_id,
        )
        if body.stations is not None:
            missing = sorted(set(body.stations) - {s.charge_point_id for s in targets})
            if missing:
                raise Problem(404, "Station not found", f"no station {missing[0]!r}")
        if not targets:
            raise Problem(422, "No stations", "the campaign would reach no station")
        try:
            signing = signed.signing_of(
                file, body.signing_certificate, body.signature, signed=body.signed, now=now
            )
        except signed.SignatureRefused as exc:
            raise Problem(422, "Invalid firmware signature", str(exc)) from None
        campaign = await service.create_campaign(
            db,
            file,
            targets,
            retrieve_date=body.retrieve_date or now,
            retries=body.retries,
            retry_interval=body.retry_interval,
            batch_size=body.batch_size,
            window=(body.window_start, body.window_end, body.window_timezone),
            created_by=requested_by(principal),
            now=now,
            signing=signing,
            install_date=body.install_date,
        )
        await db.commit()
        out = await _campaign_out(db, campaign, _clock(request), with_stations=True)
    _manager(request).start(campaign.id)
    return out


@router.get("/api/v1/firmware/campaigns", responses=GUARDED)
async def list_campaigns(
    request: Request, principal: StationsRead, page: PageParams
) -> Page[CampaignOut]:
    async with request.app.state.kilowatt.sessions() as db:
        rows, total = await repository.campaigns_page(
            db, principal.tenant_id, limit=page.limit, offset=page.offset
        )
        now = _clock(request)
        items = [await _campaign_out(db, c, now, with_stations=False) for c in rows]
        return Page[CampaignOut].of(items, total, page)


async def _visible_campaign(
    db: AsyncSession, principal: Principal, campaign_id: int
) -> FirmwareCampaign:
    campaign = await repository.visible_campaign(db, campaign_id, principal.tenant_id)
    if campaign is None:
        raise Problem(404, "Campaign not found", f"no campaign {campaign_id}")
    return campaign


@router.get("/api/v1/firmware/campaigns/{campaign_id}", responses={**GUARDED, **NOT_FOUND})
async def get_campaign(
    request: Request, principal: StationsRead, campaign_id: IdPath
) -> CampaignOut:
    """The campaign with every station's progress."""
    async with request.app.state.kilowatt.sessions() as db:
        campaign = await _visible_campaign(db, principal, campaign_id)
        return await _campaign_out(db, campaign, _clock(request), with_stations=True)


@router.post("/api/v1/firmware/campaigns/{campaign_id}/close", responses={**GUARDED, **NOT_FOUND})
async def close_campaign(
    request: Request, principal: StationsWrite, campaign_id: IdPath
) -> CampaignOut:
    """Stop a campaign: stations not reached yet are cancelled (those updating go on)."""
    async with request.app.state.kilowatt.sessions() as db:
        campaign = await _visible_campaign(db, principal, campaign_id)
        await service.close_campaign(db, campaign, _now())
        await db.commit()
        return await _campaign_out(db, campaign, _clock(request), with_stations=True)


@router.get("/api/v1/firmware/{file_id}", responses={**GUARDED, **NOT_FOUND})
async def get_firmware(
    request: Request, principal: StationsRead, file_id: IdPath
) -> FirmwareFileOut:
    async with request.app.state.kilowatt.sessions() as db:
        return FirmwareFileOut.model_validate(await _visible_file(db, principal, file_id))


@router.delete(
    "/api/v1/firmware/{file_id}", status_code=204, responses={**GUARDED, **NOT_FOUND_OR_CONFLICT}
)
async def delete_firmware(request: Request, principal: StationsWrite, file_id: IdPath) -> Response:
    """Delete a file (refused while an open campaign rolls it out)."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        row = await _visible_file(db, principal, file_id)
        try:
            await service.delete_file(db, node.settings.data_dir, row, _now())
        except service.FileInUse:
            raise Problem(409, "File in use", "an open campaign rolls this file out") from None
        await db.commit()
    return Response(status_code=204)


# ---- what chargers call: signed URLs, no credentials ----------------------------------------
_FORBIDDEN = Problem(403, "Forbidden", "the link is invalid or has expired")


@router.api_route("/firmware/{file_id}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def download_firmware(
    request: Request,
    file_id: str,
    name: str,
    expires: str = Query(""),
    sig: str = Query(""),
) -> FileResponse:
    """A firmware file, to whoever holds a valid signed link (HEAD and Range supported)."""
    node = request.app.state.kilowatt
    if not (file_id.isdecimal() and expires.isdecimal()) or not 1 <= int(file_id) <= 2**31 - 1:
        raise _FORBIDDEN
    key = _manager(request).key
    if not signing.verify(key, "firmware", int(file_id), int(expires), sig, _now()):
        raise _FORBIDDEN
    async with node.sessions() as db:
        row = await repository.visible_file(db, int(file_id), None)
    if row is None or row.name != name:
        raise Problem(404, "Not found", "no such firmware file")
    path = storage.path_of(node.settings.data_dir, storage.FIRMWARE, row.stored_as)
    if not path.is_file():
        raise Problem(404, "Not found", "no such firmware file")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=row.name,
        headers={"x-checksum-sha256": row.sha256},
    )


@dataclass(frozen=True)
class UploadKind:
    """What a station uploads to a signed one-time link: diagnostics, or a log (GetLog)."""

    model: type[DiagnosticsRequest] | type[LogRequest]
    area: str  # the storage area
    record: Callable[..., Awaitable[bool]]  # record_upload(db, id, now, **values)
    default_name: Callable[[Any, str], str]  # (row, charge point id) -> a file name
    event: Callable[[Any, str, str | None], Event]  # (row, charge point id, status) -> event


DIAGNOSTICS_UPLOAD = UploadKind(
    DiagnosticsRequest,
    storage.DIAGNOSTICS,
    repository.record_upload,
    lambda row, cp: f"diagnostics-{cp}-{row.id}.log",
    service.diagnostics_event,
)


async def receive_upload(
    request: Request, request_id: int | None, filename: str | None, kind: UploadKind
) -> JSONResponse:
    """Keep the raw body of a station's upload for the request its link was signed for (once)."""
    node = request.app.state.kilowatt
    now = _now()
    if request_id is None:
        raise _FORBIDDEN
    async with node.sessions() as db:
        row: Any = await db.get(kind.model, request_id)
        if row is None:
            raise _FORBIDDEN
        if row.received_at is not None:
            raise Problem(409, "Already uploaded", "this link has been used")
    stored = await _store(request, kind.area, node.settings.diagnostics_max_bytes)
    async with node.sessions() as db:
        row = await db.get(kind.model, request_id)
        assert row is not None
        station = await stations.by_id(db, row.station_id)
        assert station is not None
        default = kind.default_name(row, station.charge_point_id)
        name = storage.safe_name(filename or row.file_name or default, default)
        recorded = await kind.record(
            db,
            row.id,
            now,
            received_name=name,
            received_size=stored.size,
            received_sha256=stored.sha256,
            stored_as=stored.stored_as,
        )
        if not recorded:  # a concurrent upload won
            storage.remove(node.settings.data_dir, kind.area, stored.stored_as)
            raise Problem(409, "Already uploaded", "this link has been used")
        await db.commit()
        await db.refresh(row)
        event = kind.event(row, station.charge_point_id, None)
    node.bus.publish(event)
    return JSONResponse({"received": stored.size, "sha256": stored.sha256}, status_code=201)


async def _receive_diagnostics(request: Request, token: str, filename: str | None) -> JSONResponse:
    request_id = signing.diagnostics_request_of(_manager(request).key, token, _now())
    return await receive_upload(request, request_id, filename, DIAGNOSTICS_UPLOAD)


@router.api_route("/diagnostics/{token}", methods=["PUT", "POST"], include_in_schema=False)
async def upload_diagnostics(request: Request, token: str) -> JSONResponse:
    """A station's diagnostics file, as the raw body of an HTTP PUT or POST."""
    return await _receive_diagnostics(request, token, None)


@router.api_route(
    "/diagnostics/{token}/{filename}", methods=["PUT", "POST"], include_in_schema=False
)
async def upload_diagnostics_named(request: Request, token: str, filename: str) -> JSONResponse:
    """The same, for chargers that append the file name to the location (a directory)."""
    return await _receive_diagnostics(request, token, filename)


# ---- diagnostics (operators) ------------------------------------------------------------------
def _diagnostics_out(row: DiagnosticsRequest, charge_point_id: str) -> DiagnosticsOut:
    return DiagnosticsOut(
        id=row.id,
        charge_point_id=charge_point_id,
        state=row.state,
        detail=row.detail,
        command_id=row.command_id,
        file_name=row.file_name,
        start_time=row.start_time,
        stop_time=row.stop_time,
        retries=row.retries,
        retry_interval=row.retry_interval,
        expires_at=row.expires_at,
        received_name=row.received_name,
        received_size=row.received_size,
        received_sha256=row.received_sha256,
        received_at=row.received_at,
        download=None if row.stored_as is None else f"/api/v1/diagnostics/{row.id}/file",
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post(
    "/api/v1/stations/{charge_point_id}/diagnostics",
    status_code=201,
    responses={**GUARDED, **NOT_FOUND},
)
async def request_diagnostics(
    request: Request,
    principal: CommandsSend,
    charge_point_id: str,
    body: DiagnosticsCreate | None = None,
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the answer"),
) -> DiagnosticsOut:
    """Send GetDiagnostics with an upload location on this node (a one-time signed URL)."""
    node = request.app.state.kilowatt
    body = body or DiagnosticsCreate()
    now = _now()
    async with node.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        row = await service.new_diagnostics(
            db,
            station,
            start_time=body.start_time,
            stop_time=body.stop_time,
            retries=body.retries,
            retry_interval=body.retry_interval,
            requested_by=requested_by(principal),
            ttl=node.settings.diagnostics_url_ttl,
            now=now,
        )
        location = service.upload_location(_manager(request).public_url, _manager(request).key, row)
        payload = service.diagnostics_payload(row, location)
        await db.commit()
        row_id = row.id
    await _manager(request).send_diagnostics(
        row_id, charge_point_id, payload, wait=wait, requested_by=requested_by(principal)
    )
    async with node.sessions() as db:
        found = await db.get(DiagnosticsRequest, row_id)
        assert found is not None
        return _diagnostics_out(found, charge_point_id)


@router.get("/api/v1/stations/{charge_point_id}/diagnostics", responses={**GUARDED, **NOT_FOUND})
async def list_diagnostics(
    request: Request, principal: StationsRead, charge_point_id: str, page: PageParams
) -> Page[DiagnosticsOut]:
    """The station's diagnostics requests and what it uploaded, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        rows, total = await repository.diagnostics_page(
            db, station.id, limit=page.limit, offset=page.offset
        )
        items = [_diagnostics_out(r, station.charge_point_id) for r in rows]
        return Page[DiagnosticsOut].of(items, total, page)


@router.get("/api/v1/diagnostics/{request_id}/file", responses={**GUARDED, **NOT_FOUND})
async def download_diagnostics(
    request: Request, principal: CommandsSend, request_id: IdPath
) -> FileResponse:
    """The file a station uploaded for this request."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        row = await repository.visible_diagnostics(db, request_id, principal.tenant_id)
    if row is None or row.stored_as is None:
        raise Problem(404, "Diagnostics file not found", f"no file for request {request_id}")
    path = storage.path_of(node.settings.data_dir, storage.DIAGNOSTICS, row.stored_as)
    if not path.is_file():
        raise Problem(404, "Diagnostics file not found", f"no file for request {request_id}")
    return FileResponse(
        path, media_type="application/octet-stream", filename=row.received_name or "diagnostics.log"
    )
