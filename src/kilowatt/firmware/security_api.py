"""The security whitepaper's firmware routes: GetLog requests with their uploads (N01), and the
signing certificate and signature a firmware file carries for signed updates (L01).

Permissions as for diagnostics: requesting a log and downloading it ``commands:send`` (logs
may hold personal data), listing requests ``stations:read``; signing a file ``stations:write``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    CommandsSend,
    IdPath,
    StationsRead,
    StationsWrite,
    requested_by,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.commands.service import FINAL_STATES, InvalidCommand, UnknownStation
from kilowatt.firmware import logs, repository, signed, storage
from kilowatt.firmware.api import UploadKind, _manager, receive_upload
from kilowatt.firmware.models import LogRequest
from kilowatt.firmware.schemas import FileSignature, FirmwareFileOut, LogCreate, LogOut
from kilowatt.stations import repository as stations
from kilowatt.stations.api import visible_station

router = APIRouter(tags=["firmware"])


def _now() -> datetime:
    return datetime.now(UTC)


# ---- a file's signature -------------------------------------------------------------------------
@router.put("/api/v1/firmware/{file_id}/signature", responses={**GUARDED, **NOT_FOUND})
async def sign_firmware(
    request: Request, principal: StationsWrite, file_id: IdPath, body: FileSignature
) -> FirmwareFileOut:
    """Attach the manufacturer's signing certificate (PEM) and signature (base64) to a file;
    refused (422) unless the signature verifies over the file with the certificate's key."""
    async with request.app.state.kilowatt.sessions() as db:
        file = await repository.visible_file(db, file_id, principal.tenant_id)
        if file is None:
            raise Problem(404, "Firmware file not found", f"no firmware file {file_id}")
        try:
            signed.check(file, body.signing_certificate, body.signature, _now())
        except signed.SignatureRefused as exc:
            raise Problem(422, "Invalid firmware signature", str(exc)) from None
        file.signing_certificate, file.signature = body.signing_certificate, body.signature.strip()
        await db.commit()
        return FirmwareFileOut.model_validate(file)


