"""The simulated charger's reservations (OCPP 1.6 §3.11, §5.1, §5.13).

ReserveNow is answered from the connector's state: Accepted when it is Available (and not
reserved), Occupied when in use or reserved, Faulted, Unavailable when Inoperative, Rejected
when the charger does not take reservations (no ``Reservation`` in SupportedFeatureProfiles,
or connector 0 without ReserveConnectorZeroSupported). A reserved connector is Reserved
(StatusNotification) until the reservation is used, cancelled or expires at its expiryDate,
when the charger itself makes it Available again. Only the reserved idTag (or one of its
parent idTag's group) may start there, and its StartTransaction carries the reservationId.
A station-wide reservation (connector 0) keeps one connector free for its idTag.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kilowatt.ocpp.v16.enums import (
    CancelReservationStatus,
    ChargePointStatus,
    ReservationStatus,
)
from kilowatt.ocpp.v16.messages import CancelReservationRequest, ReserveNowRequest

from .configuration import Configuration

if TYPE_CHECKING:
    from .charging import ChargingMixin, Connector
    from .station import SimulatedStation

__all__ = ["PROFILE", "ReservationBook", "SimReservation", "startable", "supports_reservations"]

PROFILE = "Reservation"
Status = ChargePointStatus


def supports_reservations(configuration: Configuration) -> bool:
    profiles = configuration["SupportedFeatureProfiles"].split(",")
    return PROFILE in {p.strip() for p in profiles}


@dataclass(slots=True, eq=False)
class SimReservation:
    reservation_id: int
    connector_id: int  # 0: any connector
    id_tag: str
    parent_id_tag: str | None
    expiry: datetime
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class ReservationBook:
    by_id: dict[int, SimReservation] = field(default_factory=dict)
    #: Parent idTags learnt from Authorize answers and the local list (§5.13).
    parents: dict[str, str | None] = field(default_factory=dict)
    #: reservationIds of the StartTransactions that ended a reservation (tests read it).
    used: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)

    # -- who may start ---------------------------------------------------------------------
    def _group(self, id_tag: str) -> set[str]:
        return {id_tag, *([p] if (p := self.parents.get(id_tag)) else [])}

    def _admits(self, r: SimReservation, id_tag: str) -> bool:
        return bool(self._group(id_tag) & ({r.id_tag, r.parent_id_tag} - {None}))

    def on_connector(self, connector_id: int) -> SimReservation | None:
        return next((r for r in self.by_id.values() if r.connector_id == connector_id), None)

    def admits(self, connector_id: int, id_tag: str) -> bool:
        """Whether ``id_tag`` may start on a connector reserved for it (by its group)."""
        held = self.on_connector(connector_id)
        return held is not None and self._admits(held, id_tag)

    def blocks(self, st: ChargingMixin, connector: Connector, id_tag: str | None) -> bool:
        """Whether a start by ``id_tag`` there is refused because of a reservation: the
        connector is reserved for another group, or taking it would leave fewer free connectors
        than station-wide reservations of other groups."""
        held = self.on_connector(connector.connector_id)
        if held is not None:
            return id_tag is None or not self._admits(held, id_tag)
        station_wide = [
            r
            for r in self.by_id.values()
            if r.connector_id == 0 and (id_tag is None or not self._admits(r, id_tag))
        ]
        if not station_wide:
            return False
        free = [c for c in st.connectors.values() if c.is_free and c is not connector]
        return len(free) < len(station_wide)

    def claim(self, connector_id: int, id_tag: str) -> int | None:
        """A start by ``id_tag`` on ``connector_id``: the reservation it ends, if any (its id
        goes into StartTransaction.req)."""
        for r in sorted(self.by_id.values(), key=lambda r: r.connector_id != connector_id):
            if r.connector_id in (connector_id, 0) and self._admits(r, id_tag):
                self._drop(r)
                self.used.append(r.reservation_id)
                return r.reservation_id
        return None

    def _drop(self, r: SimReservation) -> None:
        self.by_id.pop(r.reservation_id, None)
        if r.timer is not None:
            r.timer.cancel()

    # -- ReserveNow / CancelReservation ------------------------------------------------------
    def answer(self, st: SimulatedStation, req: ReserveNowRequest) -> ReservationStatus:
        if not supports_reservations(st.configuration):
            return ReservationStatus.REJECTED
        replacing = self.by_id.get(req.reservation_id)
        if req.connector_id == 0:
            if not st.configuration.get_bool("ReserveConnectorZeroSupported"):
                return ReservationStatus.REJECTED
            return self._answer_station(st, req, replacing)
        connector = st.connectors.get(req.connector_id)
        if connector is None:
            return ReservationStatus.REJECTED
        held = self.on_connector(req.connector_id)
        if connector.status is Status.FAULTED:
            return ReservationStatus.FAULTED
        if not connector.operative or connector.status is Status.UNAVAILABLE:
            return ReservationStatus.UNAVAILABLE
        if held is not None and held is not replacing:
            return ReservationStatus.OCCUPIED
        if held is None and (connector.status is not Status.AVAILABLE or not connector.is_free):
            return ReservationStatus.OCCUPIED
        return ReservationStatus.ACCEPTED

    def _answer_station(
        self, st: SimulatedStation, req: ReserveNowRequest, replacing: SimReservation | None
    ) -> ReservationStatus:
        if st.station_status is Status.UNAVAILABLE:
            return ReservationStatus.UNAVAILABLE
        connectors = list(st.connectors.values())
        if all(c.status is Status.FAULTED for c in connectors):
            return ReservationStatus.FAULTED
        if all(not c.operative for c in connectors):
            return ReservationStatus.UNAVAILABLE
        reserved = [r for r in self.by_id.values() if r.connector_id == 0 and r is not replacing]
        free = [c for c in connectors if c.is_free and self.on_connector(c.connector_id) is None]
        if len(free) <= len(reserved):
            return ReservationStatus.OCCUPIED
        return ReservationStatus.ACCEPTED

    def keep(self, st: SimulatedStation, req: ReserveNowRequest) -> SimReservation:
        """Hold an accepted reservation (replacing one with the same id) until its expiry."""
        old = self.by_id.get(req.reservation_id)
        if old is not None:
            self._drop(old)
        r = SimReservation(
            req.reservation_id, req.connector_id, req.id_tag, req.parent_id_tag, req.expiry_date
        )
        self.by_id[r.reservation_id] = r
        delay = max(0.0, (req.expiry_date - datetime.now(UTC)).total_seconds())
        loop = asyncio.get_running_loop()
        r.timer = loop.call_later(delay, lambda: st.spawn(self._expire(st, r)))
        return r

    async def _expire(self, st: SimulatedStation, r: SimReservation) -> None:
        if self.by_id.get(r.reservation_id) is not r:
            return
        self._drop(r)
        self.expired.append(r.reservation_id)
        await release(st, r)

    def cancel(self, req: CancelReservationRequest) -> SimReservation | None:
        r = self.by_id.get(req.reservation_id)
        if r is not None:
            self._drop(r)
        return r

    def clear(self) -> None:
        """A reboot forgets the reservations (they are not persisted here)."""
        for r in list(self.by_id.values()):
            self._drop(r)


def startable(st: ChargingMixin, connector: Connector, id_tag: str) -> bool:
    """Whether ``id_tag`` may start on ``connector`` now: it is free and no reservation stands
    in the way, or it is Reserved for ``id_tag``'s group."""
    if connector.status is Status.RESERVED:
        return (
            connector.operative
            and connector.transaction is None
            and not connector.remote_start_pending
            and st.reservations.admits(connector.connector_id, id_tag)
        )
    return connector.is_free and not st.reservations.blocks(st, connector, id_tag)


