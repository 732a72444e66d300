"""Connector uptime over one day, with minutes computed by hand, and the exclusions behind it.

NEVI (23 CFR 680.116(b)): uptime % = ((period - (T_outage - T_excluded)) / period) * 100.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from analytics import scenario
from analytics.scenario import frame, iso, status
from api.api_kit import World, assert_problem
from kilowatt.analytics.models import OutageExclusion

pytestmark = pytest.mark.asyncio

UPTIME = "/api/v1/analytics/uptime"
EXCLUSIONS = "/api/v1/analytics/exclusions"


def _day() -> tuple[datetime, dict[str, str]]:
    d0 = scenario.day_start()
    return d0, {"from": iso(d0), "to": iso(d0 + timedelta(days=1))}


def _by_connector(body: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(c["charge_point_id"], c["connector_id"]): c for c in body["items"]}


async def test_faulted_90_minutes_of_a_day_30_of_them_a_utility_interruption(world: World) -> None:
    d0, day = _day()
    u1 = await scenario.station(world, world.a, "U-1", created_at=d0 - timedelta(days=30))
    await scenario.add(
        world,
        status(u1, 0, "Available", at=d0 - timedelta(days=25)),
        status(u1, 1, "Available", at=d0 - timedelta(days=25)),
        status(u1, 2, "Available", at=d0 - timedelta(days=25)),
        status(u1, 1, "Faulted", at=d0 + timedelta(hours=10), error_code="GroundFailure"),
        status(u1, 1, "Available", at=d0 + timedelta(hours=11, minutes=30)),
    )
    admin = await world.client("a_admin")
    created = await admin.post(
        EXCLUSIONS,
        json={
            "station": "U-1",
            "connector_id": 1,
            "from": iso(d0 + timedelta(hours=11)),
            "to": iso(d0 + timedelta(hours=12)),
            "reason": "utility",
            "note": "grid outage, ticket 4711",
        },
    )
    assert created.status_code == 201, created.text

    response = await admin.get(UPTIME, params={**day, "station": "U-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["silence_minutes"], body["total"]) == (
        day["from"],
        day["to"],
        10.0,  # two heartbeat intervals of 300 s
        2,
    )
    faulted = _by_connector(body)[("U-1", 1)]
    expected = round((1440 - (90 - 30)) / 1440 * 100, 4)
    assert faulted == {
        "charge_point_id": "U-1",
        "connector_id": 1,
        "site_id": None,
        "from": day["from"],
        "to": day["to"],
        "period_minutes": 1440.0,
        "outage_minutes": 90.0,
        "status_outage_minutes": 90.0,
        "offline_minutes": 0.0,
        "no_data_minutes": 0.0,
        "nevi": {"excluded_minutes": 30.0, "uptime_percent": expected},
        "cec": {"excluded_minutes": 30.0, "uptime_percent": expected},
    }
    assert expected == 95.8333
    fine = _by_connector(body)[("U-1", 2)]
    assert fine["outage_minutes"] == 0 and fine["nevi"]["uptime_percent"] == 100.0


async def test_a_station_offline_or_unavailable_takes_every_connector_down(world: World) -> None:
    d0, day = _day()
    long_ago = d0 - timedelta(days=30)
    # offline since 20:00 (the row's last disconnection), so 4 hours of the day
    gone = await scenario.station(
        world,
        world.a,
        "U-OFF",
        connectors=1,
        created_at=long_ago,
        online=False,
        connected_at=long_ago,
        disconnected_at=d0 + timedelta(hours=20),
    )
    # connector 0 (the station as a whole) Unavailable for 2 hours
    whole = await scenario.station(world, world.a, "U-ZERO", connectors=2, created_at=long_ago)
    await scenario.add(
        world,
        status(gone, 1, "Available", at=long_ago),
        status(whole, 0, "Available", at=long_ago),
        status(whole, 0, "Unavailable", at=d0 + timedelta(hours=1)),
        status(whole, 0, "Available", at=d0 + timedelta(hours=3)),
        # maintenance for the first of those hours: both rules exclude it
        OutageExclusion(
            station_id=whole.id,
            connector_id=None,
            starts_at=d0 + timedelta(hours=1),
            ends_at=d0 + timedelta(hours=2),
            reason="maintenance",
            created_at=d0,
        ),
    )
    body = (await (await world.client("a_viewer")).get(UPTIME, params=day)).json()
    rows = _by_connector(body)
    off = rows[("U-OFF", 1)]
    assert (off["outage_minutes"], off["offline_minutes"], off["status_outage_minutes"]) == (
        240.0,
        240.0,
        0.0,
    )
    assert off["nevi"]["uptime_percent"] == round(1200 / 1440 * 100, 4)
    for connector in (1, 2):
        row = rows[("U-ZERO", connector)]
        assert row["outage_minutes"] == 120.0
        assert row["no_data_minutes"] == 1440.0  # nothing of its own: connector 0 speaks for it
        assert row["nevi"] == {
            "excluded_minutes": 60.0,
            "uptime_percent": round(1380 / 1440 * 100, 4),
        }
        assert row["cec"] == row["nevi"]


async def test_closed_hours_count_for_nevi_not_for_the_cec(world: World) -> None:
    d0, day = _day()
    st = await scenario.station(
        world, world.a, "U-NIGHT", connectors=1, created_at=d0 - timedelta(days=30)
    )
    await scenario.add(
        world,
        status(st, 1, "Available", at=d0 - timedelta(days=1)),
        status(st, 1, "Unavailable", at=d0),
        status(st, 1, "Available", at=d0 + timedelta(hours=6)),
    )
    admin = await world.client("a_admin")
    closed = {"station": "U-NIGHT", "from": iso(d0), "to": iso(d0 + timedelta(hours=6))}
    assert (await admin.post(EXCLUSIONS, json={**closed, "reason": "closed_hours"})).is_success
    row = (await admin.get(UPTIME, params={**day, "station": "U-NIGHT"})).json()["items"][0]
    assert row["nevi"] == {"excluded_minutes": 360.0, "uptime_percent": 100.0}
    assert row["cec"] == {"excluded_minutes": 0.0, "uptime_percent": 75.0}


async def test_a_silence_in_the_message_log_before_the_recorded_connection(world: World) -> None:
    d0, day = _day()
    # connected (as the row says) since 23:00; before that only the message log tells
    st = await scenario.station(
        world,
        world.a,
        "U-QUIET",
        connectors=1,
        created_at=d0 - timedelta(days=30),
        connected_at=d0 + timedelta(hours=23),
    )
    heartbeats = [d0 - timedelta(hours=1) + timedelta(minutes=5 * n) for n in range(12 * 7 + 1)]
    heartbeats += [d0 + timedelta(hours=8) + timedelta(minutes=5 * n) for n in range(12 * 15 - 1)]
    assert heartbeats[12 * 7] == d0 + timedelta(hours=6) and heartbeats[-1] < d0 + timedelta(
        hours=23
    )
    await scenario.add(
        world,
        status(st, 1, "Available", at=d0 - timedelta(days=2)),
        *(
            frame("U-QUIET", "in", f'[2,"hb{i}","Heartbeat",{{}}]', at=at, action="Heartbeat")
            for i, at in enumerate(heartbeats)
        ),
    )
    admin = await world.client("a_admin")
    row = (await admin.get(UPTIME, params={**day, "station": "U-QUIET"})).json()["items"][0]
    # silent from 6:00 to 8:00: offline from 6:10 (ten minutes of silence) to 8:00
    assert (row["offline_minutes"], row["outage_minutes"]) == (110.0, 110.0)
    assert row["nevi"]["uptime_percent"] == round((1440 - 110) / 1440 * 100, 4)
    quiet = await admin.get(UPTIME, params={**day, "station": "U-QUIET", "silence_minutes": 0})
    assert quiet.json()["items"][0]["outage_minutes"] == 0.0
    longer = await admin.get(UPTIME, params={**day, "station": "U-QUIET", "silence_minutes": 60})
    assert longer.json()["items"][0]["outage_minutes"] == 60.0


async def test_a_station_is_offline_exactly_between_its_recorded_connections(
    world: World,
) -> None:
    d0, day = _day()
    long_ago = d0 - timedelta(days=30)
    st = await scenario.station(
        world,
        world.a,
        "U-GAP",
        connectors=1,
        created_at=long_ago,
        online=False,
        connected_at=long_ago,
        disconnected_at=d0 + timedelta(hours=10),
    )
    # back at noon and still connected; it sent nothing all day, which within the recorded
    # history is no evidence of anything (a charger without Heartbeats)
    await scenario.add(
        world,
        scenario.connection(st, d0 + timedelta(hours=12), None),
        status(st, 1, "Available", at=long_ago),
    )
    row = (
        await (await world.client("a_admin")).get(UPTIME, params={**day, "station": "U-GAP"})
    ).json()["items"][0]
    assert (row["offline_minutes"], row["status_outage_minutes"], row["outage_minutes"]) == (
        120.0,
        0.0,
        120.0,
    )
    assert row["nevi"]["uptime_percent"] == round((1440 - 120) / 1440 * 100, 4)
    assert row["cec"]["uptime_percent"] == row["nevi"]["uptime_percent"]


async def test_a_connector_counts_from_its_stations_registration(world: World) -> None:
    d0, day = _day()
    # registered at noon and never connected since: down for the 12 hours it exists
    await scenario.station(
        world, world.a, "U-NEW", connectors=1, created_at=d0 + timedelta(hours=12), online=False
    )
    row = (
        await (await world.client("a_admin")).get(UPTIME, params={**day, "station": "U-NEW"})
    ).json()["items"][0]
    assert (row["from"], row["period_minutes"], row["outage_minutes"]) == (
        iso(d0 + timedelta(hours=12)),
        720.0,
        720.0,
    )
    assert row["nevi"]["uptime_percent"] == 0.0


async def test_uptime_is_scoped_and_paged(world: World) -> None:
    d0, day = _day()
    long_ago = d0 - timedelta(days=30)
    depot = await scenario.site(world, world.a, "Depot")
    await scenario.station(
        world, world.a, "A-SITE", connectors=2, created_at=long_ago, site_id=depot
    )
    await scenario.station(world, world.a, "A-ELSE", connectors=1, created_at=long_ago)
    await scenario.station(world, world.b, "B-ONE", connectors=1, created_at=long_ago)
    admin, b_admin = await world.client("a_admin"), await world.client("b_admin")

    mine = (await admin.get(UPTIME, params=day)).json()
    assert {c["charge_point_id"] for c in mine["items"]} == {"A-SITE", "A-ELSE"}
    assert mine["total"] == 3
    page = (await admin.get(UPTIME, params={**day, "limit": 1, "offset": 1})).json()
    assert [(c["charge_point_id"], c["connector_id"]) for c in page["items"]] == [("A-SITE", 1)]
    at_site = (await admin.get(UPTIME, params={**day, "site_id": depot})).json()
    assert at_site["total"] == 2 and at_site["items"][0]["site_id"] == depot

    theirs = (await b_admin.get(UPTIME, params=day)).json()
    assert [c["charge_point_id"] for c in theirs["items"]] == ["B-ONE"]
    for params in ({"station": "A-SITE"}, {"site_id": depot}, {"tenant": "acme"}):
        assert_problem(await b_admin.get(UPTIME, params={**day, **params}), 404)
    everything = (await world.node().get(UPTIME, params=day)).json()
    assert everything["total"] == 4
    assert_problem(await (await world.client("driver")).get(UPTIME), 403)
    # uptime is not counted ahead of now
    future = {"from": iso(datetime.now(d0.tzinfo) + timedelta(days=1))}
    assert_problem(await admin.get(UPTIME, params=future), 422)


async def test_exclusions_are_created_listed_and_deleted_within_the_tenant(world: World) -> None:
    d0, _ = _day()
    long_ago = d0 - timedelta(days=30)
    await scenario.station(world, world.a, "A-X", connectors=2, created_at=long_ago)
    await scenario.station(world, world.b, "B-X", connectors=1, created_at=long_ago)
    admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    window = {"from": iso(d0), "to": iso(d0 + timedelta(hours=2))}

    created = await admin.post(EXCLUSIONS, json={"station": "A-X", **window, "reason": "vandalism"})
    assert created.status_code == 201, created.text
    exclusion = created.json()
    assert exclusion == {
        "id": exclusion["id"],
        "station": "A-X",
        "connector_id": None,
        **window,
        "reason": "vandalism",
        "note": None,
        "created_by": f"user:{await world.user_id('a_admin')}",
        "created_at": exclusion["created_at"],
    }
    later = {"from": iso(d0 + timedelta(days=2)), "to": iso(d0 + timedelta(days=3))}
    assert (
        await admin.post(
            EXCLUSIONS, json={"station": "A-X", "connector_id": 2, **later, "reason": "maintenance"}
        )
    ).is_success
    assert (
        await b_admin.post(EXCLUSIONS, json={"station": "B-X", **window, "reason": "utility"})
    ).is_success

    refused = [
        ({"station": "A-X", "from": window["to"], "to": window["from"], "reason": "utility"}, 422),
        ({"station": "A-X", **window, "reason": "weather"}, 422),
        ({"station": "A-X", "connector_id": 9, **window, "reason": "utility"}, 404),
        ({"station": "B-X", **window, "reason": "utility"}, 404),
    ]
    for body, status_code in refused:
        assert_problem(await admin.post(EXCLUSIONS, json=body), status_code)
    assert_problem(
        await (await world.client("a_operator")).post(
            EXCLUSIONS, json={"station": "A-X", **window, "reason": "utility"}
        ),
        403,
    )

    listed = (await admin.get(EXCLUSIONS)).json()
    assert listed["total"] == 2
    assert [e["reason"] for e in listed["items"]] == ["maintenance", "vandalism"]  # latest first
    overlapping = (await admin.get(EXCLUSIONS, params={"to": iso(d0 + timedelta(days=1))})).json()
    assert [e["id"] for e in overlapping["items"]] == [exclusion["id"]]
    assert [e["station"] for e in (await b_admin.get(EXCLUSIONS)).json()["items"]] == ["B-X"]
    assert_problem(await b_admin.get(EXCLUSIONS, params={"station": "A-X"}), 404)
    assert (await world.node().get(EXCLUSIONS)).json()["total"] == 3

    assert_problem(await b_admin.delete(f"{EXCLUSIONS}/{exclusion['id']}"), 404)
    assert (await admin.delete(f"{EXCLUSIONS}/{exclusion['id']}")).status_code == 204
    assert_problem(await admin.delete(f"{EXCLUSIONS}/{exclusion['id']}"), 404)
    assert (await admin.get(EXCLUSIONS)).json()["total"] == 1
