"""Station rules: status history and out-of-order StatusNotifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.stations import service
from kilowatt.stations.models import StatusNotificationRecord
from kilowatt.stations.service import StatusReport

from factories import make_station

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_older_status_is_history_only(db_session: AsyncSession) -> None:
    station = await make_station(db_session)
    await service.status_notification(
        db_session, station.id, StatusReport(1, "Charging", "NoError", timestamp=T0), T0
    )
    connector, previous = await service.status_notification(
        db_session,
        station.id,
        StatusReport(1, "Preparing", "NoError", timestamp=T0 - timedelta(minutes=1)),
        T0,
    )
    assert (connector.status, previous) == ("Charging", "Charging")
    history = (await db_session.scalars(select(StatusNotificationRecord.status))).all()
    assert sorted(history) == ["Charging", "Preparing"]


async def test_passwords_are_hashed_and_verified() -> None:
    hashed = service.hash_password("0123456789abcdef")
    assert "0123456789abcdef" not in hashed
    assert service.verify_password(hashed, "0123456789abcdef")
    assert not service.verify_password(hashed, "0123456789abcdeX")
    assert not service.verify_password("not-a-hash", "x")