# ---- GetLog (operators) -----------------------------------------------------------------------
def _out(row: LogRequest, charge_point_id: str) -> LogOut:
    return LogOut(
        id=row.id,
        request_id=row.id,
        charge_point_id=charge_point_id,
        log_type=row.log_type,
        state=row.state,
        detail=row.detail,
        command_id=row.command_id,
        file_name=row.file_name,
        oldest_timestamp=row.oldest_timestamp,
        latest_timestamp=row.latest_timestamp,
        retries=row.retries,
        retry_interval=row.retry_interval,
        expires_at=row.expires_at,
        received_name=row.received_name,
        received_size=row.received_size,
        received_sha256=row.received_sha256,
        received_at=row.received_at,
        download=None if row.stored_as is None else f"/api/v1/logs/{row.id}/file",
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _record_answer(
    node: Any, commands: Any, request_id: int, cp: str, command_id: str
) -> None:
    """Move the request by the station's GetLog.conf (or the command's failure)."""
    command = await commands.get(command_id)
    while command.state not in FINAL_STATES:
        command = await commands.get(command.id, wait=node.settings.call_timeout + 5)
    state, detail, file_name = logs.answer_state(command)
    async with node.sessions() as db:
        moved = await logs.move(
            db, request_id, ("sending",), state, _now(), detail=detail, command_id=command.id
        )
        row = await db.get(LogRequest, request_id)
        assert row is not None
        row.command_id = command.id
        row.file_name = file_name or row.file_name  # kept even if a report came first
        await db.commit()
        await db.refresh(row)
    if moved:
        node.bus.publish(logs.log_event(row, cp, None))


@router.post(
    "/api/v1/stations/{charge_point_id}/logs", status_code=201, responses={**GUARDED, **NOT_FOUND}
)
async def request_log(
    request: Request,
    principal: CommandsSend,
    charge_point_id: str,
    body: LogCreate | None = None,
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the answer"),
) -> LogOut:
    """Send GetLog (DiagnosticsLog or SecurityLog) with an upload location on this node (a
    one-time signed URL); the request's id is the GetLog's requestId."""
    node = request.app.state.kilowatt
    manager = _manager(request)
    body = body or LogCreate()
    async with node.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        row = await logs.new_request(
            db,
            station,
            log_type=body.log_type,
            oldest=body.oldest_timestamp,
            latest=body.latest_timestamp,
            retries=body.retries,
            retry_interval=body.retry_interval,
            requested_by=requested_by(principal),
            ttl=node.settings.diagnostics_url_ttl,
            now=_now(),
        )
        payload = logs.get_log_payload(
            row, logs.upload_location(manager.public_url, manager.key, row)
        )
        await db.commit()
        row_id, cp = row.id, station.charge_point_id
    try:
        command = await manager.commands.send(
            cp, "GetLog", payload, wait=wait, requested_by=requested_by(principal)
        )
    except (UnknownStation, InvalidCommand) as exc:
        async with node.sessions() as db:
            await logs.move(db, row_id, ("sending",), "error", _now(), detail=str(exc))
            await db.commit()
    else:
        if command.state in FINAL_STATES:
            await _record_answer(node, manager.commands, row_id, cp, command.id)
        else:
            command_id = command.id

            async def later() -> None:
                await _record_answer(node, manager.commands, row_id, cp, command_id)

            manager.later(later)
    async with node.sessions() as db:
        found = await db.get(LogRequest, row_id)
        assert found is not None
        return _out(found, cp)


@router.get("/api/v1/stations/{charge_point_id}/logs", responses={**GUARDED, **NOT_FOUND})
async def list_logs(
    request: Request, principal: StationsRead, charge_point_id: str, page: PageParams
) -> Page[LogOut]:
    """The station's log requests and what it uploaded, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        rows, total = await logs.station_page(db, station.id, limit=page.limit, offset=page.offset)
        return Page[LogOut].of([_out(r, station.charge_point_id) for r in rows], total, page)


@router.get("/api/v1/logs/{request_id}", responses={**GUARDED, **NOT_FOUND})
async def get_log(request: Request, principal: StationsRead, request_id: IdPath) -> LogOut:
    async with request.app.state.kilowatt.sessions() as db:
        row = await logs.visible(db, request_id, principal.tenant_id)
        if row is None:
            raise Problem(404, "Log request not found", f"no log request {request_id}")
        station = await stations.by_id(db, row.station_id)
        assert station is not None
        return _out(row, station.charge_point_id)


@router.get("/api/v1/logs/{request_id}/file", responses={**GUARDED, **NOT_FOUND})
async def download_log(
    request: Request, principal: CommandsSend, request_id: IdPath
) -> FileResponse:
    """The file a station uploaded for this request."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        row = await logs.visible(db, request_id, principal.tenant_id)
    if row is None or row.stored_as is None:
        raise Problem(404, "Log file not found", f"no file for log request {request_id}")
    path = storage.path_of(node.settings.data_dir, logs.STORAGE, row.stored_as)
    if not path.is_file():
        raise Problem(404, "Log file not found", f"no file for log request {request_id}")
    return FileResponse(
        path, media_type="application/octet-stream", filename=row.received_name or "station.log"
    )


# ---- what chargers call: the signed upload link ---------------------------------------------
LOG_UPLOAD = UploadKind(
    LogRequest,
    logs.STORAGE,
    logs.record_upload,
    lambda row, cp: f"{row.log_type}-{cp}-{row.id}.log",
    logs.log_event,
)


async def _receive(request: Request, token: str, filename: str | None) -> JSONResponse:
    request_id = logs.request_of(_manager(request).key, token, _now())
    return await receive_upload(request, request_id, filename, LOG_UPLOAD)


@router.api_route("/logs/{token}", methods=["PUT", "POST"], include_in_schema=False)
async def upload_log(request: Request, token: str) -> JSONResponse:
    """A station's log file, as the raw body of an HTTP PUT or POST."""
    return await _receive(request, token, None)


@router.api_route("/logs/{token}/{filename}", methods=["PUT", "POST"], include_in_schema=False)
async def upload_log_named(request: Request, token: str, filename: str) -> JSONResponse:
    """The same, for chargers that append the file name to the location (a directory)."""
    return await _receive(request, token, filename)
