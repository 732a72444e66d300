"""Rows and calls for the firmware and diagnostics cases of the authorization matrix (issue 7).

Files, campaigns and diagnostics requests are written directly (no charger round trip); the
public routes get links signed with the node's key, made fresh where a link is used up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from kilowatt.firmware import logs, service, signing, storage
from kilowatt.firmware.models import DiagnosticsRequest, FirmwareFile, LogRequest
from kilowatt.stations import repository as stations
from security.callers import Caller
from security.world import A_SPARE, B_STATION, World, now

CONTENT = b"firmware image for the authorization matrix"


def _call(path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
    """``security.matrix.Call`` (imported at use: the matrix imports this module)."""
    from security.matrix import Call as MatrixCall

    return MatrixCall(path, json, params)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def fresh_file(world: World, tenant: str = "a") -> int:
    stored = await storage.store(
        world.node.settings.data_dir, storage.FIRMWARE, _chunks(CONTENT), max_bytes=1 << 20
    )
    async with world.node.sessions() as db:
        row = await service.add_file(
            db, world.tenants[tenant], world.unique("fw-") + ".bin", "1.0", stored, None, now()
        )
        await db.commit()
        return row.id


async def file_of(world: World, tenant: str = "a") -> int:
    key = f"firmware_{tenant}"
    if key not in world.rows:
        world.rows[key] = await fresh_file(world, tenant)
    return int(world.rows[key])


async def campaign_of(world: World, tenant: str = "a") -> int:
    """A campaign of the tenant to an offline station (it stays open)."""
    key = f"campaign_{tenant}"
    if key not in world.rows:
        file_id = await file_of(world, tenant)
        async with world.node.sessions() as db:
            file = await db.get(FirmwareFile, file_id)
            station = await stations.by_id(
                db, world.stations[A_SPARE if tenant == "a" else B_STATION]
            )
            assert file is not None and station is not None
            campaign = await service.create_campaign(
                db,
                file,
                [station],
                retrieve_date=now() + timedelta(days=365),
                retries=None,
                retry_interval=None,
                created_by=None,
                now=now(),
            )
            await db.commit()
            world.rows[key] = campaign.id
    return int(world.rows[key])


async def files_call(world: World, caller: Caller) -> Any:
    await file_of(world, "a")
    await file_of(world, "b")
    return _call("/api/v1/firmware", params={"limit": 200})


async def campaigns_call(world: World, caller: Caller) -> Any:
    await campaign_of(world, "a")
    await campaign_of(world, "b")
    return _call("/api/v1/firmware/campaigns", params={"limit": 200})


async def campaign_body(world: World, caller: Caller) -> Any:
    body = {
        "file_id": await file_of(world, "a"),
        "stations": [A_SPARE],
        "retrieve_date": "2100-01-01T00:00:00Z",
    }
    return _call("/api/v1/firmware/campaigns", body)


async def download_call(world: World, caller: Caller) -> Any:
    file_id = await file_of(world, "a")
    async with world.node.sessions() as db:
        file = await db.get(FirmwareFile, file_id)
        assert file is not None
    key = world.server.app.state.firmware.key
    url = service.firmware_url("", key, file, int((now() + timedelta(hours=1)).timestamp()))
    path, _, query = url.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    return _call(path, params=params)


async def _diagnostics_row(world: World, *, received: bool) -> DiagnosticsRequest:
    async with world.node.sessions() as db:
        station = await stations.by_id(db, world.stations[A_SPARE])
        assert station is not None
        row = await service.new_diagnostics(
            db,
            station,
            start_time=None,
            stop_time=None,
            retries=None,
            retry_interval=None,
            requested_by=None,
            ttl=3600,
            now=now(),
        )
        row.state = "sent"
        if received:
            stored = await storage.store(
                world.node.settings.data_dir, storage.DIAGNOSTICS, _chunks(b"log\n"), max_bytes=1024
            )
            row.stored_as, row.received_at = stored.stored_as, now()
            row.received_name, row.received_size = "diag.log", stored.size
        await db.commit()
        return row


def upload_call(template: str) -> Callable[[World, Caller], Awaitable[Any]]:
    """A fresh one-time upload link per call (``{}``: the token)."""

    async def build(world: World, caller: Caller) -> Any:
        row = await _diagnostics_row(world, received=False)
        key = world.server.app.state.firmware.key
        token = signing.diagnostics_token(key, row.id, int(row.expires_at.timestamp()))
        return _call(template.format(token), {"log": "line"})

    return build


async def received_file_call(world: World, caller: Caller) -> Any:
    if "diagnostics_file_a" not in world.rows:
        world.rows["diagnostics_file_a"] = (await _diagnostics_row(world, received=True)).id
    return _call(f"/api/v1/diagnostics/{world.rows['diagnostics_file_a']}/file")


def diagnostics_call(json: Any = None) -> Any:
    """The spare station's diagnostics (offline: a request there ends ``offline``)."""
    return _call(f"/api/v1/stations/{A_SPARE}/diagnostics", json, {"wait": 5} if json else None)


# ---- GetLog requests (issue 8) ----------------------------------------------------------------
async def _log_row(world: World, *, received: bool) -> LogRequest:
    async with world.node.sessions() as db:
        station = await stations.by_id(db, world.stations[A_SPARE])
        assert station is not None
        row = await logs.new_request(
            db,
            station,
            log_type="SecurityLog",
            oldest=None,
            latest=None,
            retries=None,
            retry_interval=None,
            requested_by=None,
            ttl=3600,
            now=now(),
        )
        row.state = "Accepted"
        if received:
            stored = await storage.store(
                world.node.settings.data_dir, logs.STORAGE, _chunks(b"log\n"), max_bytes=1024
            )
            row.stored_as, row.received_at = stored.stored_as, now()
            row.received_name, row.received_size = "security.log", stored.size
        await db.commit()
        return row


def log_upload_call(template: str) -> Callable[[World, Caller], Awaitable[Any]]:
    """A fresh one-time log upload link per call (``{}``: the token)."""

    async def build(world: World, caller: Caller) -> Any:
        row = await _log_row(world, received=False)
        key = world.server.app.state.firmware.key
        token = logs.upload_token(key, row.id, int(row.expires_at.timestamp()))
        return _call(template.format(token), {"log": "line"})

    return build


async def log_call(world: World, caller: Caller, suffix: str = "") -> Any:
    if "log_file_a" not in world.rows:
        world.rows["log_file_a"] = (await _log_row(world, received=True)).id
    return _call(f"/api/v1/logs/{world.rows['log_file_a']}{suffix}")


async def log_file_call(world: World, caller: Caller) -> Any:
    return await log_call(world, caller, "/file")


def logs_call(json: Any = None) -> Any:
    """The spare station's log requests (offline: a request there ends ``offline``)."""
    return _call(f"/api/v1/stations/{A_SPARE}/logs", json, {"wait": 5} if json else None)
