"""Charging sessions: the driver's view of a charge, kept in step with the charger's transaction.

A session is *pending* until the charger's StartTransaction arrives (RemoteStart ``Accepted``
only means the charger will try), *active* while charging, and *completed* when ended — at once
for billing when the driver ends it, even if the charger is offline or refuses, and reconciled
with the charger's own StopTransaction when that arrives (DESIGN.md decision 4).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing import service as billing
from kilowatt.billing.service import BillingPolicy
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import Connector, Station
from kilowatt.tokens.models import Token
from kilowatt.transactions.models import MeterValueRecord, Transaction

log = logging.getLogger(__name__)

OPEN_STATES = ("pending", "active")
FINAL_STATES = ("completed", "failed", "expired", "cancelled")
# Connector statuses (OCPP 1.6 §7.7) in which a new session may start.
STARTABLE_STATUSES = ("Available", "Preparing")

# What the charger's answer means for a driver, in words a driver understands.
START_MESSAGES = {
    "Accepted": "The charger accepted the request. Charging starts as soon as the charger confirms "
    "— plug in your car if you haven't yet.",
    "Rejected": "The charger refused to start. Check that the connector is free and try again.",
    "Timeout": "The charger did not answer in time. Please try again in a moment.",
    "Offline": "The charger is offline right now, so charging could not start.",
}
STOP_MESSAGES = {
    "Accepted": "The charger is stopping. Your session is closed and billed up to now.",
    "Rejected": "The charger did not confirm the stop; your session is closed and billed up to now, "
    "and we will reconcile with the charger's own reading.",
    "Timeout": "The charger did not answer; your session is closed and billed up to now, and we will "
    "reconcile with the charger's own reading when it reports.",
    "Offline": "The charger is offline; your session is closed and billed up to its last reading, "
    "and we will reconcile when the charger reconnects.",
}
UNLOCK_MESSAGES = {
    "Unlocked": "The connector is unlocked; you can take the cable out.",
    "UnlockFailed": "The charger could not unlock the connector. Please try again or call support.",
    "NotSupported": "This connector cannot be unlocked remotely (its cable is fixed).",
    "OngoingAuthorizedTransaction": "A charging session is running on this connector; stop it first.",
    "UnknownConnector": "The charger does not know this connector.",
    "Timeout": "The charger did not answer in time. Please try again.",
    "Offline": "The charger is offline right now.",
}


def start_message(status: str | None) -> str:
    return START_MESSAGES.get(status or "", f"The charger answered {status}.")


class SessionRefused(Exception):
    """A start or stop the API refuses before talking to the charger (4xx)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _append(existing: str | None, text: str) -> str:
    return text if not existing else f"{existing}; {text}"


def _warn(session: ChargingSession, text: str) -> None:
    log.warning("session %s: %s", session.id, text)
    session.warnings = _append(session.warnings, text)


def note(session: ChargingSession, text: str) -> None:
    """Add a warning an operator sees on the session (the transactions service uses it)."""
    _warn(session, text)


# ---- reading ------------------------------------------------------------------------------------


async def get(db: AsyncSession, session_id: int) -> ChargingSession | None:
    return await db.get(ChargingSession, session_id)


def locked(query: Select[ChargingSession]) -> Select[ChargingSession]:
    """``query`` taking the rows' write locks (PostgreSQL; SQLite has one writer anyway), with
    the latest committed values: the API closing a session and the charger's StopTransaction
    may meet, and the second must see what the first wrote, not overwrite it."""
    return query.with_for_update().execution_options(populate_existing=True)


async def get_locked(db: AsyncSession, session_id: int) -> ChargingSession | None:
    return await db.scalar(locked(select(ChargingSession).where(ChargingSession.id == session_id)))


async def open_session_on(
    db: AsyncSession, station_id: int, connector_id: int
) -> ChargingSession | None:
    return await db.scalar(
        select(ChargingSession).where(
            ChargingSession.station_id == station_id,
            ChargingSession.connector_id == connector_id,
            ChargingSession.state.in_(OPEN_STATES),
        )
    )


