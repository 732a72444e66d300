"""How costs, prices and payments read in the API: money as decimal strings, never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing import service as billing
from kilowatt.billing.models import Payment, Tariff
from kilowatt.billing.money import exponent
from kilowatt.billing.pricing import (
    CostBreakdown,
    CostLine,
    applicable_prices,
    breakdown_from_json,
)
from kilowatt.billing.tariffs import ComponentType, ReservationRestriction, TariffSpec, parse_tariff
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import Transaction

_LINE_NAMES = {
    ComponentType.ENERGY: "Energy",
    ComponentType.TIME: "Charging time",
    ComponentType.PARKING_TIME: "Idle time",
    ComponentType.FLAT: "Session fee",
}
_RESERVATION_LINE_NAMES = {
    (ReservationRestriction.RESERVATION, ComponentType.FLAT): "Reservation fee",
    (ReservationRestriction.RESERVATION, ComponentType.TIME): "Reserved time",
    (ReservationRestriction.RESERVATION_EXPIRES, ComponentType.FLAT): "Unused reservation fee",
    (ReservationRestriction.RESERVATION_EXPIRES, ComponentType.TIME): "Reserved time (unused)",
}


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def amount(value: Decimal | None, currency: str) -> str | None:
    """A stored amount (the database keeps 6 decimals) in the currency's minor unit."""
    if value is None:
        return None
    return str(value.quantize(Decimal(1).scaleb(-exponent(currency))))


def breakdown_view(b: CostBreakdown) -> dict[str, Any]:
    return {
        "currency": b.currency,
        "total": money(b.total),
        "subtotal": money(b.subtotal),
        "tax": money(b.tax),
        "vatPercent": money(b.vat_percent),
        "energy": money(b.energy),
        "time": money(b.time),
        "idle": money(b.parking),
        "fee": money(b.flat),
        "energyWh": b.energy_wh,
        "chargingSeconds": b.charging_seconds,
        "idleSeconds": b.parking_seconds,
        "reservation": money(b.reservation),
        "reservationSeconds": b.reservation_seconds,
        "lines": [line_view(line) for line in b.lines],
    }


def line_view(line: CostLine) -> dict[str, Any]:
    """One itemised line; `reservation` names the kind of reservation element that priced it
    (None: a charging line)."""
    description = (
        _LINE_NAMES[line.type]
        if line.reservation is None
        else _RESERVATION_LINE_NAMES[(line.reservation, line.type)]
    )
    return {
        "type": line.type.value,
        "description": description,
        "reservation": None if line.reservation is None else line.reservation.value,
        "tariffElement": line.element,
        "quantity": money(line.quantity),
        "unit": line.unit,
        "unitPrice": money(line.unit_price),
        "amount": money(line.amount),
    }


def payment_view(payment: Payment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    return {
        "provider": payment.provider,
        "state": payment.state.removesuffix(":claimed"),
        "currency": payment.currency,
        "held": amount(payment.hold_amount, payment.currency),
        "amountDue": amount(payment.amount_due, payment.currency),
        "captured": amount(payment.captured_amount, payment.currency),
        "refunded": amount(payment.refunded_amount, payment.currency),
        "balanceDue": amount(payment.balance_due, payment.currency),
        "lastError": payment.last_error,
    }


async def cost_view(
    db: AsyncSession, session: ChargingSession, tx: Transaction | None, *, now: datetime
) -> dict[str, Any]:
    """The session's cost: live while it runs (estimated), else as billed."""
    breakdown: CostBreakdown | None = None
    if session.cost_breakdown is not None:
        breakdown = breakdown_from_json(session.cost_breakdown)
    elif session.state == "active" and tx is not None:
        breakdown = await billing.estimate(db, session, tx, now=now)
    payment = await db.scalar(select(Payment).where(Payment.session_id == session.id))
    tariff = session.tariff_snapshot
    return {
        "status": session.cost_status,
        "currency": session.currency,
        "total": money(breakdown.total) if breakdown else None,
        "breakdown": breakdown_view(breakdown) if breakdown else None,
        "tariff": None
        if tariff is None
        else {"id": tariff["id"], "name": tariff["name"], "version": tariff["version"]},
        "reviewReason": session.billing_review_reason,
        "billedAt": None if session.billed_at is None else session.billed_at.isoformat(),
        "payment": payment_view(payment),
    }


def price_view(tariff: Tariff | None, *, at: datetime) -> dict[str, Any] | None:
    """The price a driver sees before starting (EU AFIR: per kWh, then per minute, then per
    session), VAT included, for a session starting at ``at``; None when charging is free."""
    if tariff is None:
        return None
    spec = parse_tariff(tariff.spec)
    return plain_price(spec, at=at) | {"tariffId": tariff.id, "tariffName": tariff.name}


def plain_price(spec: TariffSpec, *, at: datetime) -> dict[str, Any]:
    plain = applicable_prices(spec, at)
    parts = []
    if plain.per_kwh is not None:
        parts.append(f"{plain.per_kwh} {plain.currency}/kWh")
    if plain.per_minute is not None:
        parts.append(f"{plain.per_minute} {plain.currency}/min")
    if plain.per_session is not None:
        parts.append(f"{plain.per_session} {plain.currency} per session")
    if plain.parking_per_minute is not None:
        grace = f" after {plain.idle_grace_minutes} min" if plain.idle_grace_minutes else ""
        parts.append(f"idle {plain.parking_per_minute} {plain.currency}/min{grace}")
    return {
        "currency": plain.currency,
        "perKwh": money(plain.per_kwh),
        "perMinute": money(plain.per_minute),
        "perSession": money(plain.per_session),
        "idlePerMinute": money(plain.parking_per_minute),
        "idleGraceMinutes": plain.idle_grace_minutes,
        "vatIncluded": True,
        "vatPercent": money(plain.vat_percent),
        "text": " + ".join(parts) if parts else "free",
        "validAt": at.isoformat(),
    }
