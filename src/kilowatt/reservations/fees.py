"""The reservation fee (OCPI 2.2.1 ``TariffRestrictions.reservation``); DB only, never commits.

A reservation is offered the tariff a session on its connector with its card would pay (the
same lookup, ``billing.service.applicable_tariff``) and keeps a snapshot of it. When it ends:

* used — the reserved time is priced on the session's own bill (``billing.service.bill``, by
  the session's tariff, RESERVATION elements), so the reservation only points there;
* expired unused — it gets its own bill here (RESERVATION_EXPIRES elements first, then
  RESERVATION ones, from the charger's acceptance until the expiry), and the payment worker
  charges it (``billing.reservation_payments``);
* cancelled, refused, failed, terminated — nothing to pay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing import service as billing
from kilowatt.billing.pricing import ReservedTime, breakdown_to_json, price_reservation
from kilowatt.billing.tariffs import TariffSpec, parse_tariff
from kilowatt.reservations.models import Reservation
from kilowatt.stations.models import Station
from kilowatt.tokens.models import Token


def prices_reservations(spec: TariffSpec) -> bool:
    return any(element.reservation is not None for element in spec.elements)


def tariff_spec(reservation: Reservation) -> TariffSpec | None:
    if reservation.tariff_snapshot is None:
        return None
    return parse_tariff(reservation.tariff_snapshot["spec"])


async def offer_tariff(
    db: AsyncSession, reservation: Reservation, station: Station, token: Token
) -> None:
    """Fix the tariff a new reservation pays: the one a session there would pay now."""
    tariff = await billing.applicable_tariff(db, station, reservation.connector_id, token)
    if tariff is None:
        reservation.cost_status = "none"
        return
    reservation.tariff_id = tariff.id
    reservation.tariff_snapshot = billing.snapshot(tariff)
    reservation.currency = tariff.currency
    spec = tariff_spec(reservation)
    reservation.cost_status = "pending" if spec and prices_reservations(spec) else "none"


def settle(reservation: Reservation, now: datetime) -> None:
    """Decide the fee of a reservation that just reached a final state."""
    if reservation.state == "used":
        reservation.cost_status = "session"  # whatever it costs is on the session's bill
    elif reservation.state == "expired" and reservation.cost_status == "pending":
        _bill_expired(reservation, now)
    elif reservation.cost_status == "pending":
        # Cancelled before the expiry, refused by the charger, or the connector went down:
        # the driver gave the place back or never had it, so nothing is charged.
        reservation.cost_status = "none"


def _bill_expired(reservation: Reservation, now: datetime) -> None:
    spec = tariff_spec(reservation)
    if spec is None or reservation.answered_at is None:
        reservation.cost_status = "none"  # the charger never confirmed holding it
        return
    held = ReservedTime(reservation.answered_at, reservation.expires_at, expired=True)
    bill = price_reservation(spec, held)
    reservation.cost_breakdown = breakdown_to_json(bill)
    reservation.cost_total = bill.total
    reservation.cost_status = "final"
    reservation.billed_at = now
    if bill.total > 0:
        # Due at once (no next attempt time): the payment worker charges it on its next pass.
        reservation.payment_state = "charge_due"
        reservation.payment_next_at = None
