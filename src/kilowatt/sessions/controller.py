"""The charging-session use cases the driver API and the operator API share.

Each method runs its own short database transactions around the charger round trip, so no
database connection is held while waiting for a charger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.api.auth import MAX_ID
from kilowatt.auth.principal import Principal
from kilowatt.billing import service as billing
from kilowatt.billing.payment_service import Payments
from kilowatt.billing.service import BillingPolicy
from kilowatt.commands.service import CommandService, UnknownStation
from kilowatt.events import Event, EventBus
from kilowatt.gateway.registry import ConnectionRegistry
from kilowatt.reservations import service as reservations
from kilowatt.sessions import service
from kilowatt.sessions.models import ChargingSession
from kilowatt.sessions.service import SessionRefused
from kilowatt.stations.models import Connector, Station
from kilowatt.tokens import service as tokens
from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction


def _now() -> datetime:
    return datetime.now(UTC)


def outcome_word(state: str, outcome: str | None) -> str:
    """A command record's result as the seed's words: Accepted / Rejected / Timeout / Offline / …"""
    if state == "completed":
        return outcome or "Accepted"
    if state == "offline":
        return "Offline"
    if state in ("timeout", "sent", "pending"):
        return "Timeout"
    return outcome or "Error"  # a CALLERROR code


def evse_id(operator_id: str, station: Station, connector_id: int) -> str:
    """The connector's stable public code, e.g. ``DE*KWT*E12*1`` (station 12, connector 1)."""
    return f"{operator_id}*E{station.id}*{connector_id}"


@dataclass(frozen=True, slots=True)
class Place:
    station: Station
    connector: Connector


@dataclass(frozen=True, slots=True)
class UnlockResult:
    status: str
    message: str
    command_id: str | None


