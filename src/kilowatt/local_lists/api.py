"""Operator API for stations' local authorization lists.

Reading needs ``stations:read`` (the entries, which name id tags, ``tokens:read``); a forced
synchronisation ``commands:send``; choosing the token group ``stations:write``. Only the
stations of the caller's tenant (another tenant's is a 404).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    CommandsSend,
    StationsRead,
    StationsWrite,
    TokensRead,
)
from kilowatt.api.problems import Problem
from kilowatt.local_lists import service
from kilowatt.local_lists.schemas import (
    LocalListEntryOut,
    LocalListOut,
    LocalListSync,
    LocalListSyncOut,
    LocalListUpdate,
)
from kilowatt.local_lists.worker import LocalLists
from kilowatt.stations.api import visible_station

router = APIRouter(prefix="/api/v1/stations", tags=["local lists"], responses=GUARDED)


def _runtime(request: Request) -> LocalLists:
    runtime: LocalLists = request.app.state.local_lists
    return runtime


@router.get("/{charge_point_id}/local-list", responses=NOT_FOUND)
async def get_local_list(
    request: Request, principal: StationsRead, charge_point_id: str
) -> LocalListOut:
    """The station's list: acknowledged version and size, what is pending, the last outcome."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        return LocalListOut.model_validate(await service.view(db, station, datetime.now(UTC)))


@router.get("/{charge_point_id}/local-list/entries", responses=NOT_FOUND)
async def get_local_list_entries(
    request: Request, principal: TokensRead, charge_point_id: str
) -> list[LocalListEntryOut]:
    """Every id tag on the station's list or due to be, with what is pending for it."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        items = await service.entries_view(db, station, datetime.now(UTC))
    return [LocalListEntryOut.model_validate(item) for item in items]


@router.patch("/{charge_point_id}/local-list", responses=NOT_FOUND)
async def update_local_list(
    request: Request, principal: StationsWrite, charge_point_id: str, body: LocalListUpdate
) -> LocalListOut:
    """Choose which tokens go on the station's list; it is resynchronised in the background."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        await service.set_token_group(db, station, body.token_group, datetime.now(UTC))
        await db.commit()
        view = await service.view(db, station, datetime.now(UTC))
    _runtime(request).worker.schedule(charge_point_id)
    return LocalListOut.model_validate(view)


@router.post("/{charge_point_id}/local-list/sync", responses=NOT_FOUND_OR_CONFLICT)
async def sync_local_list(
    request: Request,
    principal: CommandsSend,
    charge_point_id: str,
    body: LocalListSync | None = None,
) -> LocalListSyncOut:
    """Synchronise now and answer with the outcome; 409 when the station is offline (it is
    synchronised when it reconnects). Also brings back a station marked unsupported."""
    node = request.app.state.kilowatt
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    if charge_point_id not in node.registry:
        raise Problem(
            409, "Station offline", "the list is synchronised when the station reconnects"
        )
    result = await _runtime(request).sync.sync(
        charge_point_id, update_type=body.update_type if body is not None else None
    )
    async with node.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        view = await service.view(db, station, datetime.now(UTC))
    return LocalListSyncOut(
        outcome=result.outcome,
        update_type=result.update_type,
        messages=result.messages,
        local_list=LocalListOut.model_validate(view),
    )