def listing(
    *,
    tenant_id: int | None,
    user_id: int | None,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    station_id: int | None = None,
) -> Select[ChargingSession]:
    """The sessions a caller may see (a driver: own; an operator: the tenant), newest first."""
    query = select(ChargingSession)
    if tenant_id is not None:
        query = query.where(ChargingSession.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(ChargingSession.user_id == user_id)
    if state is not None:
        query = query.where(ChargingSession.state == state)
    if since is not None:
        query = query.where(ChargingSession.requested_at >= since)
    if until is not None:
        query = query.where(ChargingSession.requested_at < until)
    if station_id is not None:
        query = query.where(ChargingSession.station_id == station_id)
    return query.order_by(ChargingSession.requested_at.desc(), ChargingSession.id.desc())


async def page(
    db: AsyncSession, query: Select[ChargingSession], *, limit: int, offset: int
) -> tuple[Sequence[ChargingSession], int]:
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await db.scalars(query.limit(limit).offset(offset))).all()
    return rows, total


@dataclass(frozen=True, slots=True)
class LiveValues:
    """What the charger last reported for a running session."""

    energy_wh: int | None
    power_w: int | None
    soc_percent: float | None
    at: datetime | None


async def live_values(db: AsyncSession, session: ChargingSession) -> LiveValues:
    if session.transaction_id is None:
        return LiveValues(session.energy_wh, None, None, None)
    tx = await db.get(Transaction, session.transaction_id)
    if tx is None:
        return LiveValues(session.energy_wh, None, None, None)

    async def latest(measurand: str) -> MeterValueRecord | None:
        return await db.scalar(
            select(MeterValueRecord)
            .where(
                MeterValueRecord.transaction_id == tx.id,
                MeterValueRecord.measurand == measurand,
                MeterValueRecord.phase.is_(None),
                MeterValueRecord.value.is_not(None),
            )
            .order_by(MeterValueRecord.timestamp.desc(), MeterValueRecord.id.desc())
            .limit(1)
        )

    power = await latest("Power.Active.Import")
    soc = await latest("SoC")
    energy = session.energy_wh if session.state != "active" else tx.energy_wh
    return LiveValues(
        energy_wh=energy,
        power_w=int(power.value) if power is not None and power.value is not None else None,
        soc_percent=float(soc.value) if soc is not None and soc.value is not None else None,
        at=tx.last_meter_at,
    )


# ---- starting -----------------------------------------------------------------------------------


async def prepare_start(
    db: AsyncSession,
    *,
    station: Station,
    connector: Connector,
    token: Token,
    user_id: int | None,
    origin: str,
    online: bool,
    now: datetime,
    reserved_for_token: bool = False,
) -> ChargingSession:
    """Check that a session may start here and record it as pending; the caller commits.

    The connector's status is only trusted while its station is online: an offline station's
    last status is stale, and the attempt then fails as Offline (recorded, for the metrics).
    A connector Reserved for ``token`` (``reserved_for_token``) may start.
    """
    if online and connector.status in ("Faulted", "Unavailable"):
        raise SessionRefused(409, "Connector not available", f"the connector is {connector.status}")
    startable = STARTABLE_STATUSES + (("Reserved",) if reserved_for_token else ())
    if online and connector.status not in startable:
        raise SessionRefused(409, "Connector busy", f"the connector is {connector.status}")
    if await open_session_on(db, station.id, connector.connector_id) is not None:
        raise SessionRefused(
            409, "Connector busy", "another session is starting or running on this connector"
        )
    session = ChargingSession(
        tenant_id=station.tenant_id,
        user_id=user_id,
        token_id=token.id,
        id_tag=token.id_tag,
        station_id=station.id,
        connector_id=connector.connector_id,
        origin=origin,
        state="pending",
        requested_at=now,
    )
    db.add(session)
    await db.flush()
    await billing.offer_tariff(db, session, station, token)
    return session


def record_start_outcome(
    session: ChargingSession, status: str, command_id: str | None, description: str | None
) -> None:
    """Apply the charger's answer to RemoteStartTransaction (the caller commits)."""
    session.start_status = status
    session.start_command_id = command_id
    if session.state != "pending":
        return  # the StartTransaction already arrived (active), or the session ended meanwhile
    if status != "Accepted":
        session.state = "failed"
        session.failure_reason = description or start_message(status)