async def reserve(st: SimulatedStation, req: ReserveNowRequest) -> ReservationStatus:
    """The charger's side of ReserveNow: the answer, and the reservation held if Accepted."""
    status = st.reservations.answer(st, req)
    if status is ReservationStatus.ACCEPTED:
        previous = st.reservations.by_id.get(req.reservation_id)
        st.reservations.keep(st, req)
        if previous is not None and previous.connector_id not in (0, req.connector_id):
            await release(st, previous)
    return status


async def mark_reserved(st: SimulatedStation, reservation_id: int) -> None:
    """After the answer is sent: the reserved connector reports Reserved."""
    r = st.reservations.by_id.get(reservation_id)
    if r is None or r.connector_id == 0:
        return
    connector = st.connectors[r.connector_id]
    if connector.status is Status.AVAILABLE:
        await st._set_status(connector, Status.RESERVED)


async def release(st: SimulatedStation, r: SimReservation) -> None:
    """A reservation ended unused: its connector is Available again (§5.13)."""
    if r.connector_id == 0:
        return
    connector = st.connectors[r.connector_id]
    if connector.status is Status.RESERVED:
        await st._set_status(connector, st.resting_status(connector))


async def cancel(st: SimulatedStation, req: CancelReservationRequest) -> CancelReservationStatus:
    r = st.reservations.cancel(req)
    if r is None:
        return CancelReservationStatus.REJECTED
    return CancelReservationStatus.ACCEPTED
