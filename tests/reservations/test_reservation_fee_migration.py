"""Migration 0015 (reservation fees) on SQLite and PostgreSQL: it adds the fee's columns to
existing reservations (which cost nothing: ``cost_status`` ``none``) and takes them away again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text

from kilowatt import migrate
from kilowatt.db import create_engine, session_factory
from kilowatt.reservations.models import Reservation

from factories import make_station

FEE_COLUMNS = {
    "tariff_id", "tariff_snapshot", "currency", "cost_status", "cost_total", "cost_breakdown",
    "billed_at", "payment_state", "payment_ref", "payment_captured", "payment_attempts",
    "payment_next_at", "payment_error",
}  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_0015_adds_and_removes_the_fee_columns_keeping_the_reservations(
    backend: str, fresh_database: Callable[[str], str]
) -> None:
    url = fresh_database(backend)
    await migrate.upgrade(url)
    engine = create_engine(url)
    t0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    try:
        async with session_factory(engine)() as db:
            station = await make_station(db)
            reservation = Reservation(
                tenant_id=station.tenant_id,
                station_id=station.id,
                connector_id=1,
                id_tag="MIG-1",
                state="expired",
                expires_at=t0 + timedelta(minutes=20),
                created_at=t0,
                cost_status="final",
                currency="EUR",
                cost_total=Decimal("6.00"),
            )
            db.add(reservation)
            await db.commit()
            reservation_id = reservation.id

        await migrate.downgrade(url, "0014_site_load")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("reservations")}
            )
            kept = (await conn.execute(text("SELECT id, state FROM reservations"))).all()
        assert not columns & FEE_COLUMNS
        assert [tuple(row) for row in kept] == [(reservation_id, "expired")]

        await migrate.upgrade(url, "0015_reservation_fee")
        async with session_factory(engine)() as db:
            again = await db.get(Reservation, reservation_id)
            assert again is not None
            assert (again.state, again.cost_status, again.cost_total) == ("expired", "none", None)
            assert (again.payment_state, again.payment_attempts) == (None, 0)
        await migrate.upgrade(url)
        assert await migrate.check_current(url)
    finally:
        await engine.dispose()