async def on_transaction_started(
    db: AsyncSession,
    tx: Transaction,
    *,
    tenant_id: int,
    window: timedelta,
    now: datetime,
    policy: BillingPolicy,
) -> ChargingSession | None:
    """Link a new transaction to its session: the pending one it answers, or a new one for a card.

    A remote start whose answer we gave up waiting for (Timeout) is revived when the charger
    does start it: the driver is charging, and must see and pay for it.
    """
    session = await db.scalar(
        locked(select(ChargingSession))
        .where(
            ChargingSession.station_id == tx.station_id,
            ChargingSession.connector_id == tx.connector_id,
            ChargingSession.id_tag == tx.id_tag,
            ChargingSession.transaction_id.is_(None),
            ChargingSession.requested_at >= now - window,
            (ChargingSession.state == "pending")
            | ((ChargingSession.state == "failed") & (ChargingSession.start_status == "Timeout")),
        )
        .order_by(ChargingSession.requested_at.desc())
        .limit(1)
    )
    if session is None:
        if tx.start_auth_status != "Accepted" or tx.token_id is None:
            return None
        token = await db.get(Token, tx.token_id)
        owner = getattr(token, "user_id", None) if token is not None else None
        if owner is None:
            return None  # a card nobody owns: a transaction, but no driver's session
        await _supersede_open_sessions(db, tx, keep=None, now=now, policy=policy)
        session = ChargingSession(
            tenant_id=tenant_id,
            user_id=owner,
            token_id=tx.token_id,
            id_tag=tx.id_tag,
            station_id=tx.station_id,
            connector_id=tx.connector_id,
            origin="rfid",
            state="active",
            requested_at=tx.start_timestamp,
        )
        db.add(session)
        await db.flush()
        station = await db.get(Station, tx.station_id)
        assert station is not None
        await billing.offer_tariff(db, session, station, token)
    elif session.state == "failed":
        _warn(session, "the charger started after we had reported a timeout")
        session.failure_reason = None
        await _supersede_open_sessions(db, tx, keep=session, now=now, policy=policy)
    else:
        await _supersede_open_sessions(db, tx, keep=session, now=now, policy=policy)
    if tx.start_auth_status != "Accepted":
        session.state = "failed"
        session.failure_reason = f"the charger's start was not authorized ({tx.start_auth_status})"
        session.transaction_id = tx.id
        return session
    session.state = "active"
    session.transaction_id = tx.id
    session.started_at = tx.start_timestamp
    session.meter_start_wh = tx.meter_start
    await db.flush()
    return session


async def _supersede_open_sessions(
    db: AsyncSession,
    tx: Transaction,
    *,
    keep: ChargingSession | None,
    now: datetime,
    policy: BillingPolicy,
) -> None:
    """The charger started a transaction on this connector: any other open session there is over.

    (A pending app start another card beat at the charger, or an active session whose
    StopTransaction never came.) Never refuse the charger's StartTransaction over it.
    """
    others = (
        await db.scalars(
            locked(select(ChargingSession)).where(
                ChargingSession.station_id == tx.station_id,
                ChargingSession.connector_id == tx.connector_id,
                ChargingSession.state.in_(OPEN_STATES),
            )
        )
    ).all()
    for other in others:
        if other is keep:
            continue
        if other.state == "pending":
            other.state = "failed"
            other.failure_reason = (
                "the charger started another card's transaction on this connector"
            )
        else:
            other.state = "completed"
            other.ended_at = other.ended_at or tx.start_timestamp
            _warn(
                other,
                f"superseded by transaction {tx.id} on the same connector; no stop was received",
            )
        previous = await db.get(Transaction, other.transaction_id) if other.transaction_id else None
        await billing.close(db, other, previous, final=False, now=now, policy=policy)
    await db.flush()


# ---- ending ------------------------------------------------------------------------------------


