"""Transaction rules: idempotent start, stored-and-flagged implausible data, ConcurrentTx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tokens import service as tokens
from kilowatt.transactions import service
from kilowatt.transactions.metering import normalise

from factories import make_station, make_token

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _start(
    db: AsyncSession,
    station,
    id_tag: str = "TAG1",
    meter_start: int = 0,
    at: datetime = T0,
    connector_id: int = 1,
):  # type: ignore[no-untyped-def]
    return await service.start(
        db,
        station_id=station.id,
        tenant_id=station.tenant_id,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=at,
        reservation_id=None,
        now=at,
    )


async def test_meter_going_backwards_is_stored_and_flagged(db_session: AsyncSession) -> None:
    station = await make_station(db_session)
    await make_token(db_session, await _tenant(db_session, station), "TAG1")
    started = await _start(db_session, station, meter_start=5000)
    await service.stop(
        db_session,
        station_id=station.id,
        tenant_id=station.tenant_id,
        transaction_id=started.transaction_id,
        id_tag=None,
        meter_stop=4000,
        timestamp=T0 + timedelta(hours=1),
        reason="Local",
        samples=[],
        now=T0,
    )
    tx = await service.get(db_session, started.transaction_id)
    assert tx is not None and tx.meter_stop == 4000
    assert tx.review_reason is not None and "backwards" in tx.review_reason


async def test_stop_before_start_is_flagged(db_session: AsyncSession) -> None:
    station = await make_station(db_session)
    started = await _start(db_session, station, id_tag="ANY")
    await service.stop(
        db_session,
        station_id=station.id,
        tenant_id=station.tenant_id,
        transaction_id=started.transaction_id,
        id_tag=None,
        meter_stop=10,
        timestamp=T0 - timedelta(minutes=1),
        reason=None,
        samples=[],
        now=T0,
    )
    tx = await service.get(db_session, started.transaction_id)
    assert tx is not None and "before start" in (tx.review_reason or "")


async def test_meter_values_keep_the_latest_register_in_time_order(
    db_session: AsyncSession,
) -> None:
    station = await make_station(db_session)
    started = await _start(db_session, station, id_tag="ANY", meter_start=100)
    late = normalise(timestamp=T0 + timedelta(minutes=10), value="900", measurand=None, unit=None)
    early = normalise(timestamp=T0 + timedelta(minutes=5), value="500", measurand=None, unit=None)
    for sample in (late, early):  # an offline queue may deliver out of order
        await service.meter_values(
            db_session,
            station_id=station.id,
            connector_id=1,
            transaction_id=started.transaction_id,
            samples=[sample],
            now=T0,
        )
    tx = await service.get(db_session, started.transaction_id)
    assert tx is not None and (tx.last_meter_wh, tx.energy_wh) == (900, 800)
    assert tx.review_reason is None
    assert len(await service.samples_of(db_session, started.transaction_id)) == 2


async def test_concurrent_transactions_of_one_token_are_refused(db_session: AsyncSession) -> None:
    station = await make_station(db_session)
    tenant = await _tenant(db_session, station)
    await make_token(db_session, tenant, "ONCE")
    first = await _start(db_session, station, id_tag="ONCE", connector_id=1)
    assert first.authorization.status == "Accepted"
    assert (await tokens.authorize(db_session, tenant.id, "ONCE", T0)).status == "ConcurrentTx"
    second = await _start(db_session, station, id_tag="ONCE", connector_id=2)
    assert second.authorization.status == "ConcurrentTx"


async def _tenant(db: AsyncSession, station):  # type: ignore[no-untyped-def]
    from kilowatt.tenants.models import Tenant

    return await db.get(Tenant, station.tenant_id)