class ChargingSessions:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandService,
        registry: ConnectionRegistry,
        *,
        evse_operator_id: str,
        start_timeout: float,
        connection_timeout: float,
        payments: Payments,
        bus: EventBus,
        policy: BillingPolicy,
        finalise_after: float,
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.registry = registry
        self.evse_operator_id = evse_operator_id
        self.start_timeout = start_timeout
        self.connection_timeout = timedelta(seconds=connection_timeout)
        self.payments = payments
        self.bus = bus
        self.policy = policy
        self.finalise_after = timedelta(seconds=finalise_after)

    # ---- places -------------------------------------------------------------------------------
    async def find_place(
        self,
        db: AsyncSession,
        *,
        station_ref: str | int | None = None,
        connector_ref: str | int | None = None,
        connector_number: int | None = None,
        tenant_id: int | None = None,
    ) -> Place:
        """Resolve a connector from what a client sends: a gun id (connector id or EVSE id), or a
        station (id or charge point id) plus a connector number. 404 when not found or not visible."""
        connector: Connector | None = None
        station: Station | None = None
        if connector_ref is not None and str(connector_ref) != "":
            connector = await self._connector_by_ref(db, connector_ref)
            if connector is not None:
                station = await db.get(Station, connector.station_id)
        if connector is None and station_ref is not None and str(station_ref) != "":
            station = await self._station_by_ref(db, station_ref)
            if station is not None and connector_number is not None:
                connector = await db.scalar(
                    select(Connector).where(
                        Connector.station_id == station.id,
                        Connector.connector_id == connector_number,
                    )
                )
        if station is None or connector is None or connector.connector_id < 1:
            raise SessionRefused(
                404, "Connector not found", "no such charging station or connector"
            )
        if (
            station_ref is not None
            and str(station_ref) != ""
            and not _matches(station, station_ref)
        ):
            raise SessionRefused(404, "Connector not found", "the connector is not on that station")
        if tenant_id is not None and station.tenant_id != tenant_id:
            raise SessionRefused(
                404, "Connector not found", "no such charging station or connector"
            )
        return Place(station, connector)

    async def _station_by_ref(self, db: AsyncSession, ref: str | int) -> Station | None:
        text = str(ref)
        station = await db.scalar(select(Station).where(Station.charge_point_id == text))
        if station is None and (number := _db_int(text)) is not None:
            station = await db.get(Station, number)
        return station

    async def _connector_by_ref(self, db: AsyncSession, ref: str | int) -> Connector | None:
        text = str(ref)
        if (number := _db_int(text)) is not None:
            return await db.get(Connector, number)
        prefix = f"{self.evse_operator_id}*E"
        if text.startswith(prefix):
            station_part, _, connector_part = text[len(prefix) :].partition("*")
            station_id, connector_id = _db_int(station_part), _db_int(connector_part)
            if station_id is not None and connector_id is not None:
                return await db.scalar(
                    select(Connector).where(
                        Connector.station_id == station_id, Connector.connector_id == connector_id
                    )
                )
        return None

    def evse_id(self, place: Place) -> str:
        return evse_id(self.evse_operator_id, place.station, place.connector.connector_id)

    def online(self, station: Station) -> bool:
        return station.charge_point_id in self.registry

    async def can_start(self, db: AsyncSession, place: Place) -> tuple[bool, str]:
        if not self.online(place.station):
            return False, "The charger is offline."
        if place.connector.status in ("Faulted", "Unavailable"):
            return False, f"The connector is {place.connector.status.lower()}."
        held = await reservations.blocking(
            db, place.station.id, place.connector.connector_id, _now()
        )
        if held is not None or place.connector.status == "Reserved":
            until = f" until {reservations.until_text(held.expires_at)}" if held else ""
            return False, f"The connector is reserved{until}."
        if place.connector.status not in service.STARTABLE_STATUSES:
            return False, f"The connector is busy ({place.connector.status})."
        if (
            await service.open_session_on(db, place.station.id, place.connector.connector_id)
            is not None
        ):
            return False, "A session is starting or running on this connector."
        return True, "Ready: plug in and start."

    # ---- start / end / unlock -----------------------------------------------------------------
    async def start(
        self,
        principal: Principal,
        *,
        station_ref: str | int | None,
        connector_ref: str | int | None,
        connector_number: int | None,
        id_tag: str | None,
        origin: str = "app",
    ) -> ChargingSession:
        """Validate, record a pending session, RemoteStartTransaction, and wait for the answer."""
        now = _now()
        async with self.sessions() as db:
            place = await self.find_place(
                db,
                station_ref=station_ref,
                connector_ref=connector_ref,
                connector_number=connector_number,
                tenant_id=principal.tenant_id,
            )
            reservation = await reservations.blocking(
                db, place.station.id, place.connector.connector_id, now
            )
            if reservation is not None and not id_tag and reservation.user_id == principal.user_id:
                id_tag = reservation.id_tag  # the driver's own reservation: start with its card
            token = await self._token_for(db, principal, place.station.tenant_id, id_tag, now)
            if reservation is not None and not reservations.admits_token(reservation, token):
                raise SessionRefused(
                    409,
                    "Connector reserved",
                    "this connector is reserved for another driver until "
                    f"{reservations.until_text(reservation.expires_at)}",
                )
            try:
                session = await service.prepare_start(
                    db,
                    station=place.station,
                    connector=place.connector,
                    token=token,
                    # An operator's start for a driver's card is still that driver's session.
                    user_id=principal.user_id if principal.is_driver else token.user_id,
                    origin=origin,
                    online=self.online(place.station),
                    now=now,
                    reserved_for_token=reservation is not None,
                )
                await db.commit()
            except IntegrityError:  # a concurrent start on the same connector won
                raise SessionRefused(
                    409,
                    "Connector busy",
                    "another session is starting or running on this connector",
                ) from None
            session_id = session.id
            charge_point_id = place.station.charge_point_id
            payload = {"idTag": token.id_tag, "connectorId": place.connector.connector_id}
        if principal.is_driver:
            await self._hold(session_id)
        try:
            command = await self.commands.send(
                charge_point_id,
                "RemoteStartTransaction",
                payload,
                wait=self.start_timeout,
                requested_by=principal.actor,
            )
            word = outcome_word(command.state, command.outcome)
            command_id: str | None = command.id
            description = None if word in service.START_MESSAGES else command.error_description
        except UnknownStation:
            word, command_id, description = "Offline", None, "the station is not registered"
        async with self.sessions() as db:
            started = await service.get_locked(db, session_id)
            assert started is not None
            service.record_start_outcome(started, word, command_id, description)
            await billing.settle(db, started, now=_now(), provider=self.policy.provider)
            await db.commit()
        self._closed(started)
        return started

    async def _hold(self, session_id: int) -> None:
        """Pre-authorize the driver's card; without it the session fails before the charger
        hears of it (402)."""
        held = await self.payments.hold(session_id)
        if held.authorized:
            return
        async with self.sessions() as db:
            session = await service.get_locked(db, session_id)
            assert session is not None
            session.state = "failed"
            session.failure_reason = f"payment: {held.detail}"
            await db.commit()
        raise SessionRefused(402, "Payment required", held.detail)

    def _closed(self, session: ChargingSession) -> None:
        """Tell the node a session's bill or state changed (committed): the payment worker wakes."""
        self.bus.publish(Event("session.closed", {"sessionId": session.id, "state": session.state}))

    async def _token_for(
        self,
        db: AsyncSession,
        principal: Principal,
        tenant_id: int,
        id_tag: str | None,
        now: datetime,
    ) -> Token:
        query = select(Token).where(Token.tenant_id == tenant_id)
        if principal.is_driver:
            query = query.where(Token.user_id == principal.user_id)
        if id_tag:
            query = query.where(Token.id_tag == id_tag)
        candidates = (await db.scalars(query.order_by(Token.id))).all()
        if not candidates:
            raise SessionRefused(
                404 if id_tag else 422,
                "Token not found",
                "no such charge tag on your account"
                if id_tag
                else "add a charge tag to your account first",
            )
        refusals = []
        for token in candidates:
            authorization = await tokens.authorize(db, tenant_id, token.id_tag, now)
            if authorization.status == "Accepted":
                return token
            refusals.append(f"{token.id_tag}: {authorization.status}")
        raise SessionRefused(403, "Token not accepted", "; ".join(refusals))

    async def end(self, principal: Principal, session_id: int) -> ChargingSession:
        """RemoteStopTransaction, and close the session for billing whatever the charger says."""
        async with self.sessions() as db:
            session = await self.visible(db, principal, session_id)
            if session.state not in service.OPEN_STATES:
                raise SessionRefused(409, "Session not running", f"the session is {session.state}")
            station = await db.get(Station, session.station_id)
            assert station is not None
            transaction_id = session.transaction_id
            charge_point_id = station.charge_point_id
            session.end_requested_at = _now()
            await db.commit()
        word, command_id = "Accepted", None
        if transaction_id is not None:
            try:
                command = await self.commands.send(
                    charge_point_id,
                    "RemoteStopTransaction",
                    {"transactionId": transaction_id},
                    wait=self.start_timeout,
                    requested_by=principal.actor,
                )
                word, command_id = outcome_word(command.state, command.outcome), command.id
            except UnknownStation:
                word = "Offline"
        async with self.sessions() as db:
            ended = await service.get_locked(db, session_id)
            assert ended is not None
            tx = await db.get(Transaction, transaction_id) if transaction_id is not None else None
            if ended.state in service.OPEN_STATES:
                now = _now()
                service.close_for_billing(ended, tx, stop_status=word, now=now)
                await billing.close(
                    db, ended, tx, final=ended.reconciled, now=now, policy=self.policy
                )
            else:
                ended.stop_status = word
            ended.stop_command_id = command_id
            await db.commit()
        self._closed(ended)
        return ended

    async def unlock(
        self,
        principal: Principal,
        *,
        station_ref: str | int | None,
        connector_ref: str | int | None,
        connector_number: int | None,
    ) -> UnlockResult:
        async with self.sessions() as db:
            place = await self.find_place(
                db,
                station_ref=station_ref,
                connector_ref=connector_ref,
                connector_number=connector_number,
                tenant_id=principal.tenant_id,
            )
            if principal.is_driver:
                await self._require_driver_link(db, principal, place)
        try:
            command = await self.commands.send(
                place.station.charge_point_id,
                "UnlockConnector",
                {"connectorId": place.connector.connector_id},
                wait=self.start_timeout,
                requested_by=principal.actor,
            )
        except UnknownStation:
            return UnlockResult("Offline", service.UNLOCK_MESSAGES["Offline"], None)
        word = outcome_word(command.state, command.outcome)
        return UnlockResult(
            word, service.UNLOCK_MESSAGES.get(word, f"The charger answered {word}."), command.id
        )

    async def _require_driver_link(
        self, db: AsyncSession, principal: Principal, place: Place
    ) -> None:
        """A driver may unlock a connector they charged at in the last day (their cable is in it)."""
        recent = await db.scalar(
            select(ChargingSession.id)
            .where(
                ChargingSession.user_id == principal.user_id,
                ChargingSession.station_id == place.station.id,
                ChargingSession.connector_id == place.connector.connector_id,
                ChargingSession.requested_at >= _now() - timedelta(days=1),
            )
            .limit(1)
        )
        if recent is None:
            raise SessionRefused(
                403, "Not your connector", "you have no recent session on this connector"
            )

    # ---- reading -----------------------------------------------------------------------------
    async def visible(
        self, db: AsyncSession, principal: Principal, session_id: int
    ) -> ChargingSession:
        """The session if the caller may see it (a driver: their own; an operator: the tenant); 404 else."""
        session = await service.get(db, session_id)
        if (
            session is None
            or not principal.sees_tenant(session.tenant_id)
            or (principal.is_driver and session.user_id != principal.user_id)
        ):
            raise SessionRefused(404, "Session not found", f"no session {session_id}")
        return session

    async def expire_stale(self) -> int:
        """Expire pending starts that never began, and make old provisional bills final."""
        now = _now()
        async with self.sessions() as db:
            count = await service.expire_pending(
                db, older_than=now - self.connection_timeout, now=now, policy=self.policy
            )
            count += await service.finalise_provisional(
                db, older_than=now - self.finalise_after, now=now, policy=self.policy
            )
            await db.commit()
        if count:
            self.bus.publish(Event("session.closed", {}))
        return count


def _db_int(text: str) -> int | None:
    """``text`` as a positive integer id the database can hold (32-bit), else None."""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 <= number <= MAX_ID else None


def _matches(station: Station, ref: str | int) -> bool:
    text = str(ref)
    return station.charge_point_id == text or (text.isdigit() and station.id == int(text))
