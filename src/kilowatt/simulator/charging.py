"""The charging side of a simulated station: cable, card, transactions, the meter.

A mixin of SimulatedStation (station.py), which brings the connection, the calls and the
configuration. Every method returns once the CSMS has answered what it sent (when online).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from kilowatt.ocpp.v16.enums import (
    AuthorizationStatus,
    AvailabilityStatus,
    ChargePointStatus,
    ReadingContext,
    Reason,
)
from kilowatt.ocpp.v16.messages import (
    AuthorizeRequest,
    AuthorizeResponse,
    MeterValue,
    MeterValuesRequest,
    StartTransactionRequest,
    StartTransactionResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)

from . import smart_charging
from .config import SimulatorConfig, SimulatorStats
from .configuration import Configuration
from .ev import Ev
from .link import StationError
from .local_list import LocalList, authorize_locally
from .meter import Meter, MeterItem
from .reservations import ReservationBook, startable
from .txqueue import TransactionQueue

__all__ = ["ChargingMixin", "Connector", "StartResult", "Transaction"]

Status = ChargePointStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StartResult:
    """The CSMS's answer to StartTransaction; both None if it has not answered (offline)."""

    transaction_id: int | None
    status: AuthorizationStatus | None


@dataclass(slots=True, eq=False)
class Transaction:
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: datetime
    begin: MeterValue
    #: Given by the CSMS in StartTransaction.conf; None until then.
    transaction_id: int | None = None
    status: AuthorizationStatus | None = None
    stopped: bool = False


@dataclass(slots=True, eq=False)
class Connector:
    connector_id: int
    meter: Meter
    status: ChargePointStatus = Status.AVAILABLE
    operative: bool = True
    #: Availability to take once the running transaction ends (ChangeAvailability → Scheduled).
    scheduled_operative: bool | None = None
    plugged: bool = False
    ev: Ev | None = None
    transaction: Transaction | None = None
    #: A token presented before the cable: the transaction starts when the car is plugged in.
    authorized_tag: str | None = None
    #: A RemoteStartTransaction accepted and not finished yet.
    remote_start_pending: bool = False
    #: Contactor closed: energy flows if the car wants it.
    energizing: bool = False
    last_tick: float = 0.0

    @property
    def transaction_id(self) -> int | None:
        return self.transaction.transaction_id if self.transaction is not None else None

    @property
    def is_free(self) -> bool:
        """Can start a session: operative, no transaction, nobody else's start under way."""
        return (
            self.operative
            and self.transaction is None
            and not self.remote_start_pending
            and self.status in (Status.AVAILABLE, Status.PREPARING)
        )


