"""Billing rules on the database: which tariff applies, and a session's cost.

A session keeps a snapshot of the tariff it was offered when it was requested (a later edit of
the tariff never changes a running or past bill), and its cost is computed from the charger's
own readings with ``billing.pricing``: live while charging, provisional when we closed it from
our last reading, final once the charger's StopTransaction is in. Implausible data is never
billed: the session is flagged for review with its raw data kept (STYLE.md principle 6).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing.models import Payment, Tariff, TariffAssignment
from kilowatt.billing.pricing import (
    ChargeRecord,
    CostBreakdown,
    ImplausibleData,
    Reading,
    ReservedTime,
    breakdown_to_json,
    charging_end,
    implausibilities,
    price,
)
from kilowatt.billing.tariffs import TariffSpec, parse_tariff
from kilowatt.reservations import repository as reservations
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import Connector, Station
from kilowatt.tokens.models import Token
from kilowatt.transactions.metering import ENERGY_REGISTER
from kilowatt.transactions.models import MeterValueRecord, Transaction

log = logging.getLogger(__name__)


# ---- where a tariff applies ---------------------------------------------------------------------


def scope_key(
    *,
    site_id: int | None = None,
    station_id: int | None = None,
    connector_id: int | None = None,
    token_group: str | None = None,
) -> str:
    """The place an assignment covers, as one comparable key (one tariff per place and group)."""
    if connector_id is not None:
        if station_id is None:
            raise ValueError("a connector is named by its station and its number")
        place = f"connector:{station_id}/{connector_id}"
    elif station_id is not None:
        place = f"station:{station_id}"
    elif site_id is not None:
        place = f"site:{site_id}"
    else:
        place = "tenant"
    return place if token_group is None else f"{place}|{token_group}"


def candidate_keys(station: Station, connector_id: int, token_group: str | None) -> list[str]:
    """Scope keys from the most specific to the least: the place first (connector, station,
    site, tenant), and at each place the token group's own tariff before the general one."""
    places: list[dict[str, Any]] = [
        {"station_id": station.id, "connector_id": connector_id},
        {"station_id": station.id},
    ]
    if station.site_id is not None:
        places.append({"site_id": station.site_id})
    places.append({})
    groups: list[str | None] = [token_group, None] if token_group else [None]
    return [scope_key(**place, token_group=group) for place in places for group in groups]


async def applicable_tariff(
    db: AsyncSession, station: Station, connector_id: int, token: Token | None
) -> Tariff | None:
    """The tariff a session on this connector with this token pays; None: charging is free."""
    keys = candidate_keys(station, connector_id, token.token_group if token else None)
    rows = (
        await db.execute(
            select(TariffAssignment.scope_key, Tariff)
            .join(Tariff, Tariff.id == TariffAssignment.tariff_id)
            .where(
                TariffAssignment.tenant_id == station.tenant_id,
                TariffAssignment.scope_key.in_(keys),
            )
        )
    ).all()
    by_key: dict[str, Tariff] = {key: tariff for key, tariff in rows}  # noqa: C416
    return next((by_key[key] for key in keys if key in by_key), None)


def snapshot(tariff: Tariff) -> dict[str, Any]:
    return {"id": tariff.id, "name": tariff.name, "version": tariff.version, "spec": tariff.spec}


def snapshot_spec(session: ChargingSession) -> TariffSpec | None:
    if session.tariff_snapshot is None:
        return None
    return parse_tariff(session.tariff_snapshot["spec"])


async def offer_tariff(
    db: AsyncSession, session: ChargingSession, station: Station, token: Token | None
) -> None:
    """Fix the tariff a new session pays: the one applicable now, as it is now."""
    tariff = await applicable_tariff(db, station, session.connector_id, token)
    if tariff is None:
        session.cost_status = "none"
        return
    session.tariff_id = tariff.id
    session.tariff_snapshot = snapshot(tariff)
    session.currency = tariff.currency
    session.cost_status = "estimated"


# ---- the cost of a session -----------------------------------------------------------------------


async def readings(db: AsyncSession, tx: Transaction) -> list[Reading]:
    """The transaction's energy register over time: meterStart, every sampled register value,
    meterStop. Sorted by time; exact repeats (the same value at the same instant) once."""
    rows = (
        await db.execute(
            select(MeterValueRecord.timestamp, MeterValueRecord.value)
            .where(
                MeterValueRecord.transaction_id == tx.id,
                MeterValueRecord.measurand == ENERGY_REGISTER,
                MeterValueRecord.phase.is_(None),
                (MeterValueRecord.location.is_(None)) | (MeterValueRecord.location == "Outlet"),
                MeterValueRecord.unit == "Wh",
                MeterValueRecord.value.is_not(None),
            )
            .order_by(MeterValueRecord.timestamp, MeterValueRecord.id)
        )
    ).all()
    points = [Reading(tx.start_timestamp, tx.meter_start)]
    points += [Reading(at, int(value)) for at, value in rows if value is not None]
    if tx.meter_stop is not None and tx.stop_timestamp is not None:
        points.append(Reading(tx.stop_timestamp, tx.meter_stop))
    points.sort(key=lambda r: r.at)  # stable: equal instants keep their order
    unique: list[Reading] = []
    for point in points:
        if not unique or point != unique[-1]:
            unique.append(point)
    return unique


