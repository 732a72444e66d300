"""The reservation use cases of the driver and operator API, and the expiry task.

Like the sessions controller, each method runs its own short database transactions around the
charger round trip (ReserveNow, CancelReservation), so no connection is held while waiting.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.auth.principal import Principal
from kilowatt.commands.service import CommandService, UnknownStation
from kilowatt.config import Settings
from kilowatt.reservations import fees, repository, service
from kilowatt.reservations.models import Reservation
from kilowatt.sessions.controller import ChargingSessions, outcome_word
from kilowatt.sessions.service import SessionRefused
from kilowatt.stations.models import Station
from kilowatt.tokens import service as tokens
from kilowatt.tokens.models import Token

if TYPE_CHECKING:
    from kilowatt.app import Kilowatt

log = logging.getLogger(__name__)

MAX_MINUTES = 24 * 60


class ReservationRefused(Exception):
    """A reservation request or cancel refused before or by the charger (4xx/5xx)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


# HTTP status of an answer to ReserveNow or CancelReservation that is not Accepted.
FAILED_STATUS = {
    "Faulted": 409,
    "Occupied": 409,
    "Unavailable": 409,
    "Rejected": 409,
    "Offline": 503,
    "Timeout": 504,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Target:
    station: Station
    connector_id: int  # 0: any connector of the station


class Reservations:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandService,
        places: ChargingSessions,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.places = places
        self.settings = settings

    @classmethod
    def of(cls, node: Kilowatt) -> Reservations:
        return cls(node.sessions, node.commands, node.charging_sessions, node.settings)

    # ---- where ---------------------------------------------------------------------------------
    async def target(
        self,
        db: AsyncSession,
        principal: Principal,
        *,
        connector_ref: str | None,
        station_ref: str | None,
        connector_number: int | None,
    ) -> Target:
        """A connector (gun id / EVSE id, or station + number) or a whole station (number 0)."""
        try:
            if connector_number == 0 and not connector_ref and station_ref:
                station = await db.scalar(
                    select(Station).where(Station.charge_point_id == station_ref)
                )
                if station is None and station_ref.isdigit() and len(station_ref) < 10:
                    station = await db.get(Station, int(station_ref))
                if station is None or not principal.sees_tenant(station.tenant_id):
                    raise SessionRefused(404, "Station not found", "no such charging station")
                return Target(station, 0)
            place = await self.places.find_place(
                db,
                station_ref=station_ref,
                connector_ref=connector_ref,
                connector_number=connector_number,
                tenant_id=principal.tenant_id,
            )
        except SessionRefused as exc:
            raise ReservationRefused(exc.status, exc.title, exc.detail) from None
        return Target(place.station, place.connector.connector_id)

    async def _token_for(
        self,
        db: AsyncSession,
        principal: Principal,
        tenant_id: int,
        id_tag: str | None,
        now: datetime,
    ) -> Token:
        """A driver's own valid token (``id_tag`` or their first valid one); an operator names
        any token of the tenant."""
        query = select(Token).where(Token.tenant_id == tenant_id)
        if principal.is_driver:
            query = query.where(Token.user_id == principal.user_id)
        elif not id_tag:
            raise ReservationRefused(422, "Token required", "name the id_tag to reserve for")
        if id_tag:
            query = query.where(Token.id_tag == id_tag)
        candidates = (await db.scalars(query.order_by(Token.id))).all()
        if not candidates:
            if id_tag or not principal.is_driver:
                raise ReservationRefused(404, "Token not found", "no such charge tag")
            raise ReservationRefused(
                422, "Token not found", "add a charge tag to your account first"
            )
        refusals = []
        for token in candidates:
            authorization = await tokens.authorize(db, tenant_id, token.id_tag, now)
            if authorization.status in ("Accepted", "ConcurrentTx"):
                return token
            refusals.append(f"{token.id_tag}: {authorization.status}")
        raise ReservationRefused(403, "Token not accepted", "; ".join(refusals))

    # ---- reserve / cancel ----------------------------------------------------------------------
    async def reserve(
        self,
        principal: Principal,
        *,
        connector_ref: str | None,
        station_ref: str | None,
        connector_number: int | None,
        id_tag: str | None,
        minutes: int | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[Reservation, str]:
        """Record the reservation, send ReserveNow, and record the charger's answer; the
        reservation and the answer's word (a ReservationStatus, Timeout, Offline, an error)."""
        now = _now()
        if expires_at is None:
            expires_at = now + timedelta(minutes=minutes or self.settings.reservation_minutes)
        elif not now < expires_at <= now + timedelta(minutes=MAX_MINUTES):
            raise ReservationRefused(
                422, "Invalid expiry", "expires_at must be in the future and within 24 hours"
            )
        async with self.sessions() as db:
            target = await self.target(
                db,
                principal,
                connector_ref=connector_ref,
                station_ref=station_ref,
                connector_number=connector_number,
            )
            station = target.station
            token = await self._token_for(db, principal, station.tenant_id, id_tag, now)
            if not self.places.online(station):
                raise ReservationRefused(
                    503, "Charger offline", "the charger is offline, so it cannot be reserved"
                )
            held = await service.blocking(db, station.id, target.connector_id, now)
            if held is not None:
                raise ReservationRefused(
                    409,
                    "Already reserved",
                    f"the connector is reserved until {service.until_text(held.expires_at)}",
                )
            reservation = Reservation(
                tenant_id=station.tenant_id,
                station_id=station.id,
                connector_id=target.connector_id,
                token_id=token.id,
                id_tag=token.id_tag,
                parent_id_tag=token.parent_id_tag,
                user_id=token.user_id,
                state="requested",
                expires_at=expires_at,
                requested_by=principal.actor,
                created_at=now,
            )
            await fees.offer_tariff(db, reservation, station, token)
            db.add(reservation)
            await db.flush()
            await db.commit()
            reservation_id = reservation.id
            charge_point_id = station.charge_point_id
            payload: dict[str, object] = {
                "connectorId": target.connector_id,
                "expiryDate": _iso(expires_at),
                "idTag": token.id_tag,
                "reservationId": reservation_id,
            }
            if token.parent_id_tag:
                payload["parentIdTag"] = token.parent_id_tag
        try:
            command = await self.commands.send(
                charge_point_id,
                "ReserveNow",
                payload,
                wait=self.settings.start_timeout,
                requested_by=principal.actor,
            )
            word = outcome_word(command.state, command.outcome)
            command_id: str | None = command.id
            description = command.error_description
        except UnknownStation:
            word, command_id, description = "Offline", None, "the station is not registered"
        async with self.sessions() as db:
            answered = await repository.get_locked(db, reservation_id)
            assert answered is not None
            service.record_reserve_outcome(answered, word, command_id, description, _now())
            await db.commit()
        log.info("reservation %s at %s: %s", reservation_id, charge_point_id, answered.state)
        return answered, word

    async def cancel(self, principal: Principal, reservation_id: int) -> Reservation:
        """CancelReservation; the reservation ends when the charger accepts (or holds none)."""
        async with self.sessions() as db:
            reservation = await self.visible(db, principal, reservation_id)
            if reservation.state not in repository.ACTIVE_STATES:
                raise ReservationRefused(
                    409, "Reservation not active", f"the reservation is {reservation.state}"
                )
            station = await db.get(Station, reservation.station_id)
            assert station is not None
            charge_point_id = station.charge_point_id
        try:
            command = await self.commands.send(
                charge_point_id,
                "CancelReservation",
                {"reservationId": reservation_id},
                wait=self.settings.start_timeout,
                requested_by=principal.actor,
            )
            word, command_id = outcome_word(command.state, command.outcome), command.id
        except UnknownStation:
            word, command_id = "Offline", None
        async with self.sessions() as db:
            cancelled = await repository.get_locked(db, reservation_id)
            assert cancelled is not None
            ended = service.record_cancel_outcome(cancelled, word, command_id, _now())
            await db.commit()
        if not ended:
            status = FAILED_STATUS.get(word, 502)
            raise ReservationRefused(
                status,
                "Not cancelled",
                f"the charger did not confirm the cancellation ({word}); "
                "the reservation still holds",
            )
        return cancelled

    # ---- reading -------------------------------------------------------------------------------
    async def visible(
        self, db: AsyncSession, principal: Principal, reservation_id: int
    ) -> Reservation:
        """The reservation if the caller may see it (a driver: their own; an operator: the
        tenant's); 404 else."""
        reservation = await repository.get(db, reservation_id)
        if (
            reservation is None
            or not principal.sees_tenant(reservation.tenant_id)
            or (principal.is_driver and reservation.user_id != principal.user_id)
        ):
            raise ReservationRefused(
                404, "Reservation not found", f"no reservation {reservation_id}"
            )
        return reservation


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def expire_reservations(
    sessions: async_sessionmaker[AsyncSession], every: float = 15.0
) -> None:
    """Background task: reservations past their expiry become ``expired`` (the charger expires
    them itself at ``expiryDate``, OCPP 1.6 §5.13; this keeps our record in step)."""
    while True:
        try:
            async with sessions() as db:
                count = await service.expire_due(db, _now())
                await db.commit()
            if count:
                log.info("expired %d reservations", count)
        except Exception:
            log.exception("reservation expiry failed; retrying later")
        await asyncio.sleep(every)
