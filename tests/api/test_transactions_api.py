"""Transactions API: visible when their station is; filters by station, state and start time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.api_kit import World, assert_problem
from kilowatt.stations import repository as stations
from kilowatt.transactions.models import Transaction

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _transactions(world: World, charge_point_id: str, *starts: tuple[int, bool]) -> list[int]:
    """Transactions of the station, started ``hours`` after T0, stopped or still running."""
    ids = []
    async with world.server.node.sessions() as db:
        station = await stations.by_charge_point_id(db, charge_point_id)
        assert station is not None
        for hours, stopped in starts:
            start = T0 + timedelta(hours=hours)
            tx = Transaction(
                station_id=station.id,
                connector_id=1,
                id_tag="TAG",
                start_auth_status="Accepted",
                meter_start=1000,
                start_timestamp=start,
                start_received_at=start,
                last_meter_wh=1500,
                last_meter_at=start + timedelta(minutes=30),
            )
            if stopped:
                tx.meter_stop, tx.stop_timestamp = 2000, start + timedelta(hours=1)
                tx.stop_received_at, tx.stop_reason = tx.stop_timestamp, "Local"
            db.add(tx)
            await db.flush()
            ids.append(tx.id)
        await db.commit()
    return ids


async def _stations(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    for http, cp in ((a_admin, "A-1"), (a_admin, "A-2"), (b_admin, "B-1")):
        assert (await http.post("/api/v1/stations", json={"charge_point_id": cp})).is_success


async def test_operators_list_filter_and_read_their_transactions(world: World) -> None:
    await _stations(world)
    a1 = await _transactions(world, "A-1", (0, True), (2, True), (4, False))
    a2 = await _transactions(world, "A-2", (1, False))
    await _transactions(world, "B-1", (3, True))
    viewer = await world.client("a_viewer")

    everything = (await viewer.get("/api/v1/transactions")).json()
    assert [t["transaction_id"] for t in everything["items"]] == [a2[0], a1[2], a1[1], a1[0]]
    assert everything["total"] == 4

    def ids(page: dict[str, Any]) -> list[int]:
        return [t["transaction_id"] for t in page["items"]]

    running = (await viewer.get("/api/v1/transactions", params={"state": "running"})).json()
    assert ids(running) == [a2[0], a1[2]] and running["total"] == 2
    stopped = (await viewer.get("/api/v1/transactions?state=stopped&station=A-1")).json()
    assert ids(stopped) == [a1[1], a1[0]]
    window = {
        "from": (T0 + timedelta(hours=1)).isoformat(),
        "to": (T0 + timedelta(hours=4)).isoformat(),
    }
    in_window = (await viewer.get("/api/v1/transactions", params=window)).json()
    assert ids(in_window) == [a2[0], a1[1]]
    paged = (await viewer.get("/api/v1/transactions", params={"limit": 3, "offset": 3})).json()
    assert ids(paged) == [a1[0]] and paged["total"] == 4

    detail = (await viewer.get(f"/api/v1/transactions/{a1[0]}")).json()
    assert (detail["charge_point_id"], detail["state"], detail["energy_wh"]) == (
        "A-1",
        "stopped",
        1000,
    )
    assert detail["meter_values"] == []
    running_detail = (await viewer.get(f"/api/v1/transactions/{a1[2]}")).json()
    assert (running_detail["state"], running_detail["energy_wh"]) == ("running", 500)

    for params in ({"state": "paused"}, {"from": "yesterday"}, {"from": "2026-03-01T08:00:00"}):
        assert_problem(await viewer.get("/api/v1/transactions", params=params), 422)
    assert_problem(await viewer.get("/api/v1/transactions", params={"limit": 201}), 422)


async def test_another_tenants_transactions_are_404_and_never_listed(world: World) -> None:
    await _stations(world)
    (a_tx,) = await _transactions(world, "A-1", (0, True))
    (b_tx,) = await _transactions(world, "B-1", (1, False))
    b_admin = await world.client("b_admin")
    listed = (await b_admin.get("/api/v1/transactions")).json()
    assert [t["transaction_id"] for t in listed["items"]] == [b_tx] and listed["total"] == 1
    assert_problem(await b_admin.get(f"/api/v1/transactions/{a_tx}"), 404)
    assert_problem(await b_admin.get("/api/v1/transactions", params={"station": "A-1"}), 404)
    assert_problem(await b_admin.get("/api/v1/transactions/999999"), 404)
    assert (await world.node().get("/api/v1/transactions")).json()["total"] == 2


async def test_transactions_need_transactions_read(world: World) -> None:
    await _stations(world)
    (a_tx,) = await _transactions(world, "A-1", (0, True))
    stations_only = await world.api_key("acme", "stations:read")
    assert_problem(await stations_only.get("/api/v1/transactions"), 403)
    assert_problem(await stations_only.get(f"/api/v1/transactions/{a_tx}"), 403)
    reader = await world.api_key("acme", "transactions:read")
    assert (await reader.get(f"/api/v1/transactions/{a_tx}")).status_code == 200
    assert_problem(await (await world.client("driver")).get("/api/v1/transactions"), 403)
    assert_problem(await world.anonymous().get("/api/v1/transactions"), 401)


async def test_the_station_filter_of_another_tenant_is_404(world: World) -> None:
    await _stations(world)
    (a_tx,) = await _transactions(world, "A-1", (0, True))
    admin = await world.client("a_admin")
    page = (await admin.get("/api/v1/transactions", params={"station": "A-1"})).json()
    assert [t["transaction_id"] for t in page["items"]] == [a_tx]
    b_admin = await world.client("b_admin")
    assert_problem(await b_admin.get("/api/v1/transactions?station=A-1"), 404)
