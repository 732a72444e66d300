"""The rules of reservations (OCPP 1.6 §3.11, §5.1, §5.13); DB only, never commits.

The charger is the authority on a reservation: it answers ReserveNow, expires it at
``expiryDate`` itself, and ends it when the reserved token starts (StartTransaction carries the
``reservationId``). Kilowatt keeps the record in step with what the charger says and does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.reservations import fees, repository
from kilowatt.reservations.models import Reservation
from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction

log = logging.getLogger(__name__)

# ReserveNow.conf statuses (OCPP 1.6 §7.40) and the state each leaves the reservation in.
RESERVE_ANSWERS = {
    "Accepted": "accepted",
    "Faulted": "faulted",
    "Occupied": "occupied",
    "Rejected": "rejected",
    "Unavailable": "unavailable",
}
# What each outcome means for a driver.
RESERVE_MESSAGES = {
    "accepted": "The connector is reserved for you until {until}.",
    "faulted": "The charger reports a fault on this connector, so it cannot be reserved.",
    "occupied": "The connector is in use or already reserved.",
    "rejected": "This charger does not take reservations.",
    "unavailable": "The connector is out of service right now.",
}
# A StatusNotification Available this close to the expiry means the charger expired it.
EXPIRY_SKEW = timedelta(seconds=60)


def admits(reservation: Reservation, id_tag: str, parent_id_tag: str | None) -> bool:
    """Whether a token may use the reservation: its idTag or parent idTag matches the
    reservation's idTag or parent idTag (OCPP 1.6 §5.13)."""
    ours = {id_tag, parent_id_tag} - {None}
    theirs = {reservation.id_tag, reservation.parent_id_tag} - {None}
    return bool(ours & theirs)


def admits_token(reservation: Reservation, token: Token) -> bool:
    return admits(reservation, token.id_tag, token.parent_id_tag)