def close_for_billing(
    session: ChargingSession, tx: Transaction | None, *, stop_status: str, now: datetime
) -> None:
    """End the session now, with the best energy we know; reconciled if the charger already stopped."""
    session.stop_status = stop_status
    session.end_requested_at = session.end_requested_at or now
    if session.state == "pending":
        session.state = "cancelled"
        session.ended_at = now
        return
    session.state = "completed"
    if tx is not None and tx.stop_received_at is not None:
        _take_charger_stop(session, tx)
        return
    session.ended_at = now
    if tx is not None:
        session.meter_stop_wh = tx.last_meter_wh
        session.energy_wh = tx.energy_wh
    if stop_status != "Accepted":
        _warn(
            session,
            f"the charger answered the stop with {stop_status}; billed from its last reading",
        )


def _take_charger_stop(session: ChargingSession, tx: Transaction) -> None:
    session.meter_stop_wh = tx.meter_stop
    session.energy_wh = tx.energy_wh
    session.ended_at = tx.stop_timestamp
    session.reconciled = True


async def on_transaction_stopped(
    db: AsyncSession, tx: Transaction, *, now: datetime, policy: BillingPolicy
) -> ChargingSession | None:
    """The charger's StopTransaction: complete the session, or reconcile one already closed;
    either way the bill is final now, from the charger's own readings."""
    session = await db.scalar(
        locked(select(ChargingSession).where(ChargingSession.transaction_id == tx.id))
    )
    if session is None:
        return None
    if session.state == "completed" and not session.reconciled:
        estimated = session.energy_wh
        _take_charger_stop(session, tx)
        if estimated != session.energy_wh:
            _warn(
                session,
                f"reconciled with the charger's reading: {estimated} Wh → {session.energy_wh} Wh",
            )
    elif session.state in OPEN_STATES:
        session.state = "completed"
        _take_charger_stop(session, tx)
    else:
        return session
    await billing.close(db, session, tx, final=True, now=now, policy=policy)
    return session


async def expire_pending(
    db: AsyncSession, *, older_than: datetime, now: datetime, policy: BillingPolicy
) -> int:
    """Accepted starts whose StartTransaction never came are expired; how many."""
    stale = (
        await db.scalars(
            locked(select(ChargingSession)).where(
                ChargingSession.state == "pending",
                ChargingSession.start_status == "Accepted",
                ChargingSession.requested_at < older_than,
            )
        )
    ).all()
    for session in stale:
        session.state = "expired"
        session.failure_reason = "the charger accepted the start but never began charging"
        await billing.settle(db, session, now=now, provider=policy.provider)
    return len(stale)


CONNECTION_TIMED_OUT = (
    "no cable was plugged in: the charger's ConnectionTimeOut passed and it cancelled the start"
)


async def on_connection_timeout(
    db: AsyncSession, *, station_id: int, connector_id: int, now: datetime, policy: BillingPolicy
) -> list[ChargingSession]:
    """The connector went from Preparing back to Available with no StartTransaction: the
    charger cancelled the incipient transaction after its ConnectionTimeOut (OCPP 1.6 §4.9
    transition B1, §9.1.6; OCTT TC_011_2). The accepted remote start waiting there is expired at once, not after our
    own connection timeout, so the connector is free and the driver is told. The caller commits.
    """
    waiting = (
        await db.scalars(
            locked(select(ChargingSession)).where(
                ChargingSession.station_id == station_id,
                ChargingSession.connector_id == connector_id,
                ChargingSession.state == "pending",
                ChargingSession.start_status == "Accepted",
                ChargingSession.transaction_id.is_(None),
            )
        )
    ).all()
    for session in waiting:
        session.state = "expired"
        session.failure_reason = CONNECTION_TIMED_OUT
        await billing.settle(db, session, now=now, provider=policy.provider)
    return list(waiting)


async def finalise_provisional(
    db: AsyncSession, *, older_than: datetime, now: datetime, policy: BillingPolicy
) -> int:
    """Bills closed from our last reading whose charger never sent its own stop become final
    (from that reading); how many."""
    stale = (
        await db.scalars(
            locked(select(ChargingSession)).where(
                ChargingSession.cost_status == "provisional",
                ChargingSession.ended_at < older_than,
            )
        )
    ).all()
    for session in stale:
        _warn(session, "the charger never sent its stop; billed final from its last reading")
        tx = await db.get(Transaction, session.transaction_id) if session.transaction_id else None
        await billing.close(db, session, tx, final=True, now=now, policy=policy)
    return len(stale)
