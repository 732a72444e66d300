"""The operator API of security events and station certificates: tenant-scoped (another
tenant's station is a 404, its events are never listed), paginated, filtered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.api_kit import World, assert_problem
from kilowatt.security import service
from kilowatt.security.models import StationCertificate
from kilowatt.stations.models import Station

T0 = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)


async def _station_with_events(world: World, tenant_id: int, cp_id: str, types: list[str]) -> None:
    async with world.server.node.sessions() as db:
        station = Station(charge_point_id=cp_id, tenant_id=tenant_id)
        db.add(station)
        await db.flush()
        for n, type in enumerate(types):
            at = T0 + timedelta(minutes=n)
            await service.record_event(db, station, cp_id, type, at, f"{cp_id} #{n}", at)
        db.add(
            StationCertificate(
                tenant_id=tenant_id,
                station_id=station.id,
                serial="1f",
                subject=f"CN={cp_id}",
                not_before=T0,
                not_after=T0 + timedelta(days=365),
                fingerprint=cp_id.ljust(64, "0"),
                certificate="-----BEGIN CERTIFICATE-----\n...",
                state="sent",
                created_at=T0,
            )
        )
        await db.commit()


async def test_security_events_are_tenant_scoped_paginated_and_filtered(world: World) -> None:
    """A's operators see A's events only, newest first, by station and by type, in pages; B's
    station (events and certificates) is a 404 to them; a platform admin sees both."""
    await _station_with_events(
        world, world.a, "A-1", ["StartupOfTheDevice", "InvalidMessages", "ResetOrReboot"]
    )
    await _station_with_events(world, world.a, "A-2", ["InvalidMessages"])
    await _station_with_events(world, world.b, "B-1", ["TamperDetectionActivated"])
    a = await world.client("a_viewer")
    b = await world.client("b_operator")

    page = (await a.get("/api/v1/security-events")).json()
    assert page["total"] == 4 and {e["charge_point_id"] for e in page["items"]} == {"A-1", "A-2"}
    assert [e["tech_info"] for e in page["items"]][:2] == ["A-1 #2", "A-1 #1"]  # newest first

    first = (await a.get("/api/v1/security-events", params={"limit": 2})).json()
    second = (await a.get("/api/v1/security-events", params={"limit": 2, "offset": 2})).json()
    assert (first["total"], first["limit"], second["offset"]) == (4, 2, 2)
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert len(set(ids)) == 4

    by_type = (await a.get("/api/v1/security-events", params={"type": "InvalidMessages"})).json()
    assert sorted(e["charge_point_id"] for e in by_type["items"]) == ["A-1", "A-2"]
    assert all(e["critical"] is False for e in by_type["items"])
    critical = (await a.get("/api/v1/security-events", params={"critical": "true"})).json()
    assert {e["type"] for e in critical["items"]} == {"StartupOfTheDevice", "ResetOrReboot"}
    by_station = (await a.get("/api/v1/security-events", params={"station": "A-2"})).json()
    assert by_station["total"] == 1
    # Another tenant's station as a filter is simply empty, not an error.
    assert (await a.get("/api/v1/security-events", params={"station": "B-1"})).json()["total"] == 0

    station_page = (await a.get("/api/v1/stations/A-1/security-events")).json()
    assert station_page["total"] == 3
    assert_problem(await a.get("/api/v1/stations/B-1/security-events"), 404)
    assert_problem(await a.get("/api/v1/stations/B-1/certificates"), 404)
    assert_problem(await a.get("/api/v1/stations/NOPE/certificates"), 404)
    certificates = (await a.get("/api/v1/stations/A-1/certificates")).json()
    assert [c["subject"] for c in certificates["issued"]] == ["CN=A-1"]

    assert {e["tenant_id"] for e in page["items"]} == {world.a}
    b_page = (await b.get("/api/v1/security-events")).json()
    assert [e["type"] for e in b_page["items"]] == ["TamperDetectionActivated"]
    assert b_page["items"][0]["critical"] is True
    assert_problem(await b.get("/api/v1/stations/A-1/certificates"), 404)

    everyone = (await world.node().get("/api/v1/security-events")).json()
    assert everyone["total"] == 5

    assert_problem(await world.anonymous().get("/api/v1/security-events"), 401)
    assert_problem(await a.get("/api/v1/security-events", params={"limit": 1000}), 422)
