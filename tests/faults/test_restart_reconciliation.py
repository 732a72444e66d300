"""Sessions a killed node left half-way are resolved when it starts again (DESIGN.md decision 4,
docs/durability.md): a start whose RemoteStartTransaction answer never got recorded, and a stop
whose RemoteStopTransaction answer never got recorded. The database holds exactly what a
``kill -9`` at those moments leaves (sessions.controller records before and after the call)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from journal.raw_station import RawStation, eventually, now_iso
from kilowatt.sessions.models import ChargingSession
from kilowatt.transactions.models import Transaction

from factories import make_station, make_tenant, make_token
from support.server import RunningServer, running_server


async def _left_by_a_kill(db: AsyncSession) -> tuple[int, int, int]:
    """A pending start with no answer (connector 1) and an active session whose end was
    requested (connector 2): (station id, pending session id, stopping session id)."""
    now = datetime.now(UTC)
    tenant = await make_tenant(db)
    station = await make_station(db, tenant, charge_point_id="REC1")
    starting_token = await make_token(db, tenant, "RECSTART")
    stopping_token = await make_token(db, tenant, "RECSTOP")
    pending = ChargingSession(
        tenant_id=tenant.id,
        token_id=starting_token.id,
        id_tag="RECSTART",
        station_id=station.id,
        connector_id=1,
        origin="app",
        state="pending",
        requested_at=now - timedelta(seconds=2),
    )
    tx = Transaction(
        station_id=station.id,
        connector_id=2,
        id_tag="RECSTOP",
        token_id=stopping_token.id,
        start_auth_status="Accepted",
        meter_start=1000,
        start_timestamp=now - timedelta(minutes=30),
        start_received_at=now - timedelta(minutes=30),
        last_meter_wh=3000,
        last_meter_at=now - timedelta(minutes=1),
    )
    db.add_all([pending, tx])
    await db.flush()
    stopping = ChargingSession(
        tenant_id=tenant.id,
        token_id=stopping_token.id,
        id_tag="RECSTOP",
        station_id=station.id,
        connector_id=2,
        origin="app",
        state="active",
        start_status="Accepted",
        transaction_id=tx.id,
        requested_at=now - timedelta(minutes=30),
        started_at=now - timedelta(minutes=30),
        meter_start_wh=1000,
        end_requested_at=now - timedelta(seconds=2),
    )
    db.add(stopping)
    await db.commit()
    return station.id, pending.id, stopping.id


async def _session(server: RunningServer, session_id: int) -> ChargingSession:
    async with server.node.sessions() as db:
        session = await db.get(ChargingSession, session_id)
        assert session is not None
        return session


async def test_a_start_left_unanswered_is_linked_when_the_charger_starts_after_the_restart(
    db_session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    _, pending_id, _ = await _left_by_a_kill(db_session)
    async with running_server(database_url, tmp_path) as server:
        pending = await _session(server, pending_id)
        assert (pending.state, pending.start_status) == ("pending", "Unknown")
        assert pending.warnings and "restarted" in pending.warnings
        station = RawStation(server.ws_url("REC1"), "REC1")
        await station.connect()
        tx = await station.start(1, "RECSTART", 500)
        started = await _session(server, pending_id)
        assert (started.state, started.transaction_id) == ("active", tx)
        await station.close()


async def test_a_start_left_unanswered_expires_after_the_connection_timeout(
    db_session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    _, pending_id, _ = await _left_by_a_kill(db_session)
    async with running_server(database_url, tmp_path, connection_timeout=3.0) as server:

        async def expired() -> bool:
            return (await _session(server, pending_id)).state != "pending"

        await eventually(expired, within=30)
        session = await _session(server, pending_id)
        assert session.state == "expired"
        assert session.failure_reason and "restarted" in session.failure_reason


async def test_a_stop_left_unanswered_is_billed_once_and_reconciled_by_the_stop(
    db_session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    _, _, stopping_id = await _left_by_a_kill(db_session)
    async with running_server(database_url, tmp_path) as server:
        closed = await _session(server, stopping_id)
        # Closed as end() would have: from the last reading, waiting for the charger's stop.
        assert (closed.state, closed.stop_status, closed.reconciled) == (
            "completed",
            "Unknown",
            False,
        )
        assert closed.energy_wh == 2000
        station = RawStation(server.ws_url("REC1"), "REC1")
        await station.connect()
        assert closed.transaction_id is not None
        stop = {"transactionId": closed.transaction_id, "meterStop": 3500, "timestamp": now_iso()}
        assert await station.call("StopTransaction", stop) == {}
        final = await _session(server, stopping_id)
        assert (final.state, final.reconciled, final.energy_wh) == ("completed", True, 2500)
        async with server.node.sessions() as db:
            sessions_of_tx = await db.scalar(
                select(func.count())
                .select_from(ChargingSession)
                .where(ChargingSession.transaction_id == closed.transaction_id)
            )
        assert sessions_of_tx == 1
        await station.close()
    # A second restart changes nothing more.
    async with running_server(database_url, tmp_path) as server:
        again = await _session(server, stopping_id)
        assert (again.state, again.reconciled, again.energy_wh, again.billed_at) == (
            "completed",
            True,
            2500,
            final.billed_at,
        )
