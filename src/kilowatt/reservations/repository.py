"""Every query of the reservations domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.reservations.models import Reservation
from kilowatt.sessions.models import ChargingSession

# The charger holds it (or we are asking it to): it blocks the connector for others.
ACTIVE_STATES = ("requested", "accepted")
FINAL_STATES = (
    "faulted",
    "occupied",
    "rejected",
    "unavailable",
    "failed",
    "used",
    "expired",
    "cancelled",
    "cancel_rejected",
    "terminated",
)


def _locked(query: Select[Reservation]) -> Select[Reservation]:
    """Take the rows' write locks (PostgreSQL) and read the latest committed values: the
    expiry task, a cancel and the charger's StartTransaction may meet on one row."""
    return query.with_for_update().execution_options(populate_existing=True)


async def get(db: AsyncSession, reservation_id: int) -> Reservation | None:
    return await db.get(Reservation, reservation_id)


async def used_by(db: AsyncSession, transaction_id: int) -> Reservation | None:
    """The reservation a transaction used (state ``used``), if any."""
    return await db.scalar(
        select(Reservation).where(
            Reservation.transaction_id == transaction_id, Reservation.state == "used"
        )
    )


async def session_of(db: AsyncSession, transaction_id: int) -> ChargingSession | None:
    """The driver's session of the transaction that used a reservation (a card nobody owns
    has none)."""
    return await db.scalar(
        select(ChargingSession).where(ChargingSession.transaction_id == transaction_id)
    )


async def get_locked(db: AsyncSession, reservation_id: int) -> Reservation | None:
    return await db.scalar(_locked(select(Reservation).where(Reservation.id == reservation_id)))


async def active_on(
    db: AsyncSession, station_id: int, connector_id: int, now: datetime
) -> Sequence[Reservation]:
    """Unexpired active reservations of exactly this connector (0: of the station as a whole)."""
    return (
        await db.scalars(
            _locked(select(Reservation)).where(
                Reservation.station_id == station_id,
                Reservation.connector_id == connector_id,
                Reservation.state.in_(ACTIVE_STATES),
                Reservation.expires_at > now,
            )
        )
    ).all()


async def active_at_station(
    db: AsyncSession, station_id: int, connector_ids: Sequence[int] | None = None
) -> Sequence[Reservation]:
    """Active reservations of a station (of ``connector_ids`` only, if given), oldest first."""
    query = select(Reservation).where(
        Reservation.station_id == station_id, Reservation.state.in_(ACTIVE_STATES)
    )
    if connector_ids is not None:
        query = query.where(Reservation.connector_id.in_(connector_ids))
    return (await db.scalars(_locked(query).order_by(Reservation.id))).all()


async def due(db: AsyncSession, now: datetime) -> Sequence[Reservation]:
    """Active reservations whose expiry has passed."""
    return (
        await db.scalars(
            _locked(select(Reservation)).where(
                Reservation.state.in_(ACTIVE_STATES), Reservation.expires_at <= now
            )
        )
    ).all()


def listing(
    *,
    tenant_id: int | None,
    user_id: int | None,
    state: str | None = None,
    active: bool | None = None,
    station_id: int | None = None,
    id_tag: str | None = None,
) -> Select[Reservation]:
    """The reservations a caller may see (a driver: own; an operator: the tenant), newest first."""
    query = select(Reservation)
    if tenant_id is not None:
        query = query.where(Reservation.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(Reservation.user_id == user_id)
    if state is not None:
        query = query.where(Reservation.state == state)
    if active is True:
        query = query.where(Reservation.state.in_(ACTIVE_STATES))
    elif active is False:
        query = query.where(or_(Reservation.state.not_in(ACTIVE_STATES)))
    if station_id is not None:
        query = query.where(Reservation.station_id == station_id)
    if id_tag is not None:
        query = query.where(Reservation.id_tag == id_tag)
    return query.order_by(Reservation.created_at.desc(), Reservation.id.desc())


async def page(
    db: AsyncSession, query: Select[Reservation], *, limit: int, offset: int
) -> tuple[Sequence[Reservation], int]:
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await db.scalars(query.limit(limit).offset(offset))).all()
    return rows, total


# ---- the payment of an expired reservation's fee ----------------------------------------------


async def fee_payments_due(db: AsyncSession, now: datetime, stale_before: datetime) -> list[int]:
    """Reservations whose fee is due to be charged now; a claim a stopped node left behind
    (claimed before ``stale_before``) is due again first."""
    await db.execute(
        update(Reservation)
        .where(
            Reservation.payment_state == "charge_due:claimed",
            Reservation.payment_next_at < stale_before,
        )
        .values(payment_state="charge_due")
    )
    rows = await db.scalars(
        select(Reservation.id)
        .where(
            Reservation.payment_state == "charge_due",
            Reservation.payment_next_at.is_(None) | (Reservation.payment_next_at <= now),
        )
        .order_by(Reservation.id)
        .limit(100)
    )
    return list(rows.all())


async def claim_fee_payment(db: AsyncSession, reservation_id: int, now: datetime) -> bool:
    """Take a due fee payment for this worker; False when another node took it first."""
    claimed = await db.execute(
        update(Reservation)
        .where(Reservation.id == reservation_id, Reservation.payment_state == "charge_due")
        .values(payment_state="charge_due:claimed", payment_next_at=now)
        .execution_options(synchronize_session=False)
    )
    count: int = claimed.rowcount  # type: ignore[attr-defined]
    return count == 1


async def next_fee_attempt(db: AsyncSession) -> datetime | None:
    """When the next retry of a fee payment falls due (those due at once have no time)."""
    return await db.scalar(
        select(func.min(Reservation.payment_next_at)).where(
            Reservation.payment_state == "charge_due"
        )
    )
