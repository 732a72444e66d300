"""Smart-charging use cases: set, clear, limit, and the composite schedule side by side.

Each method runs its own short database transactions around the station round trip (the
command), like the charging-session controller. ``apply_limit`` is the call a load manager
makes: "hold this connector (0: the whole station) to this limit now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.models import Command
from kilowatt.commands.service import FINAL_STATES, CommandService, InvalidCommand
from kilowatt.ocpp.rpc import OcppError
from kilowatt.ocpp.v16 import decode_request, decode_response, encode
from kilowatt.ocpp.v16.enums import ChargingProfilePurposeType, ChargingRateUnitType
from kilowatt.ocpp.v16.messages import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
)
from kilowatt.smart_charging import repository
from kilowatt.smart_charging.composite import Composite, Installed, composite_schedule
from kilowatt.smart_charging.models import ChargingProfileChange
from kilowatt.smart_charging.profiles import (
    ABSOLUTE,
    CHARGE_POINT_MAX,
    TX,
    TX_DEFAULT,
    ProfileInvalid,
    Violation,
    check_profile,
)
from kilowatt.stations import repository as stations
from kilowatt.stations.models import Station

__all__ = ["LIMIT_PROFILE_BASE", "Answer", "CompositeView", "SmartCharging"]

#: chargingProfileIds of the profiles apply_limit sends: base + 1000 x purpose + connector,
#: so that a new limit on the same connector replaces the previous one.
LIMIT_PROFILE_BASE = 900_000
_PURPOSE_INDEX = {CHARGE_POINT_MAX: 0, TX_DEFAULT: 1, TX: 2}
MAX_STACK_LEVEL_KEY = "ChargeProfileMaxStackLevel"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Answer:
    """A change and the command that carries it, as they stand (final or still waiting)."""

    change: ChargingProfileChange
    command: Command

    @property
    def final(self) -> bool:
        return self.command.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class CompositeView:
    """GetCompositeSchedule's answer and Kilowatt's own expectation, for the same window."""

    command: Command
    reported: GetCompositeScheduleResponse | None
    expected: Composite
    transaction_id: int | None


class SmartCharging:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], commands: CommandService
    ) -> None:
        self.sessions = sessions
        self.commands = commands

    # -- checks --------------------------------------------------------------------------
    async def checked_profile(
        self, station: Station, connector_id: int, body: dict[str, Any]
    ) -> SetChargingProfileRequest:
        """The SetChargingProfile.req for ``body``; ProfileInvalid if it breaks a rule."""
        payload = {"connectorId": connector_id, "csChargingProfiles": body}
        try:
            self.commands.validator.validate_request("SetChargingProfile", payload)
            request = decode_request("SetChargingProfile", payload)
        except OcppError as exc:
            raise ProfileInvalid([Violation("csChargingProfiles", exc.description)]) from None
        assert isinstance(request, SetChargingProfileRequest)
        async with self.sessions() as db:
            known = {c.connector_id for c in await stations.connectors(db, station.id)}
            running = (await repository.open_transactions(db, station.id)).get(connector_id)
        if connector_id > 0 and known and connector_id not in known:
            raise ProfileInvalid(
                [Violation("connectorId", f"the station has no connector {connector_id}")]
            )
        check_profile(
            connector_id,
            request.cs_charging_profiles,
            running_transaction_id=running.id if running is not None else None,
        )
        return request

    # -- commands ------------------------------------------------------------------------
    async def _send(
        self, station: Station, action: str, payload: dict[str, Any], wait: float, by: str
    ) -> Answer:
        try:
            command = await self.commands.send(
                station.charge_point_id, action, payload, wait=wait, requested_by=by
            )
        except InvalidCommand as exc:
            raise ProfileInvalid([Violation("request", str(exc))]) from None
        return await self.answer(command)

    async def answer(self, command: Command) -> Answer:
        async with self.sessions() as db:
            change = await repository.change_by_command(db, command.id)
        assert change is not None, "every tracked command has its change"
        return Answer(change, command)

    async def set_profile(
        self,
        station: Station,
        connector_id: int,
        body: dict[str, Any],
        *,
        wait: float = 15.0,
        requested_by: str,
    ) -> Answer:
        """Check and send a SetChargingProfile; the answer is kept with the change."""
        request = await self.checked_profile(station, connector_id, body)
        return await self._send(station, "SetChargingProfile", encode(request), wait, requested_by)

    async def clear(
        self,
        station: Station,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        wait: float = 15.0,
        requested_by: str,
    ) -> Answer:
        """ClearChargingProfile by id and/or criteria (all given ones must match)."""
        payload: dict[str, Any] = {
            key: value
            for key, value in (
                ("id", profile_id),
                ("connectorId", connector_id),
                ("chargingProfilePurpose", purpose),
                ("stackLevel", stack_level),
            )
            if value is not None
        }
        return await self._send(station, "ClearChargingProfile", payload, wait, requested_by)

    async def apply_limit(
        self,
        station: Station,
        connector_id: int,
        limit: Decimal,
        unit: ChargingRateUnitType,
        *,
        until: datetime | None = None,
        number_phases: int | None = None,
        wait: float = 15.0,
        requested_by: str,
        purpose: ChargingProfilePurposeType | None = None,
        profile_id: int | None = None,
    ) -> Answer:
        """Hold a connector (0: the whole station) to ``limit`` from now (until ``until``).

        Sends a ChargePointMaxProfile for connector 0, a TxProfile for the running transaction,
        else a TxDefaultProfile for the connector (unless ``purpose`` says which); at the
        highest stack level the station allows (ChargeProfileMaxStackLevel when known), so the
        limit prevails. ``profile_id`` defaults to one per purpose and connector
        (``LIMIT_PROFILE_BASE``), so that a new limit replaces the previous one.
        """
        now = _now().replace(microsecond=0)
        async with self.sessions() as db:
            running = (await repository.open_transactions(db, station.id)).get(connector_id)
            stack = await self._limit_stack_level(db, station.id)
        if purpose is None:
            if connector_id == 0:
                purpose = CHARGE_POINT_MAX
            elif running is not None:
                purpose = TX
            else:
                purpose = TX_DEFAULT
        if profile_id is None:
            profile_id = LIMIT_PROFILE_BASE + 1000 * _PURPOSE_INDEX[purpose] + connector_id
        duration = None
        if until is not None:
            if until.tzinfo is None:
                until = until.replace(tzinfo=UTC)  # a time without an offset is UTC
            if until <= now:
                raise ProfileInvalid([Violation("until", "must be in the future")])
            duration = int((until - now).total_seconds())
        profile = ChargingProfile(
            charging_profile_id=profile_id,
            transaction_id=running.id if purpose is TX and running is not None else None,
            stack_level=stack,
            charging_profile_purpose=purpose,
            charging_profile_kind=ABSOLUTE,
            valid_to=until,
            charging_schedule=ChargingSchedule(
                duration=duration,
                start_schedule=now,
                charging_rate_unit=unit,
                charging_schedule_period=[
                    ChargingSchedulePeriod(start_period=0, limit=limit, number_phases=number_phases)
                ],
            ),
        )
        body = msgspec.to_builtins(profile, builtin_types=(Decimal,))
        return await self.set_profile(
            station,
            connector_id,
            _numbers(body),
            wait=wait,
            requested_by=requested_by,
        )

    async def _limit_stack_level(self, db: AsyncSession, station_id: int) -> int:
        key = await stations.configuration_key(db, station_id, MAX_STACK_LEVEL_KEY)
        if key is not None and key.value is not None and key.value.strip().isdigit():
            return int(key.value)
        levels = [row.stack_level for row in await repository.installed(db, station_id)]
        return max(levels, default=0)

    # -- composite schedule ----------------------------------------------------------------
    async def expected(
        self,
        station_id: int,
        connector_id: int,
        duration: int,
        unit: ChargingRateUnitType,
        start: datetime | None = None,
    ) -> tuple[Composite, int | None]:
        """Kilowatt's own composite schedule from the profiles it believes are installed."""
        async with self.sessions() as db:
            rows, transactions = await repository.in_force(db, station_id)
        profiles = [
            Installed(row.connector_id, msgspec.convert(row.profile, ChargingProfile))
            for row in rows
        ]
        running = transactions.get(connector_id) if connector_id > 0 else None
        composite = composite_schedule(
            profiles,
            connector_id=connector_id,
            start=start or _now(),
            duration=duration,
            unit=unit,
            transaction_id=running.id if running is not None else None,
            transaction_start=running.started_at if running is not None else None,
        )
        return composite, running.id if running is not None else None

    async def composite(
        self,
        station: Station,
        connector_id: int,
        duration: int,
        unit: ChargingRateUnitType,
        *,
        wait: float = 15.0,
        requested_by: str,
    ) -> CompositeView:
        """Ask the station (GetCompositeSchedule) and compute the expectation for the same
        window (from when the request is sent)."""
        start = _now()
        payload = {"connectorId": connector_id, "duration": duration, "chargingRateUnit": unit}
        command = await self.commands.send(
            station.charge_point_id,
            "GetCompositeSchedule",
            payload,
            wait=wait,
            requested_by=requested_by,
        )
        reported: GetCompositeScheduleResponse | None = None
        if command.state == "completed" and command.response is not None:
            try:
                answer = decode_response("GetCompositeSchedule", command.response)
            except OcppError:
                answer = None
            if isinstance(answer, GetCompositeScheduleResponse):
                reported = answer
                if answer.schedule_start is not None:
                    start = answer.schedule_start
        expected, transaction_id = await self.expected(
            station.id, connector_id, duration, unit, start
        )
        return CompositeView(command, reported, expected, transaction_id)


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value
