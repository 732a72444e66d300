"""Operator API for commands: send any OCPP 1.6 central-system call and read its outcome."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from kilowatt.api.auth import require_admin
from kilowatt.api.problems import Problem
from kilowatt.commands.models import Command
from kilowatt.commands.schemas import CommandOut
from kilowatt.commands.service import FINAL_STATES, InvalidCommand, UnknownStation
from kilowatt.stations import repository as stations

router = APIRouter(prefix="/api/v1", tags=["commands"], dependencies=[Depends(require_admin)])


async def _out(request: Request, command: Command) -> CommandOut:
    async with request.app.state.kilowatt.sessions() as db:
        station = await stations.by_id(db, command.station_id)
    assert station is not None
    data = {c.name: getattr(command, c.name) for c in Command.__table__.columns}
    return CommandOut.model_validate({**data, "charge_point_id": station.charge_point_id})


@router.post("/stations/{charge_point_id}/commands/{action}")
async def send_command(
    request: Request,
    response: Response,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any] = Body(default_factory=dict),  # noqa: B008 - FastAPI's idiom
    wait: float = Query(15.0, ge=0, le=120, description="seconds to wait for the outcome"),
) -> CommandOut:
    """Send ``action`` with ``payload`` (the OCPP request, camelCase as in the spec).

    Answers 200 with the outcome when the station answered within ``wait`` seconds, else 202
    with the command to poll at ``/api/v1/commands/{id}``.
    """
    service = request.app.state.kilowatt.commands
    try:
        command = await service.send(
            charge_point_id, action, payload, wait=wait, requested_by="admin"
        )
    except UnknownStation:
        raise Problem(404, "Station not found", f"no station {charge_point_id!r}") from None
    except InvalidCommand as exc:
        raise Problem(422, "Invalid command", str(exc), code=exc.code) from None
    if command.state not in FINAL_STATES:
        response.status_code = 202
    return await _out(request, command)


@router.get("/commands/{command_id}")
async def get_command(
    request: Request,
    command_id: str,
    wait: float = Query(0, ge=0, le=120, description="seconds to wait for a running command"),
) -> CommandOut:
    try:
        command = await request.app.state.kilowatt.commands.get(command_id, wait=wait)
    except LookupError:
        raise Problem(404, "Command not found", command_id) from None
    return await _out(request, command)