def until_text(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


def message(reservation: Reservation) -> str:
    if reservation.state in RESERVE_MESSAGES:
        return RESERVE_MESSAGES[reservation.state].format(until=until_text(reservation.expires_at))
    return reservation.reason or f"The reservation is {reservation.state.replace('_', ' ')}."


async def blocking(
    db: AsyncSession, station_id: int, connector_id: int, now: datetime
) -> Reservation | None:
    """The active reservation that holds this very connector, if any.

    A station-wide reservation (connector 0) holds no particular connector: the charger keeps
    one free for it and refuses the others itself (§5.13).
    """
    found = await repository.active_on(db, station_id, connector_id, now)
    return found[0] if found else None


def record_reserve_outcome(
    reservation: Reservation,
    word: str,
    command_id: str | None,
    description: str | None,
    now: datetime,
) -> None:
    """Apply the charger's answer to ReserveNow (``word``: a ReservationStatus, or Timeout /
    Offline / a CALLERROR code from the command record)."""
    reservation.reserve_command_id = command_id
    reservation.answered_at = now
    if reservation.state != "requested":
        return  # already used (the StartTransaction came first) or ended meanwhile
    state = RESERVE_ANSWERS.get(word)
    if state is None:
        reason = f"ReserveNow: {word}" + (f" ({description})" if description else "")
        _end(reservation, "failed", reason, now)
    elif state != "accepted":
        _end(reservation, state, f"the charger answered {word}", now)
    else:
        reservation.state = state


def record_cancel_outcome(
    reservation: Reservation, word: str, command_id: str | None, now: datetime
) -> bool:
    """Apply the charger's answer to CancelReservation; whether the reservation ended.

    Rejected means the charger holds no such reservation (OCPP 1.6 §5.1): it is over there,
    used or expired, so it is over here too.
    """
    reservation.cancel_command_id = command_id
    if reservation.state not in repository.ACTIVE_STATES:
        return True
    if word == "Accepted":
        _end(reservation, "cancelled", None, now)
    elif word == "Rejected":
        reason = "the charger holds no such reservation (already used or expired)"
        _end(reservation, "cancel_rejected", reason, now)
    else:
        return False
    return True


async def on_transaction_started(
    db: AsyncSession, tx: Transaction, *, tenant_id: int, parent_id_tag: str | None, now: datetime
) -> Reservation | None:
    """A StartTransaction: the reservation it ends (by its ``reservationId``, OCPP 1.6 §5.13) is
    used; without one, a start of the reserving group on the reserved connector uses it too.

    A start by another token on a connector reserved for someone else is not refused (the
    charger already started; it refuses such tokens itself while it holds the reservation):
    the transaction is flagged for review.
    """
    if tx.reservation_id is not None:
        reservation = await repository.get_locked(db, tx.reservation_id)
        if reservation is None or reservation.station_id != tx.station_id:
            _flag(tx, f"reservationId {tx.reservation_id} is not a reservation of this station")
            return None
        if reservation.state == "used" and reservation.transaction_id == tx.id:
            return reservation
        if reservation.state == "used":
            _flag(tx, f"reservation {reservation.id} was already used")
            return reservation
        if not admits(reservation, tx.id_tag, parent_id_tag):
            _flag(tx, f"reservation {reservation.id} is for another idTag")
        _use(reservation, tx, now)
        return reservation
    held = await repository.active_at_station(db, tx.station_id, (tx.connector_id, 0))
    for reservation in held:
        if reservation.expires_at <= tx.start_timestamp:
            continue
        if admits(reservation, tx.id_tag, parent_id_tag):
            _use(reservation, tx, now)
            return reservation
    for reservation in held:
        if reservation.connector_id == tx.connector_id and reservation.expires_at > now:
            _flag(
                tx,
                f"started by {tx.id_tag} on a connector reserved for another token "
                f"(reservation {reservation.id})",
            )
    return None


def _use(reservation: Reservation, tx: Transaction, now: datetime) -> None:
    reservation.transaction_id = tx.id
    _end(reservation, "used", None, now)


def _end(reservation: Reservation, state: str, reason: str | None, now: datetime) -> None:
    """Every final state is reached here, so the fee is settled on every path."""
    reservation.state = state
    reservation.reason = reason
    reservation.ended_at = now
    fees.settle(reservation, now)


def _flag(tx: Transaction, reason: str) -> None:
    log.warning("transaction %s flagged for review: %s", tx.id, reason)
    tx.review_reason = reason if not tx.review_reason else f"{tx.review_reason}; {reason}"


async def on_connector_status(
    db: AsyncSession, station_id: int, connector_id: int, status: str, now: datetime
) -> list[Reservation]:
    """A StatusNotification: Faulted/Unavailable ends the reservations there (§5.13 (3));
    Available after the expiry time means the charger expired it (§5.13: it reports Available)."""
    if status in ("Faulted", "Unavailable"):
        # The station as a whole going down ends all its reservations; one connector only its own.
        scope = None if connector_id == 0 else (connector_id,)
        ended = list(await repository.active_at_station(db, station_id, scope))
        for reservation in ended:
            _end(reservation, "terminated", f"the connector became {status}", now)
        return ended
    if status == "Available" and connector_id != 0:
        ended = [
            r
            for r in await repository.active_at_station(db, station_id, (connector_id,))
            if r.state == "accepted" and r.expires_at <= now + EXPIRY_SKEW
        ]
        for reservation in ended:
            _expire(reservation, now)
        return ended
    return []


def _expire(reservation: Reservation, now: datetime) -> None:
    _end(reservation, "expired", "not used before it expired", now)


async def expire_due(db: AsyncSession, now: datetime) -> int:
    """Mark the active reservations past their expiry expired; how many (the caller commits).
    The charger expires them itself at ``expiryDate`` (§5.13)."""
    due = await repository.due(db, now)
    for reservation in due:
        _expire(reservation, now)
    return len(due)
