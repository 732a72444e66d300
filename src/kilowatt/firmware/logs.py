"""GetLog (OCPP 1.6 security whitepaper, use case N01): the rules and queries of log requests.

A request's id is the GetLog.req's requestId and names its one-time upload link
(``/logs/<id>.<expires>.<signature>``, signed like the diagnostics links); every
LogStatusNotification with that requestId from that station moves the request (N01.FR.07).
The station's answer and its notifications may arrive in any order: a move is conditional
on the state the request is in, so a late answer never undoes a later report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.commands.models import Command
from kilowatt.events import Event
from kilowatt.firmware import signing
from kilowatt.firmware.models import LogRequest
from kilowatt.firmware.service import iso
from kilowatt.stations.models import Station

STORAGE = "logs"  # the data directory's folder of uploaded logs
LOG_TYPES = ("DiagnosticsLog", "SecurityLog")
# The request before the station's report: GetLog sent / accepted.
WAITING = ("sending", "Accepted", "AcceptedCanceled")
# LogStatusNotification statuses that move a request (Idle only answers a trigger).
UPLOAD_STEPS = frozenset(
    {"BadMessage", "NotSupportedOperation", "PermissionDenied", "Uploaded", "UploadFailure"}
)
OPEN = (*WAITING, "Uploading")
FINAL = frozenset({*UPLOAD_STEPS, "Rejected", "offline", "error"})


# ---- upload tokens: "<request id>.<expires>.<signature>" -----------------------------------------
def upload_token(key: bytes, request_id: int, expires: int) -> str:
    return f"{request_id}.{expires}.{signing.sign(key, 'log', request_id, expires)}"


def request_of(key: bytes, token: str, now: datetime) -> int | None:
    """The log request a token grants an upload for, or None (forged, expired)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdecimal() or not parts[1].isdecimal():
        return None
    request_id, expires = int(parts[0]), int(parts[1])
    if not 1 <= request_id <= 2**31 - 1:
        return None
    if not signing.verify(key, "log", request_id, expires, parts[2], now):
        return None
    return request_id


# ---- requests ------------------------------------------------------------------------------------
async def new_request(
    db: AsyncSession,
    station: Station,
    *,
    log_type: str,
    oldest: datetime | None,
    latest: datetime | None,
    retries: int | None,
    retry_interval: int | None,
    requested_by: str | None,
    ttl: float,
    now: datetime,
) -> LogRequest:
    row = LogRequest(
        tenant_id=station.tenant_id,
        station_id=station.id,
        log_type=log_type,
        oldest_timestamp=None if oldest is None else oldest.astimezone(UTC),
        latest_timestamp=None if latest is None else latest.astimezone(UTC),
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


def upload_location(base_url: str, key: bytes, row: LogRequest) -> str:
    return f"{base_url}/logs/{upload_token(key, row.id, int(row.expires_at.timestamp()))}"


def get_log_payload(row: LogRequest, location: str) -> dict[str, Any]:
    """The GetLog.req of a request."""
    log: dict[str, Any] = {"remoteLocation": location}
    if row.oldest_timestamp is not None:
        log["oldestTimestamp"] = iso(row.oldest_timestamp)
    if row.latest_timestamp is not None:
        log["latestTimestamp"] = iso(row.latest_timestamp)
    payload: dict[str, Any] = {"logType": row.log_type, "requestId": row.id, "log": log}
    if row.retries is not None:
        payload["retries"] = row.retries
    if row.retry_interval is not None:
        payload["retryInterval"] = row.retry_interval
    return payload


def answer_state(command: Command) -> tuple[str, str | None, str | None]:
    """(state, detail, file name) from a GetLog command's outcome."""
    if command.state == "completed":
        response = command.response or {}
        status = str(response.get("status", "Rejected"))
        filename = response.get("filename")
        return status, None, filename if isinstance(filename, str) else None
    if command.state in ("offline", "timeout"):
        return "offline", command.error_description, None
    detail = f"{command.outcome}: {command.error_description or ''}".strip(": ")
    return "error", detail, None


def log_event(row: LogRequest, charge_point_id: str, status: str | None) -> Event:
    return Event(
        "log.status",
        {
            "requestId": row.id,
            "logType": row.log_type,
            "state": row.state,
            "status": status,
            "fileName": row.file_name,
            "received": row.received_at is not None,
            "receivedSize": row.received_size,
        },
        tenant_id=row.tenant_id,
        station=charge_point_id,
    )


async def log_status(
    db: AsyncSession, station_id: int, status: str, request_id: int | None, now: datetime
) -> LogRequest | None:
    """A LogStatusNotification moves this station's open request ``request_id``; Idle, no or
    an unknown requestId, another station's request, or a finished one: nothing moves."""
    if request_id is None or not 1 <= request_id <= 2**31 - 1:
        return None
    if status != "Uploading" and status not in UPLOAD_STEPS:
        return None
    row = await db.get(LogRequest, request_id)
    if row is None or row.station_id != station_id:
        return None
    if not await move(db, row.id, OPEN, status, now):
        return None
    await db.refresh(row)
    return row


# ---- queries ---------------------------------------------------------------------------------
async def move(
    db: AsyncSession,
    request_id: int,
    from_states: Sequence[str],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Set the request's state if it is still in one of ``from_states``."""
    result = await db.execute(
        update(LogRequest)
        .where(LogRequest.id == request_id, LogRequest.state.in_(from_states))
        .values(state=state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_upload(db: AsyncSession, request_id: int, now: datetime, **values: Any) -> bool:
    """Keep the request's one upload; False if it already has one (the token is used up)."""
    result = await db.execute(
        update(LogRequest)
        .where(LogRequest.id == request_id, LogRequest.received_at.is_(None))
        .values(received_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def station_page(
    db: AsyncSession, station_id: int, *, limit: int, offset: int
) -> tuple[Sequence[LogRequest], int]:
    where = LogRequest.station_id == station_id
    total = await db.scalar(select(func.count()).select_from(LogRequest).where(where))
    query = select(LogRequest).where(where).order_by(LogRequest.id.desc())
    rows = (await db.scalars(query.limit(limit).offset(offset))).all()
    return rows, total or 0


async def visible(db: AsyncSession, request_id: int, tenant_id: int | None) -> LogRequest | None:
    query = select(LogRequest).where(LogRequest.id == request_id)
    if tenant_id is not None:
        query = query.where(LogRequest.tenant_id == tenant_id)
    return await db.scalar(query)
