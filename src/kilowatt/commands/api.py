"""Operator API for commands: send any OCPP 1.6 central-system call and read its outcome.

Sending needs ``commands:send``, reading ``stations:read``; both only for the stations of the
caller's tenant (another tenant's station or command is a 404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response

from kilowatt.api.auth import GUARDED, NOT_FOUND, CommandsSend, StationsRead, requested_by
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.commands.models import Command
from kilowatt.commands.schemas import CommandOut
from kilowatt.commands.service import FINAL_STATES, InvalidCommand, UnknownStation
from kilowatt.stations import repository as stations
from kilowatt.stations.api import visible_station

router = APIRouter(prefix="/api/v1", tags=["commands"], responses=GUARDED)


def _out(command: Command, charge_point_id: str) -> CommandOut:
    data = {c.name: getattr(command, c.name) for c in Command.__table__.columns}
    return CommandOut.model_validate({**data, "charge_point_id": charge_point_id})


@router.post(
    "/stations/{charge_point_id}/commands/{action}",
    responses={202: {"description": "still running: poll /api/v1/commands/{id}"}, **NOT_FOUND},
)
async def send_command(
    request: Request,
    response: Response,
    principal: CommandsSend,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any] = Body(default_factory=dict),
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the outcome"),
) -> CommandOut:
    """Send ``action`` with ``payload`` (the OCPP request, camelCase as in the spec).

    Answers 200 with the outcome when the station answered within ``wait`` seconds, else 202
    with the command to poll at ``/api/v1/commands/{id}``.
    """
    node = request.app.state.kilowatt
    # Checked (and the session closed) before sending: the service opens its own sessions.
    async with node.sessions() as db:
        await visible_station(db, principal, charge_point_id)
    try:
        command = await node.commands.send(
            charge_point_id, action, payload, wait=wait, requested_by=requested_by(principal)
        )
    except UnknownStation:
        raise Problem(404, "Station not found", f"no station {charge_point_id!r}") from None
    except InvalidCommand as exc:
        raise Problem(422, "Invalid command", str(exc), code=exc.code) from None
    if command.state not in FINAL_STATES:
        response.status_code = 202
    return _out(command, charge_point_id)


@router.get("/commands/{command_id}", responses=NOT_FOUND)
async def get_command(
    request: Request,
    principal: StationsRead,
    command_id: str,
    wait: float = Query(0, ge=0, le=120, description="seconds to wait for a running command"),
) -> CommandOut:
    node = request.app.state.kilowatt
    not_found = Problem(404, "Command not found", command_id)
    # Visibility first, so that nobody waits on another tenant's command.
    async with node.sessions() as db:
        if not await stations.visible_command(db, command_id, principal.tenant_id):
            raise not_found
    try:
        command = await node.commands.get(command_id, wait=wait)
    except LookupError:
        raise not_found from None
    async with node.sessions() as db:
        station = await stations.by_id(db, command.station_id)
    assert station is not None
    return _out(command, station.charge_point_id)


@router.get("/stations/{charge_point_id}/commands", responses=NOT_FOUND)
async def station_commands(
    request: Request, principal: StationsRead, charge_point_id: str, page: PageParams
) -> Page[CommandOut]:
    """The station's command log, newest first."""
    async with request.app.state.kilowatt.sessions() as db:
        station = await visible_station(db, principal, charge_point_id)
        commands, total = await stations.commands_page(
            db, station.id, limit=page.limit, offset=page.offset
        )
        return Page[CommandOut].of(
            [_out(c, station.charge_point_id) for c in commands], total, page
        )
