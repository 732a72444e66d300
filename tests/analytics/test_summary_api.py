"""The seed's success metrics over a scripted day with known counts (docs/analytics.md).

Station A-1 of tenant acme, on one day: 10 session starts (7 completed, 2 rejected, 1 timed out)
plus one the driver cancelled and one still charging; 24 commands; 9 StartTransactions, two of
them refused, and 9 Authorize requests, three refused (cards that never started a transaction);
two Faulted notifications. A-2 (acme, no site) and B-1 (bolt) have a little of
their own, so that every scope is told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from analytics import scenario
from analytics.scenario import authorize, command, iso, session, status, transaction
from api.api_kit import World, assert_problem

pytestmark = pytest.mark.asyncio

SUMMARY = "/api/v1/analytics/summary"


@dataclass
class Day:
    start: Any
    site_id: int

    @property
    def period(self) -> dict[str, str]:
        return {"from": iso(self.start), "to": iso(self.start + timedelta(days=1))}


async def scripted_day(world: World) -> Day:
    d0 = scenario.day_start()
    created = d0 - timedelta(days=30)
    depot = await scenario.site(world, world.a, "Depot")
    a1 = await scenario.station(world, world.a, "A-1", created_at=created, site_id=depot)
    a2 = await scenario.station(world, world.a, "A-2", created_at=created)
    b1 = await scenario.station(world, world.b, "B-1", created_at=created)

    def h(hours: float) -> Any:
        return d0 + timedelta(hours=hours)

    txs = await scenario.add(
        world,
        *(transaction(a1, at=h(1 + 2 * i)) for i in range(7)),
        transaction(a1, at=h(20), auth="Invalid"),
        transaction(a1, at=h(21), auth="Blocked"),
        transaction(a1, at=h(-2)),  # the day before: not counted
        transaction(b1, at=h(3), auth="Invalid"),
    )
    await scenario.add(
        world,
        # 7 completed: 30 to 90 minutes (average 60), 1 to 7 kWh (average 4 kWh, 28 kWh in all)
        *(
            session(
                a1,
                requested_at=h(1 + 2 * i),
                state="completed",
                connector_id=1 + i % 2,
                duration=timedelta(minutes=30 + 10 * i),
                energy_wh=1000 * (i + 1),
                transaction_id=txs[i].id,
            )
            for i in range(7)
        ),
        session(a1, requested_at=h(15), state="failed", start_status="Rejected"),
        session(a1, requested_at=h(16), state="failed", start_status="Rejected"),
        session(a1, requested_at=h(17), state="failed", start_status="Timeout"),
        session(a1, requested_at=h(18), state="cancelled"),
        session(a1, requested_at=h(19), state="active", connector_id=2),
        # the day before: not counted
        session(a1, requested_at=h(-1), state="completed", duration=timedelta(hours=5)),
        session(
            a2,
            requested_at=h(2),
            state="completed",
            duration=timedelta(minutes=20),
            energy_wh=500,
        ),
        session(b1, requested_at=h(4), state="failed", transaction_id=txs[-1].id),
        session(b1, requested_at=h(5), state="failed", start_status="Rejected"),
    )
    commands = [
        *(
            command(a1, "RemoteStartTransaction", "completed", "Accepted", at=h(1))
            for _ in range(7)
        ),
        command(a1, "RemoteStartTransaction", "completed", "Rejected", at=h(15)),
        command(a1, "RemoteStartTransaction", "completed", "Rejected", at=h(16)),
        command(a1, "RemoteStartTransaction", "timeout", "Timeout", at=h(17)),
        *(command(a1, "RemoteStopTransaction", "completed", "Accepted", at=h(2)) for _ in range(7)),
        command(a1, "UnlockConnector", "completed", "Unlocked", at=h(3)),
        command(a1, "UnlockConnector", "completed", "Unlocked", at=h(4)),
        command(a1, "UnlockConnector", "completed", "UnlockFailed", at=h(5)),
        command(a1, "Reset", "offline", "Offline", at=h(6)),
        command(a1, "GetDiagnostics", "error", "NotImplemented", at=h(7)),
        command(a1, "ChangeConfiguration", "completed", "RebootRequired", at=h(8)),
        command(a1, "TriggerMessage", "sent", None, at=h(23.5)),  # no outcome yet
        command(a1, "Reset", "completed", "Rejected", at=h(-3)),  # the day before
        command(a2, "RemoteStartTransaction", "completed", "Accepted", at=h(2)),
        command(b1, "UnlockConnector", "completed", "UnlockFailed", at=h(5)),
    ]
    await scenario.add(world, *commands)
    await scenario.add(
        world,
        *(authorize(a1, "Accepted", at=h(0.5 + 2 * i)) for i in range(6)),
        authorize(a1, "Invalid", at=h(12)),
        authorize(a1, "Invalid", at=h(12.5)),
        authorize(a1, "Expired", at=h(13)),
        authorize(a1, "Blocked", at=h(-1)),  # the day before
        authorize(b1, "Invalid", at=h(6)),
        status(a1, 1, "Faulted", at=h(9), error_code="GroundFailure"),
        status(a1, 2, "Faulted", at=h(10), error_code="HighTemperature"),
        status(a1, 1, "Available", at=h(11)),
        status(b1, 1, "Faulted", at=h(9), error_code="OtherError"),
    )
    return Day(d0, depot)


async def test_the_scripted_day_of_a_station(world: World) -> None:
    day = await scripted_day(world)
    admin = await world.client("a_admin")
    response = await admin.get(SUMMARY, params={**day.period, "station": "A-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["days"]) == (day.period["from"], day.period["to"], 1)
    assert body["scope"] == {"tenant_id": world.a, "site_id": None, "station": "A-1"}

    sessions = body["sessions"]
    assert sessions == {
        "requested": 12,
        "completed": 7,
        "failed": 3,
        "expired": 0,
        "cancelled": 1,
        "open": 1,
        # 10 starts: 7 completed, 2 rejected, 1 timed out (the cancelled and the open one are
        # not in it)
        "completion_percent": 70.0,
        "start_status": {"Accepted": 9, "Rejected": 2, "Timeout": 1},
        "failed_not_authorized": 0,
        "average_duration_seconds": 3600.0,
        "average_energy_wh": 4000.0,
        "energy_wh": 28000,
    }

    commands = body["commands"]
    # 23 with an outcome: 17 positive (7 + 7 Accepted, 2 Unlocked, 1 RebootRequired)
    assert (commands["total"], commands["succeeded"], commands["in_flight"]) == (23, 17, 1)
    assert commands["success_percent"] == round(17 / 23 * 100, 2) == 73.91
    assert commands["positive_outcomes"] == [
        "Accepted",
        "AcceptedCanceled",
        "RebootRequired",
        "Scheduled",
        "Unlocked",
    ]
    by_action = {a["action"]: a for a in commands["by_action"]}
    assert by_action["RemoteStartTransaction"] == {
        "action": "RemoteStartTransaction",
        "total": 10,
        "succeeded": 7,
        "success_percent": 70.0,
        "outcomes": {"Accepted": 7, "Rejected": 2, "Timeout": 1},
    }
    assert by_action["UnlockConnector"]["outcomes"] == {"UnlockFailed": 1, "Unlocked": 2}
    assert by_action["UnlockConnector"]["success_percent"] == 66.67
    assert by_action["RemoteStopTransaction"]["success_percent"] == 100.0
    assert by_action["Reset"]["outcomes"] == {"Offline": 1}
    assert by_action["GetDiagnostics"]["success_percent"] == 0.0
    assert "TriggerMessage" not in by_action  # still in flight

    assert body["unlocks"] == {"requests": 3, "per_day": 3.0, "per_100_sessions": 25.0}

    errors = body["errors"]
    assert errors["network"] == {"count": 1, "attempts": 23, "percent": 4.35}
    assert errors["timeout"] == {"count": 1, "attempts": 23, "percent": 4.35}
    assert errors["charger"] == {"count": 4, "attempts": 23, "percent": 17.39}
    assert errors["charger_outcomes"] == {"NotImplemented": 1, "Rejected": 2, "UnlockFailed": 1}
    # 9 Authorize answers (3 refused) and 9 StartTransaction answers (2 refused)
    assert errors["authorization"] == {"count": 5, "attempts": 18, "percent": 27.78}
    assert errors["authorization_statuses"] == {"Blocked": 1, "Expired": 1, "Invalid": 3}
    assert errors["faulted_status_notifications"] == 2


async def test_scopes_site_tenant_and_another_tenant(world: World) -> None:
    day = await scripted_day(world)
    admin = await world.client("a_admin")

    at_site = (await admin.get(SUMMARY, params={**day.period, "site_id": day.site_id})).json()
    assert at_site["sessions"]["requested"] == 12 and at_site["commands"]["total"] == 23

    tenant = (await admin.get(SUMMARY, params=day.period)).json()
    assert tenant["scope"] == {"tenant_id": world.a, "site_id": None, "station": None}
    assert tenant["sessions"]["requested"] == 13  # A-2's too
    assert tenant["sessions"]["completion_percent"] == round(8 / 11 * 100, 2)
    assert (tenant["commands"]["total"], tenant["commands"]["succeeded"]) == (24, 18)
    assert tenant["unlocks"]["requests"] == 3  # bolt's is not here

    a2 = (await admin.get(SUMMARY, params={**day.period, "station": "A-2"})).json()
    assert a2["sessions"]["average_duration_seconds"] == 1200.0
    assert a2["errors"]["authorization"] == {"count": 0, "attempts": 0, "percent": None}

    # bolt's admin: their own tenant only; acme's station, site and tenant are 404s
    b_admin = await world.client("b_admin")
    bolt = (await b_admin.get(SUMMARY, params=day.period)).json()
    assert bolt["scope"]["tenant_id"] == world.b
    assert bolt["sessions"]["requested"] == 2
    assert bolt["sessions"]["failed_not_authorized"] == 1
    assert bolt["unlocks"]["requests"] == 1
    assert bolt["errors"]["faulted_status_notifications"] == 1
    assert bolt["errors"]["authorization"] == {"count": 2, "attempts": 2, "percent": 100.0}
    for params in ({"station": "A-1"}, {"site_id": day.site_id}, {"tenant": "acme"}):
        assert_problem(await b_admin.get(SUMMARY, params={**day.period, **params}), 404)
    assert_problem(await admin.get(SUMMARY, params={"station": "NOPE"}), 404)

    # a platform admin sees every tenant, or the one named
    node = world.node()
    everything = (await node.get(SUMMARY, params=day.period)).json()
    assert everything["scope"]["tenant_id"] is None
    assert everything["sessions"]["requested"] == 15
    named = (await node.get(SUMMARY, params={**day.period, "tenant": "bolt"})).json()
    assert named["scope"]["tenant_id"] == world.b and named["sessions"]["requested"] == 2


async def test_the_summary_needs_sessions_read_and_stations_read(world: World) -> None:
    await scripted_day(world)
    assert (await (await world.client("a_viewer")).get(SUMMARY)).status_code == 200
    assert_problem(await (await world.client("driver")).get(SUMMARY), 403)
    assert_problem(await (await world.api_key("acme", "stations:read")).get(SUMMARY), 403)
    assert_problem(await (await world.api_key("acme", "sessions:read")).get(SUMMARY), 403)
    both = await world.api_key("acme", "sessions:read", "stations:read")
    assert (await both.get(SUMMARY)).status_code == 200
    assert_problem(await world.anonymous().get(SUMMARY), 401)


async def test_a_period_must_be_forward_and_at_most_366_days(world: World) -> None:
    admin = await world.client("a_admin")
    backwards = {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert_problem(await admin.get(SUMMARY, params=backwards), 422)
    too_long = {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert_problem(await admin.get(SUMMARY, params=too_long), 422)
    # no period: the last 30 days, and nothing in them
    empty = (await admin.get(SUMMARY)).json()
    assert empty["days"] == 30
    assert empty["sessions"]["completion_percent"] is None
    assert empty["unlocks"] == {"requests": 0, "per_day": 0.0, "per_100_sessions": None}


async def test_time_series(world: World) -> None:
    day = await scripted_day(world)
    admin = await world.client("a_admin")
    series = "/api/v1/analytics/timeseries"

    hourly = await admin.get(
        series, params={**day.period, "station": "A-1", "metric": "sessions", "bucket": "hour"}
    )
    assert hourly.status_code == 200, hourly.text
    points = hourly.json()["points"]
    assert len(points) == 24 and sum(p["value"] for p in points) == 12
    assert points[1] == {"at": iso(day.start + timedelta(hours=1)), "value": 1.0}

    daily = (
        await admin.get(
            series, params={**day.period, "station": "A-1", "metric": "completion_percent"}
        )
    ).json()
    assert [p["value"] for p in daily["points"]] == [70.0]
    success = (
        await admin.get(
            series, params={**day.period, "station": "A-1", "metric": "command_success_percent"}
        )
    ).json()
    assert [p["value"] for p in success["points"]] == [73.91]
    energy = (await admin.get(series, params={**day.period, "metric": "energy_wh"})).json()
    assert [p["value"] for p in energy["points"]] == [28500.0]
    unlocks = (
        await admin.get(series, params={**day.period, "metric": "unlocks", "bucket": "hour"})
    ).json()
    assert [p["value"] for p in unlocks["points"]][3:6] == [1.0, 1.0, 1.0]

    assert_problem(await admin.get(series, params={"metric": "nonsense"}), 422)
    assert_problem(
        await (await world.client("b_admin")).get(
            series, params={"metric": "sessions", "station": "A-1"}
        ),
        404,
    )
