"""Commands: CSMS→station calls as durable records with their outcome (DESIGN.md decision 5)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.models import Command
from kilowatt.gateway.connection import CallOutcome, StationGone
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.metrics import Metrics
from kilowatt.ocpp.rpc import ErrorCode, OcppError
from kilowatt.ocpp.validation import SchemaValidator
from kilowatt.security import service as security
from kilowatt.smart_charging import tracking as charging_profiles
from kilowatt.stations import repository as stations
from kilowatt.stations import service as station_service
from kilowatt.stations.models import DataTransferRecord

log = logging.getLogger(__name__)

# Every OCPP 1.6 call a central system can make (Core, Firmware, Local Auth List, Reservation,
# Remote Trigger, Smart Charging, and the security whitepaper's).
ACTIONS_16 = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

FINAL_STATES = frozenset({"completed", "error", "timeout", "offline"})


class UnknownStation(LookupError):
    pass


class InvalidCommand(ValueError):
    def __init__(self, message: str, code: str = "InvalidCommand") -> None:
        super().__init__(message)
        self.code = code


def _now() -> datetime:
    return datetime.now(UTC)


class CommandService:
    """Sends commands to connected stations and records every step."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: ConnectionRegistry,
        validator: SchemaValidator | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.validator = validator or SchemaValidator("1.6")
        self.metrics = metrics or Metrics()
        self._running: dict[str, asyncio.Task[None]] = {}

    async def send(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        wait: float | None = 15.0,
        requested_by: str | None = None,
    ) -> Command:
        """Record and send a command; wait up to ``wait`` seconds for its outcome.

        Returns the command as it stands then: final, or still ``sent`` (the caller polls).
        """
        if action not in ACTIONS_16:
            raise InvalidCommand(
                f"{action} is not an OCPP 1.6 central system command", "UnknownAction"
            )
        try:
            self.validator.validate_request(action, payload)
        except OcppError as exc:
            raise InvalidCommand(f"{exc.code}: {exc.description}", "InvalidPayload") from exc
        async with self.sessions() as db:
            station = await stations.by_charge_point_id(db, charge_point_id)
            if station is None:
                raise UnknownStation(charge_point_id)
            command = Command(
                id=str(uuid.uuid4()),
                station_id=station.id,
                action=action,
                request=payload,
                state="pending",
                requested_by=requested_by,
                created_at=_now(),
            )
            db.add(command)
            await charging_profiles.command_recorded(db, command)
            await db.commit()
        log.info("command %s: %s to %s (by %s)", command.id, action, charge_point_id, requested_by)
        # The task inherits this context: its log lines carry the API request's id.
        task = asyncio.create_task(self._execute(command.id, charge_point_id, action, payload))
        self._running[command.id] = task
        task.add_done_callback(lambda _: self._running.pop(command.id, None))
        return await self.get(command.id, wait=wait)

    async def get(self, command_id: str, *, wait: float | None = None) -> Command:
        """The command as stored, after waiting up to ``wait`` seconds for it to finish."""
        task = self._running.get(command_id)
        if wait and task is not None:
            await asyncio.wait({task}, timeout=wait)
        async with self.sessions() as db:
            command = await db.get(Command, command_id)
            if command is None:
                raise LookupError(command_id)
            return command

    async def _execute(
        self, command_id: str, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> None:
        connection = self.registry.get(charge_point_id)
        sent_at = _now()
        if connection is None:
            await self._finish(
                command_id, "offline", "Offline", None, "station is not connected", sent_at
            )
            return
        await self._mark_sent(command_id, sent_at)
        try:
            outcome = await connection.call(action, payload)
        except StationGone:
            outcome = CallOutcome("closed")
        except OcppError as exc:
            await self._finish(command_id, "error", str(exc.code), None, exc.description, sent_at)
            return
        except Exception:
            log.exception("%s %s failed", charge_point_id, action)
            await self._finish(
                command_id, "error", ErrorCode.INTERNAL_ERROR, None, "internal error", sent_at
            )
            return
        if outcome.kind == "result":
            response = outcome.payload or {}
            word = str(response.get("status", "Accepted"))
            await self._finish(
                command_id,
                "completed",
                word,
                response,
                None,
                sent_at,
                outcome.message_id,
                action=action,
                request=payload,
            )
        elif outcome.kind == "error":
            await self._finish(
                command_id,
                "error",
                outcome.error_code,
                None,
                outcome.error_description,
                sent_at,
                outcome.message_id,
            )
        elif outcome.kind == "timeout":
            await self._finish(
                command_id,
                "timeout",
                "Timeout",
                None,
                "no answer from the station in time",
                sent_at,
                outcome.message_id,
            )
        else:
            await self._finish(
                command_id,
                "offline",
                "Offline",
                None,
                "the station disconnected before answering",
                sent_at,
                outcome.message_id,
            )

    async def _mark_sent(self, command_id: str, at: datetime) -> None:
        async with self.sessions() as db:
            command = await db.get(Command, command_id)
            assert command is not None
            command.state, command.sent_at = "sent", at
            await db.commit()

    async def _finish(
        self,
        command_id: str,
        state: str,
        outcome: str | None,
        response: dict[str, Any] | None,
        description: str | None,
        sent_at: datetime,
        message_id: str | None = None,
        *,
        action: str | None = None,
        request: dict[str, Any] | None = None,
    ) -> None:
        now = _now()
        async with self.sessions() as db:
            command = await db.get(Command, command_id)
            assert command is not None
            command.state = state
            command.outcome = outcome
            command.response = response
            command.error_description = description
            command.message_id = message_id
            command.completed_at = now
            command.latency_ms = int((now - sent_at).total_seconds() * 1000)
            if action is not None and request is not None and response is not None:
                await _apply_result(db, command.station_id, action, request, response, now)
            await charging_profiles.command_finished(db, command, now)
            await db.commit()
        log.info(
            "command %s: %s %s -> %s (%s ms, OCPP message %s)",
            command_id,
            command.action,
            state,
            outcome,
            command.latency_ms,
            message_id,
        )
        # A round trip only when the station answered (a result or its CALLERROR).
        answered = message_id is not None and state in ("completed", "error")
        seconds = (now - sent_at).total_seconds() if answered else None
        self.metrics.command_finished(command.action, state, outcome, seconds)

    async def close(self) -> None:
        """Let running commands end (their connections are closing) and await them."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


async def _apply_result(
    db: AsyncSession,
    station_id: int,
    action: str,
    request: dict[str, Any],
    response: dict[str, Any],
    now: datetime,
) -> None:
    """What a station's answer tells us about the station, kept with it."""
    if action == "GetConfiguration":
        entries = [
            (str(item["key"]), item.get("value"), bool(item.get("readonly", False)))
            for item in response.get("configurationKey") or []
        ]
        await station_service.store_configuration(db, station_id, entries, now)
    elif action == "ChangeConfiguration" and response.get("status") in (
        "Accepted",
        "RebootRequired",
    ):
        await station_service.configuration_changed(
            db, station_id, request["key"], request["value"], now
        )
    elif action in security.INVENTORY_ACTIONS:
        await security.command_answered(db, station_id, action, request, response, now)
    elif action == "DataTransfer":
        db.add(
            DataTransferRecord(
                station_id=station_id,
                direction="out",
                vendor_id=request["vendorId"],
                message_id=request.get("messageId"),
                data=request.get("data"),
                status=response.get("status"),
                response_data=response.get("data"),
                created_at=now,
            )
        )
