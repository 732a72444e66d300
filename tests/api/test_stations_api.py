"""Stations API: scoped to the caller's tenant; another tenant's station is a 404, never a 403."""

from __future__ import annotations

from api.api_kit import World, assert_problem


async def test_an_admin_registers_reads_and_changes_their_stations(world: World) -> None:
    admin = await world.client("a_admin")
    site = (await admin.post("/api/v1/sites", json={"name": "Depot"})).json()
    created = await admin.post(
        "/api/v1/stations",
        json={"charge_point_id": "A-1", "connectors": 2, "site_id": site["id"]},
    )
    assert created.status_code == 201, created.text
    station = created.json()
    assert (station["tenant_id"], station["site_id"]) == (world.a, site["id"])
    assert station["online"] is False and station["connected"] is False

    got = (await admin.get("/api/v1/stations/A-1")).json()
    assert [c["connector_id"] for c in got["connectors"]] == [0, 1, 2]
    connectors = (await admin.get("/api/v1/stations/A-1/connectors")).json()
    assert connectors["total"] == 3 and connectors["items"][0]["status"] == "Unavailable"

    patched = await admin.patch(
        "/api/v1/stations/A-1",
        json={"registration_status": "Pending", "password": "0123456789abcdef", "site_id": None},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["registration_status"] == "Pending"
    assert patched.json()["basic_auth"] is True and patched.json()["site_id"] is None

    listed = (await admin.get("/api/v1/stations")).json()
    assert [s["charge_point_id"] for s in listed["items"]] == ["A-1"]
    assert (listed["total"], listed["limit"], listed["offset"]) == (1, 50, 0)
    assert (await admin.get("/api/v1/stations/A-1/messages")).json() == []
    commands = (await admin.get("/api/v1/stations/A-1/commands")).json()
    assert commands == {"items": [], "total": 0, "limit": 50, "offset": 0}

    duplicate = await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})
    assert_problem(duplicate, 409)