def charge_record(
    start: datetime, end: datetime, points: Sequence[Reading], *, final: bool = True
) -> ChargeRecord:
    return ChargeRecord(
        start=start,
        end=end,
        readings=tuple(points),
        charging_ended_at=charging_end(points, final=final),
    )


async def reserved_time(db: AsyncSession, tx: Transaction) -> ReservedTime | None:
    """The reserved time the transaction used (OCPI RESERVATION): from the charger's acceptance
    of its reservation until the charger's start, at most until the expiry; None: none."""
    reservation = await reservations.used_by(db, tx.id)
    if reservation is None or reservation.answered_at is None:
        return None
    return ReservedTime(reservation.answered_at, min(tx.start_timestamp, reservation.expires_at))


async def max_power_w(db: AsyncSession, station_id: int, connector_id: int, default: int) -> int:
    """What the connector can deliver at most: its configured limit, else the node's default."""
    limit = await db.scalar(
        select(Connector.max_power_w).where(
            Connector.station_id == station_id, Connector.connector_id == connector_id
        )
    )
    return limit or default


async def estimate(
    db: AsyncSession, session: ChargingSession, tx: Transaction, *, now: datetime
) -> CostBreakdown | None:
    """The cost so far of a running session (not stored); None when it cannot be priced."""
    spec = snapshot_spec(session)
    if spec is None or session.started_at is None:
        return None
    points = [r for r in await readings(db, tx) if r.at <= now]
    end = max(now, points[-1].at) if points else now
    record = charge_record(session.started_at, end, points, final=False)
    try:
        return price(spec, record, await reserved_time(db, tx))
    except ImplausibleData:
        return None


async def bill(
    db: AsyncSession,
    session: ChargingSession,
    tx: Transaction | None,
    *,
    final: bool,
    now: datetime,
    default_max_power_w: int,
) -> None:
    """Price a closed session and store the cost: final (the charger's stop is in) or
    provisional (our last reading); implausible data → ``review``, and nothing is billed."""
    spec = snapshot_spec(session)
    if spec is None:
        session.cost_status = "none"
        return
    if tx is None or session.started_at is None or session.ended_at is None:
        return  # never started: nothing was delivered, there is nothing to bill
    points = await readings(db, tx)
    record = charge_record(session.started_at, session.ended_at, points)
    limit = await max_power_w(db, tx.station_id, tx.connector_id, default_max_power_w)
    reasons = implausibilities(record, max_power_w=limit)
    if tx.review_reason:
        reasons = [tx.review_reason, *reasons]
    if reasons:
        _to_review(session, reasons)
        return
    try:
        breakdown = price(spec, record, await reserved_time(db, tx))
    except ImplausibleData as exc:
        _to_review(session, exc.reasons)
        return
    session.cost_breakdown = breakdown_to_json(breakdown)
    session.cost_total = breakdown.total
    session.cost_status = "final" if final else "provisional"
    session.billing_review_reason = None
    session.billed_at = now


def _to_review(session: ChargingSession, reasons: Sequence[str]) -> None:
    log.warning("session %s held for billing review: %s", session.id, "; ".join(reasons))
    session.cost_status = "review"
    session.cost_total = None
    session.cost_breakdown = None
    session.billing_review_reason = "; ".join(reasons)


# ---- closing: the bill and what the payment must do ------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """What billing needs from the node's settings."""

    provider: str = "none"  # the payment provider's name, for payments created at the bill
    max_power_w: int = 400_000  # the plausibility limit of connectors with none of their own


DEFAULT_POLICY = BillingPolicy()


async def close(
    db: AsyncSession,
    session: ChargingSession,
    tx: Transaction | None,
    *,
    final: bool,
    now: datetime,
    policy: BillingPolicy,
) -> None:
    """Bill a session that just ended (or was reconciled) and mark its payment due."""
    if session.state == "completed":
        await bill(db, session, tx, final=final, now=now, default_max_power_w=policy.max_power_w)
    await settle(db, session, now=now, provider=policy.provider)


async def settle(
    db: AsyncSession, session: ChargingSession, *, now: datetime, provider: str
) -> None:
    """Mark what the session's payment must do now that its bill changed. No provider call
    here: the payment worker does it once this is committed (billing.payment_service)."""
    payment = await db.scalar(select(Payment).where(Payment.session_id == session.id))
    if session.cost_status in ("final", "waived"):
        total = session.cost_total or Decimal(0)
        if payment is None:
            if total > 0 and session.currency is not None:
                db.add(
                    Payment(
                        tenant_id=session.tenant_id,
                        session_id=session.id,
                        provider=provider,
                        currency=session.currency,
                        amount_due=total,
                        state="charge_due",
                        next_attempt_at=now,
                    )
                )
            return
        if payment.state in ("held", "review"):
            payment.state = "capture_due" if total > 0 else "release_due"
        elif payment.state == "expired":  # the hold lapsed: charge the card anew
            payment.state = "charge_due" if total > 0 else "released"
        else:
            return  # already settled (a repeated stop never bills twice)
        payment.amount_due = total
        payment.next_attempt_at = now
        payment.updated_at = now
    elif payment is not None and payment.state == "held":
        if session.cost_status == "review":
            payment.state = "review"  # kept held until an operator decides
        elif session.state in ("failed", "cancelled", "expired"):
            payment.state = "release_due"
            payment.next_attempt_at = now
        payment.updated_at = now
