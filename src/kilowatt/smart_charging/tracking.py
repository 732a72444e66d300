"""What the commands that carry charging profiles do to Kilowatt's picture of each station.

``CommandService`` calls these in the same database transaction as the command's own record:
``command_recorded`` when a SetChargingProfile / ClearChargingProfile (or a
RemoteStartTransaction with a chargingProfile) is created, ``command_finished`` when its
outcome is known. So every path that sends one -- the smart-charging API, the raw commands
API, a load manager -- leaves the same versioned history and installed state, and publishes
``charging_profile.updated`` after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.commands.models import Command
from kilowatt.events import Event
from kilowatt.live.capture import BUS, DIRECTORY, PENDING
from kilowatt.smart_charging import repository
from kilowatt.smart_charging.models import ChargingProfileChange, InstalledChargingProfile
from kilowatt.stations.models import Station

__all__ = ["TRACKED_ACTIONS", "command_finished", "command_recorded", "outcome_status"]

TRACKED_ACTIONS = frozenset(
    {"SetChargingProfile", "ClearChargingProfile", "RemoteStartTransaction"}
)
EVENT = "charging_profile.updated"


def _tracked(command: Command) -> bool:
    if command.action == "RemoteStartTransaction":
        return isinstance(command.request.get("chargingProfile"), dict)
    return command.action in TRACKED_ACTIONS


def _new_change(command: Command) -> ChargingProfileChange:
    request: dict[str, Any] = command.request
    change = ChargingProfileChange(
        station_id=command.station_id,
        command_id=command.id,
        requested_by=command.requested_by,
        created_at=command.created_at,
        status="Pending",
    )
    if command.action == "ClearChargingProfile":
        change.operation = "clear"
        change.criteria = dict(request)
        change.connector_id = request.get("connectorId")
        change.charging_profile_id = request.get("id")
        change.purpose = request.get("chargingProfilePurpose")
        change.stack_level = request.get("stackLevel")
        return change
    if command.action == "SetChargingProfile":
        change.operation, body = "set", request["csChargingProfiles"]
    else:
        change.operation, body = "remote_start", request["chargingProfile"]
    change.profile = dict(body)
    change.connector_id = request.get("connectorId")
    change.charging_profile_id = body.get("chargingProfileId")
    change.purpose = body.get("chargingProfilePurpose")
    change.stack_level = body.get("stackLevel")
    change.transaction_id = body.get("transactionId")
    return change


async def command_recorded(db: AsyncSession, command: Command) -> None:
    """A command was created: record the change it asks for, as Pending."""
    if _tracked(command):
        db.add(_new_change(command))


def outcome_status(command: Command) -> str:
    """The station's answer as one word: Accepted, Rejected, …, Timeout, Offline, an error."""
    if command.state == "completed":
        return command.outcome or "Accepted"
    if command.state == "timeout":
        return "Timeout"
    if command.state == "offline":
        return "Offline"
    return command.outcome or "Error"


async def command_finished(db: AsyncSession, command: Command, now: datetime) -> None:
    """The command has its outcome: keep the answer; change what is installed if accepted."""
    if not _tracked(command):
        return
    change = await repository.change_by_command(db, command.id)
    if change is None:  # sent before this code knew of it: record it now
        change = _new_change(command)
        db.add(change)
        await db.flush()
    change.status = outcome_status(command)
    change.answered_at = now
    await db.flush()
    if change.status == "Accepted" and change.operation in ("set", "remote_start"):
        await _install(db, change, now)
    elif change.status in ("Accepted", "Unknown") and change.operation == "clear":
        # Unknown: the station holds nothing that matches -- so neither does our picture.
        await _clear(db, change)
    await _publish(db, change)


async def _install(db: AsyncSession, change: ChargingProfileChange, now: datetime) -> None:
    body = change.profile or {}
    connector_id = change.connector_id
    if connector_id is None:
        return  # a RemoteStartTransaction that left the connector to the station: unknown
    await repository.drop_ended_tx_profiles(db, change.station_id)
    purpose, stack = str(body["chargingProfilePurpose"]), int(body["stackLevel"])
    profile_id = int(body["chargingProfileId"])
    # OCPP 1.6 §5.16.3/§5.16.4: the same id, or the same stackLevel and purpose on the
    # connector, is replaced.
    replaced = [
        row
        for row in await repository.installed(db, change.station_id)
        if row.charging_profile_id == profile_id
        or (
            row.connector_id == connector_id and row.purpose == purpose and row.stack_level == stack
        )
    ]
    await repository.remove_installed(db, replaced)
    transaction_id = body.get("transactionId")
    if purpose == "TxProfile" and transaction_id is None and change.operation == "set":
        running = (await repository.open_transactions(db, change.station_id)).get(connector_id)
        transaction_id = running.id if running is not None else None
    db.add(
        InstalledChargingProfile(
            station_id=change.station_id,
            connector_id=connector_id,
            charging_profile_id=profile_id,
            purpose=purpose,
            stack_level=stack,
            transaction_id=transaction_id,
            profile=body,
            change_id=change.id,
            installed_at=now,
        )
    )
    await db.flush()


def _matches(row: InstalledChargingProfile, criteria: dict[str, Any]) -> bool:
    # Errata 3.25: every given field must match (logical AND); no field clears everything.
    checks = (
        ("id", row.charging_profile_id),
        ("connectorId", row.connector_id),
        ("chargingProfilePurpose", row.purpose),
        ("stackLevel", row.stack_level),
    )
    return all(criteria.get(key) in (None, value) for key, value in checks)


async def _clear(db: AsyncSession, change: ChargingProfileChange) -> None:
    criteria = change.criteria or {}
    rows = [
        row for row in await repository.installed(db, change.station_id) if _matches(row, criteria)
    ]
    await repository.remove_installed(db, rows)


async def _publish(db: AsyncSession, change: ChargingProfileChange) -> None:
    info = db.sync_session.info
    if BUS not in info:
        return
    station = info.get(DIRECTORY, {}).get(change.station_id)
    if station is None:
        row = await db.get(Station, change.station_id)
        station = (row.charge_point_id, row.tenant_id) if row is not None else None
    info.setdefault(PENDING, []).append(
        Event(
            EVENT,
            {
                "changeId": change.id,
                "operation": change.operation,
                "chargingProfileId": change.charging_profile_id,
                "purpose": change.purpose,
                "stackLevel": change.stack_level,
                "transactionId": change.transaction_id,
                "status": change.status,
                "commandId": change.command_id,
            },
            tenant_id=station[1] if station else None,
            station=station[0] if station else None,
            connector_id=change.connector_id,
        )
    )