class ChargingMixin:
    """Plug in, swipe, start, meter, stop, unplug -- and the commands that do the same."""

    # Provided by SimulatedStation.
    config: SimulatorConfig
    stats: SimulatorStats
    rng: random.Random
    dc: bool
    connectors: dict[int, Connector]
    station_status: ChargePointStatus
    configuration: Configuration
    txq: TransactionQueue
    local_list: LocalList
    reservations: ReservationBook
    profiles: smart_charging.ProfileStore
    _sampled: tuple[MeterItem, ...]
    _stop_sampled: tuple[MeterItem, ...]

    if TYPE_CHECKING:

        @property
        def online(self) -> bool: ...

        @property
        def accepted(self) -> bool: ...

        def connector(self, connector_id: int) -> Connector: ...

        def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None: ...

        async def call(
            self, action: str, payload: msgspec.Struct, *, triggered: bool = False
        ) -> msgspec.Struct: ...

        async def send_status(self, connector_id: int, *, triggered: bool = False) -> None: ...

        def sample_interval(self) -> float: ...

        def _notify(self) -> None: ...

        async def _sleep(self, seconds: float) -> bool: ...

    def resting_status(self, connector: Connector) -> ChargePointStatus:
        """The status of a connector with no transaction, from its availability and cable."""
        if not connector.operative:
            return Status.UNAVAILABLE
        if connector.plugged:
            return Status.FINISHING if connector.status is Status.FINISHING else Status.PREPARING
        return Status.AVAILABLE

    async def _set_status(self, connector: Connector, status: ChargePointStatus) -> None:
        if connector.status is status:
            return
        connector.status = status
        self._notify()
        await self.send_status(connector.connector_id)

    async def plug_in(self, connector_id: int, ev: Ev | None = None) -> None:
        """Plug a car in: Preparing (or the transaction starts if a token was presented first)."""
        connector = self.connector(connector_id)
        if connector.plugged:
            raise StationError(f"connector {connector_id} is already plugged in")
        connector.plugged = True
        connector.ev = ev if ev is not None else Ev.random(self.rng, dc=self.dc)
        self._notify()
        if connector.transaction is not None:
            # Back in after an EV-side disconnect with StopTransactionOnEVSideDisconnect=false.
            self._tick(connector)
            connector.energizing = True
            await self._set_status(connector, Status.CHARGING)
            return
        if not connector.operative:
            return
        await self._set_status(connector, Status.PREPARING)
        if connector.authorized_tag is not None:
            await self.start_transaction(connector_id, connector.authorized_tag)

    async def unplug(self, connector_id: int) -> None:
        """Take the cable out: a running transaction stops (EVDisconnected); then Available."""
        connector = self.connector(connector_id)
        if not connector.plugged:
            raise StationError(f"connector {connector_id} is not plugged in")
        connector.plugged = False
        self._notify()
        if connector.transaction is not None:
            if self.configuration.get_bool("StopTransactionOnEVSideDisconnect"):
                await self.stop_transaction(connector_id, Reason.EV_DISCONNECTED)
            else:
                self._tick(connector)
                connector.energizing = False
                await self._set_status(connector, Status.SUSPENDED_EV)
        else:
            connector.authorized_tag = None
            await self._set_status(connector, self.resting_status(connector))
        connector.ev = None

    async def authorize(self, id_tag: str) -> AuthorizationStatus:
        """The token's status: from the Local Authorization List when offline (with
        LocalAuthorizeOffline) or at once (with LocalPreAuthorize, for Accepted entries),
        else from Authorize.req (OCPP 1.6 §3.5)."""
        local = authorize_locally(self, id_tag)
        if local is not None:
            return local
        answer = await self.call("Authorize", AuthorizeRequest(id_tag=id_tag))
        assert isinstance(answer, AuthorizeResponse)
        self.reservations.parents[id_tag] = answer.id_tag_info.parent_id_tag  # §5.13
        return answer.id_tag_info.status

    async def swipe(self, connector_id: int, id_tag: str) -> AuthorizationStatus:
        """Present a card at a connector, as a driver does.

        On the connector's own transaction's token: stops it (reason Local). Otherwise:
        Authorize; if accepted and the car is plugged in, start the transaction (the result is
        then StartTransaction's idTagInfo status); if not yet plugged in, the transaction starts
        at plug_in.
        """
        connector = self.connector(connector_id)
        transaction = connector.transaction
        if transaction is not None:
            if id_tag == transaction.id_tag:
                await self.stop_transaction(connector_id, Reason.LOCAL, id_tag=id_tag)
                return AuthorizationStatus.ACCEPTED
            return await self.authorize(id_tag)  # someone else's card: no effect here
        reserved = connector.status is ChargePointStatus.RESERVED
        if not reserved and not connector.is_free:
            raise StationError(f"connector {connector_id} is {connector.status}")
        status = await self.authorize(id_tag)
        if status is AuthorizationStatus.ACCEPTED and not startable(self, connector, id_tag):
            # Reserved for another idTag, and not of its group (OCPP 1.6 §5.13).
            raise StationError(f"connector {connector_id} is reserved for another idTag")
        if status is not AuthorizationStatus.ACCEPTED:
            return status
        if not connector.plugged:
            connector.authorized_tag = id_tag
            await self._set_status(connector, Status.PREPARING)
            return status
        result = await self.start_transaction(connector_id, id_tag)
        return result.status if result.status is not None else status

    async def start_transaction(self, connector_id: int, id_tag: str) -> StartResult:
        """StartTransaction (no Authorize first) and start charging; returns the CSMS's answer.

        Offline (or not yet accepted) the transaction starts anyway, the message is queued and
        the result is StartResult(None, None); the id arrives when the queue is replayed.
        A non-Accepted idTagInfo ends the transaction with reason DeAuthorized
        (StopTransactionOnInvalidId=true).
        """
        connector = self.connector(connector_id)
        if connector.transaction is not None:
            raise StationError(f"connector {connector_id} already has a transaction")
        if not connector.operative:
            raise StationError(f"connector {connector_id} is unavailable")
        if not connector.plugged or connector.ev is None:
            raise StationError(f"connector {connector_id}: no car plugged in")
        self._tick(connector)
        now = utcnow()
        meter_start = connector.meter.register
        transaction = Transaction(
            connector_id,
            id_tag,
            meter_start,
            now,
            begin=connector.meter.meter_value(
                self._stop_sampled, ReadingContext.TRANSACTION_BEGIN, now, connector.ev
            ),
        )
        connector.transaction = transaction
        connector.authorized_tag = None
        wait = self.online and self.accepted

        def answered(answer: msgspec.Struct | None) -> None:
            if isinstance(answer, StartTransactionResponse):
                transaction.transaction_id = answer.transaction_id
                transaction.status = answer.id_tag_info.status
            self._notify()
            if not wait:
                self.spawn(self._after_start(connector, transaction))

        request = StartTransactionRequest(
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            # The reservation this start ends, if any (OCPP 1.6 §5.13).
            reservation_id=self.reservations.claim(connector_id, id_tag),
            timestamp=now,
        )
        done = self.txq.put("StartTransaction", lambda: request, on_answer=answered)
        self.stats.sessions_started += 1
        # Like a real charger: the contactor closes now, online or not.
        connector.ev.charging_seconds = 0.0
        connector.energizing = True
        connector.last_tick = asyncio.get_running_loop().time()
        self.spawn(self._meter_loop(connector, transaction))
        if not wait:
            await self._set_status(connector, self._charging_status(connector))
            return StartResult(None, None)
        await done
        await self._after_start(connector, transaction)
        return StartResult(transaction.transaction_id, transaction.status)

    def _charging_status(self, connector: Connector) -> ChargePointStatus:
        if connector.ev is not None and connector.ev.full:
            return Status.SUSPENDED_EV
        return Status.CHARGING

    async def _after_start(self, connector: Connector, transaction: Transaction) -> None:
        if transaction.stopped:
            return
        if transaction.status in (AuthorizationStatus.ACCEPTED, None):
            await self._set_status(connector, self._charging_status(connector))
            return
        self._tick(connector)
        connector.energizing = False
        await self._set_status(connector, Status.SUSPENDED_EVSE)
        if self.configuration.get_bool("StopTransactionOnInvalidId"):
            await self.stop_transaction(connector.connector_id, Reason.DE_AUTHORIZED)

    async def stop_transaction(
        self, connector_id: int, reason: Reason = Reason.LOCAL, *, id_tag: str | None = None
    ) -> AuthorizationStatus | None:
        """StopTransaction with Transaction.Begin/End meter values; then Finishing (cable still
        in), Available, or Unavailable if so scheduled. Returns the idTagInfo status, if any."""
        connector = self.connector(connector_id)
        transaction = connector.transaction
        if transaction is None:
            raise StationError(f"no transaction on connector {connector_id}")
        self._tick(connector)
        transaction.stopped = True
        connector.transaction = None
        connector.energizing = False
        now = utcnow()
        meter_stop = connector.meter.register
        end = connector.meter.meter_value(
            self._stop_sampled, ReadingContext.TRANSACTION_END, now, connector.ev
        )

        def build() -> StopTransactionRequest | None:
            if transaction.transaction_id is None:
                return None  # the CSMS never gave it an id: nothing to stop there
            return StopTransactionRequest(
                id_tag=id_tag,
                meter_stop=meter_stop,
                timestamp=now,
                transaction_id=transaction.transaction_id,
                reason=reason,
                transaction_data=[transaction.begin, end],
            )

        wait = self.online and self.accepted
        done = self.txq.put("StopTransaction", build)
        self.stats.sessions_stopped += 1
        if connector.scheduled_operative is not None:
            connector.operative = connector.scheduled_operative
            connector.scheduled_operative = None
        if not connector.operative:
            after = Status.UNAVAILABLE
        elif connector.plugged:
            after = Status.FINISHING
        else:
            after = Status.AVAILABLE
        answer = await done if wait else None
        await self._set_status(connector, after)
        if isinstance(answer, StopTransactionResponse) and answer.id_tag_info is not None:
            return answer.id_tag_info.status
        return None

    def _tick(self, connector: Connector) -> None:
        """Bring the meter up to now (every connector's while charging profiles are held: a
        ChargePointMaxProfile is shared by the connectors energizing, smart_charging.py)."""
        if self.profiles.held:
            smart_charging.tick_all(self)  # type: ignore[arg-type]
        else:
            self._advance_meter(connector)

    def _advance_meter(self, connector: Connector) -> None:
        now = asyncio.get_running_loop().time()
        elapsed = now - connector.last_tick
        connector.last_tick = now
        energy = power = 0.0
        if connector.energizing and connector.ev is not None and elapsed > 0:
            energy, power = smart_charging.charge(self, connector, elapsed)  # type: ignore[arg-type]
        connector.meter.add(energy, power, self.rng, connector.ev)
        self.stats.wh_delivered += energy

    async def _meter_loop(self, connector: Connector, transaction: Transaction) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while connector.transaction is transaction:
            interval = self.sample_interval()
            # A fixed cadence from the start of the transaction, without catching up a backlog.
            next_at = max(next_at + (interval if interval > 0 else 60.0), loop.time())
            if await self._sleep(next_at - loop.time()):
                next_at = loop.time()
                continue  # the interval changed: a new sample period starts now
            if connector.transaction is not transaction:
                return
            self._tick(connector)
            if (
                connector.status is Status.CHARGING
                and connector.ev is not None
                and connector.ev.full
            ):
                await self._set_status(connector, Status.SUSPENDED_EV)
            if interval > 0:
                self._queue_meter_values(connector, transaction, ReadingContext.SAMPLE_PERIODIC)
            self._notify()

    def _queue_meter_values(
        self, connector: Connector, transaction: Transaction, context: ReadingContext
    ) -> asyncio.Future[msgspec.Struct | None]:
        value = connector.meter.meter_value(self._sampled, context, utcnow(), connector.ev)
        connector_id = connector.connector_id
        return self.txq.put(
            "MeterValues",
            lambda: MeterValuesRequest(
                connector_id=connector_id,
                transaction_id=transaction.transaction_id,
                meter_value=[value],
            ),
        )

    async def send_meter_values(
        self, connector_id: int, context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    ) -> None:
        """Take a sample now and send it: queued with the transaction's messages if one runs
        (awaits the answer when online), else sent directly."""
        connector = self.connector(connector_id)
        self._tick(connector)
        transaction = connector.transaction
        if transaction is not None:
            done = self._queue_meter_values(connector, transaction, context)
            if self.online and self.accepted:
                await done
            return
        value = connector.meter.meter_value(self._sampled, context, utcnow(), connector.ev)
        await self.call(
            "MeterValues",
            MeterValuesRequest(connector_id=connector_id, meter_value=[value]),
            triggered=context is ReadingContext.TRIGGER,
        )

    async def change_availability(self, connector_id: int, operative: bool) -> AvailabilityStatus:
        """ChangeAvailability: Accepted, or Scheduled for connectors with a transaction
        (applied when it ends); Rejected for an unknown connector. Reports the new statuses."""
        if connector_id != 0 and connector_id not in self.connectors:
            return AvailabilityStatus.REJECTED
        targets = (
            list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        )
        scheduled = False
        for connector in targets:
            if connector.transaction is not None and connector.operative != operative:
                connector.scheduled_operative = operative
                scheduled = True
            else:
                connector.operative = operative
                connector.scheduled_operative = None
        if connector_id == 0:
            self.station_status = Status.AVAILABLE if operative else Status.UNAVAILABLE
        return AvailabilityStatus.SCHEDULED if scheduled else AvailabilityStatus.ACCEPTED

    async def report_availability(self, connector_id: int) -> None:
        """Send the statuses a ChangeAvailability led to."""
        if connector_id == 0:
            await self.send_status(0)
        targets = (
            list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        )
        for connector in targets:
            if connector.transaction is None:
                await self._set_status(connector, self.resting_status(connector))

    async def remote_start(self, connector: Connector, id_tag: str) -> None:
        """The charger's side of an accepted RemoteStartTransaction: plug in if needed,
        Authorize (unless AuthorizeRemoteTxRequests=false), StartTransaction."""
        try:
            plugged_here = not connector.plugged
            if plugged_here:
                await self.plug_in(connector.connector_id)
            else:
                await self._set_status(connector, Status.PREPARING)
            if self.configuration.get_bool("AuthorizeRemoteTxRequests"):
                status = await self.authorize(id_tag)
                if status is not AuthorizationStatus.ACCEPTED:
                    if plugged_here:
                        await self.unplug(connector.connector_id)
                    return
            await self.start_transaction(connector.connector_id, id_tag)
        finally:
            connector.remote_start_pending = False