async def test_another_tenants_stations_are_404_and_never_listed(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    assert (await a_admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    assert (await b_admin.post("/api/v1/stations", json={"charge_point_id": "B-1"})).is_success

    listed = (await b_admin.get("/api/v1/stations")).json()
    assert [s["charge_point_id"] for s in listed["items"]] == ["B-1"] and listed["total"] == 1
    for path in ("", "/connectors", "/messages", "/commands"):
        assert_problem(await b_admin.get(f"/api/v1/stations/A-1{path}"), 404)
    assert_problem(await b_admin.patch("/api/v1/stations/A-1", json={}), 404)
    # The answer is the same as for a station that does not exist at all.
    missing = await b_admin.get("/api/v1/stations/NOPE")
    assert_problem(missing, 404)
    assert (await b_admin.get("/api/v1/stations/A-1")).json()["title"] == missing.json()["title"]

    # The node key (a platform admin) sees every tenant's.
    everything = (await world.node().get("/api/v1/stations")).json()
    assert [s["charge_point_id"] for s in everything["items"]] == ["A-1", "B-1"]


async def test_a_station_is_placed_only_at_a_site_of_its_own_tenant(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    b_site = (await b_admin.post("/api/v1/sites", json={"name": "B yard"})).json()
    refused = await a_admin.post(
        "/api/v1/stations", json={"charge_point_id": "A-1", "site_id": b_site["id"]}
    )
    assert_problem(refused, 404)
    assert (await a_admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    assert_problem(await a_admin.patch("/api/v1/stations/A-1", json={"site_id": b_site["id"]}), 404)
    # Nor can a tenant's admin create a station in another tenant.
    elsewhere = await a_admin.post(
        "/api/v1/stations", json={"charge_point_id": "A-2", "tenant": "bolt"}
    )
    assert_problem(elsewhere, 404)
    own = await a_admin.post("/api/v1/stations", json={"charge_point_id": "A-2", "tenant": "acme"})
    assert own.status_code == 201


async def test_a_platform_admin_creates_in_a_named_tenant(world: World) -> None:
    platform = await world.client("platform")
    by_slug = await platform.post(
        "/api/v1/stations", json={"charge_point_id": "X", "tenant": "bolt"}
    )
    by_id = await platform.post(
        "/api/v1/stations", json={"charge_point_id": "Y", "tenant": world.a}
    )
    default = await platform.post("/api/v1/stations", json={"charge_point_id": "Z"})
    assert by_slug.json()["tenant_id"] == world.b
    assert by_id.json()["tenant_id"] == world.a
    assert default.status_code == 201 and default.json()["tenant_id"] not in (world.a, world.b)
    unknown = await platform.post(
        "/api/v1/stations", json={"charge_point_id": "W", "tenant": "nope"}
    )
    assert_problem(unknown, 404)
    b_stations = (await (await world.client("b_admin")).get("/api/v1/stations")).json()
    assert [s["charge_point_id"] for s in b_stations["items"]] == ["X"]


async def test_viewers_read_but_do_not_write(world: World) -> None:
    admin, viewer = await world.client("a_admin"), await world.client("a_viewer")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    assert (await viewer.get("/api/v1/stations")).json()["total"] == 1
    assert (await viewer.get("/api/v1/stations/A-1")).status_code == 200
    assert_problem(await viewer.post("/api/v1/stations", json={"charge_point_id": "A-2"}), 403)
    assert_problem(await viewer.patch("/api/v1/stations/A-1", json={}), 403)
    # Operators act on stations (commands) but do not register or configure them.
    operator = await world.client("a_operator")
    assert_problem(await operator.patch("/api/v1/stations/A-1", json={}), 403)


async def test_api_keys_get_what_their_permissions_allow(world: World) -> None:
    admin = await world.client("a_admin")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    tokens_only = await world.api_key("acme", "tokens:read")
    assert_problem(await tokens_only.get("/api/v1/stations"), 403)
    assert_problem(await tokens_only.get("/api/v1/stations/A-1"), 403)
    reader = await world.api_key("acme", "stations:read")
    assert (await reader.get("/api/v1/stations/A-1")).status_code == 200
    assert_problem(await reader.post("/api/v1/stations", json={"charge_point_id": "K"}), 403)
    other_tenant = await world.api_key("bolt", "stations:read", "stations:write")
    assert_problem(await other_tenant.get("/api/v1/stations/A-1"), 404)
    writer = await world.api_key("acme", "stations:write")
    created = await writer.post("/api/v1/stations", json={"charge_point_id": "K"})
    assert created.status_code == 201 and created.json()["tenant_id"] == world.a


async def test_missing_or_bad_credentials_are_401_and_drivers_403(world: World) -> None:
    for http in (
        world.anonymous(),
        world.anonymous(**{"X-API-Key": "kw_000000000000_nope"}),
        world.anonymous(Authorization="Bearer not-a-jwt"),
    ):
        assert_problem(await http.get("/api/v1/stations"), 401)
        assert_problem(await http.post("/api/v1/stations", json={"charge_point_id": "x"}), 401)
    driver = await world.client("driver")
    assert_problem(await driver.get("/api/v1/stations"), 403)


async def test_pagination_bounds_and_totals(world: World) -> None:
    admin = await world.client("a_admin")
    for n in range(5):
        assert (await admin.post("/api/v1/stations", json={"charge_point_id": f"A-{n}"})).is_success
    first = (await admin.get("/api/v1/stations", params={"limit": 2})).json()
    last = (await admin.get("/api/v1/stations", params={"limit": 2, "offset": 4})).json()
    beyond = (await admin.get("/api/v1/stations", params={"offset": 10})).json()
    assert [s["charge_point_id"] for s in first["items"]] == ["A-0", "A-1"]
    assert [s["charge_point_id"] for s in last["items"]] == ["A-4"]
    assert (first["total"], last["total"], beyond["total"], beyond["items"]) == (5, 5, 5, [])
    assert (last["limit"], last["offset"]) == (2, 4)
    assert (await admin.get("/api/v1/stations", params={"limit": 200})).status_code == 200
    for params in ({"limit": 201}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        assert_problem(await admin.get("/api/v1/stations", params=params), 422)
    # Another tenant's count does not include these.
    b_admin = await world.client("b_admin")
    assert (await b_admin.get("/api/v1/stations")).json()["total"] == 0


async def test_ids_beyond_the_database_range_are_refused_not_500(world: World) -> None:
    """PostgreSQL rejects an int4 parameter above 2**31 - 1; the API answers before that."""
    admin, platform = await world.client("a_admin"), world.node()
    huge = 2**40
    for response in (
        await admin.get(f"/api/v1/transactions/{huge}"),
        await admin.get(f"/api/v1/sites/{huge}"),
        await admin.get("/api/v1/stations", params={"site_id": huge}),
        await admin.get("/api/v1/stations", params={"offset": huge}),
        await admin.get("/api/v1/tokens", params={"user_id": huge}),
        await admin.post("/api/v1/stations", json={"charge_point_id": "Z", "site_id": huge}),
        await platform.post("/api/v1/stations", json={"charge_point_id": "Z", "tenant": huge}),
        await platform.post("/api/v1/stations", json={"charge_point_id": "Z", "tenant": "x" * 65}),
    ):
        assert_problem(response, 422)
    assert_problem(await platform.get("/api/v1/tokens", params={"tenant": str(huge)}), 404)
