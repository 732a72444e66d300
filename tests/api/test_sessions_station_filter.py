"""GET /api/v1/sessions?station=: an operator's sessions of one station (the dashboard's filter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics import scenario
from analytics.scenario import session
from api.api_kit import World, assert_problem


async def test_sessions_are_filtered_by_station_within_the_tenant(world: World) -> None:
    created = datetime.now(UTC) - timedelta(days=3)
    a1 = await scenario.station(world, world.a, "F-A1", created_at=created)
    a2 = await scenario.station(world, world.a, "F-A2", created_at=created)
    await scenario.station(world, world.b, "F-B1", created_at=created)
    at = datetime.now(UTC) - timedelta(hours=2)
    one, two, three = await scenario.add(
        world,
        session(a1, requested_at=at, state="completed", duration=timedelta(minutes=5)),
        session(a2, requested_at=at + timedelta(minutes=1), state="failed"),
        session(a1, requested_at=at + timedelta(minutes=2), state="failed"),
    )
    viewer = await world.client("a_viewer")

    def ids(response: object) -> list[int]:
        return [s["sessionId"] for s in response.json()["items"]]  # type: ignore[attr-defined]

    assert ids(await viewer.get("/api/v1/sessions", params={"station": "F-A1"})) == [
        three.id,
        one.id,
    ]
    both = await viewer.get("/api/v1/sessions", params={"station": "F-A1", "state": "failed"})
    assert ids(both) == [three.id] and both.json()["total"] == 1
    assert ids(await viewer.get("/api/v1/sessions")) == [three.id, two.id, one.id]
    # another tenant's station, or none: 404, as for a station that does not exist
    assert_problem(await viewer.get("/api/v1/sessions", params={"station": "F-B1"}), 404)
    assert_problem(await viewer.get("/api/v1/sessions", params={"station": "NOPE"}), 404)
    assert_problem(await viewer.get("/api/v1/sessions", params={"station": ""}), 422)
