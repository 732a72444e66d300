"""The local list API: what an operator sees of a station's list, the token group that limits
it, forced synchronisation; tenants, permissions and bad input."""

from __future__ import annotations

from api.api_kit import World, assert_problem

from support.ocpp_client import lib_charge_point
from support.steps import boot


async def _station(world: World, cp_id: str = "A-1") -> None:
    admin = await world.client("a_admin")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": cp_id})).is_success


async def test_an_operator_reads_the_list_and_what_is_pending(world: World) -> None:
    await _station(world)
    admin = await world.client("a_admin")
    for body in (
        {"id_tag": "CARD-1"},
        {"id_tag": "CARD-2", "status": "Blocked", "token_group": "fleet"},
        {"id_tag": "CARD-3", "parent_id_tag": "CARD-1", "token_group": "fleet"},
    ):
        assert (await admin.post("/api/v1/tokens", json=body)).status_code == 201
    # Another tenant's tokens never go on A's lists.
    b_admin = await world.client("b_admin")
    assert (await b_admin.post("/api/v1/tokens", json={"id_tag": "B-CARD"})).status_code == 201

    view = (await admin.get("/api/v1/stations/A-1/local-list")).json()
    assert (view["state"], view["supported"], view["version"], view["entries"]) == (
        "unknown",
        None,
        0,
        0,
    )
    assert view["desired_entries"] == 3 and view["pending"] == {"upserts": 3, "deletes": 0}
    entries = (await admin.get("/api/v1/stations/A-1/local-list/entries")).json()
    assert [(e["id_tag"], e["status"], e["pending"]) for e in entries] == [
        ("CARD-1", "Accepted", "add"),
        ("CARD-2", "Blocked", "add"),
        ("CARD-3", "Accepted", "add"),
    ]
    assert entries[2]["parent_id_tag"] == "CARD-1" and not entries[2]["on_station"]

    limited = await admin.patch("/api/v1/stations/A-1/local-list", json={"token_group": "fleet"})
    assert limited.status_code == 200, limited.text
    assert (limited.json()["token_group"], limited.json()["desired_entries"]) == ("fleet", 2)
    everything = await admin.patch("/api/v1/stations/A-1/local-list", json={"token_group": None})
    assert everything.json()["desired_entries"] == 3
    assert_problem(
        await admin.patch("/api/v1/stations/A-1/local-list", json={"token_group": "x" * 41}),
        422,
    )


async def test_an_offline_station_is_a_conflict_and_synchronised_later(world: World) -> None:
    await _station(world)
    operator = await world.client("a_operator")
    body = assert_problem(await operator.post("/api/v1/stations/A-1/local-list/sync", json={}), 409)
    assert body["title"] == "Station offline"
    assert_problem(
        await operator.post(
            "/api/v1/stations/A-1/local-list/sync", json={"update_type": "Sometimes"}
        ),
        422,
    )


async def test_a_station_without_the_profile_is_marked_unsupported(world: World) -> None:
    await _station(world)
    operator = await world.client("a_operator")
    async with lib_charge_point(world.server.ws_url("A-1"), "A-1") as cp:
        await boot(cp)
        # The library's charge point answers GetLocalListVersion with CALLERROR NotImplemented.
        synced = await operator.post("/api/v1/stations/A-1/local-list/sync")
        assert synced.status_code == 200, synced.text
    assert synced.json()["outcome"] == "NotSupported"
    view = (await operator.get("/api/v1/stations/A-1/local-list")).json()
    assert (view["state"], view["supported"]) == ("unsupported", False)
    log = (await operator.get("/api/v1/stations/A-1/commands")).json()
    assert [(c["action"], c["requested_by"]) for c in log["items"]] == [
        ("GetLocalListVersion", "local-list")
    ]


async def test_other_tenants_and_missing_permissions(world: World) -> None:
    await _station(world)
    b_operator, viewer = await world.client("b_operator"), await world.client("a_viewer")
    for method, path in (
        ("GET", "/api/v1/stations/A-1/local-list"),
        ("GET", "/api/v1/stations/A-1/local-list/entries"),
        ("POST", "/api/v1/stations/A-1/local-list/sync"),
    ):
        assert_problem(await b_operator.request(method, path, json={}), 404)
    assert_problem(
        await (await world.client("b_admin")).patch(
            "/api/v1/stations/A-1/local-list", json={"token_group": None}
        ),
        404,
    )
    assert (await viewer.get("/api/v1/stations/A-1/local-list")).status_code == 200
    assert_problem(await viewer.post("/api/v1/stations/A-1/local-list/sync", json={}), 403)
    reader = await world.api_key("acme", "stations:read")
    assert_problem(await reader.get("/api/v1/stations/A-1/local-list/entries"), 403)
    assert_problem(await reader.get("/api/v1/stations/NOPE/local-list"), 404)
