"""Sites API: a tenant's places; another tenant's site is a 404."""

from __future__ import annotations

from api.api_kit import World, assert_problem


async def test_an_admin_creates_lists_changes_and_deletes_sites(world: World) -> None:
    admin = await world.client("a_admin")
    created = await admin.post("/api/v1/sites", json={"name": "Depot", "address": "1 Main St"})
    assert created.status_code == 201, created.text
    site = created.json()
    assert (site["tenant_id"], site["name"], site["address"]) == (world.a, "Depot", "1 Main St")
    assert (await admin.post("/api/v1/sites", json={"name": "Car park"})).is_success

    page = (await admin.get("/api/v1/sites", params={"limit": 1})).json()
    assert page["total"] == 2 and [s["name"] for s in page["items"]] == ["Depot"]
    assert (await admin.get(f"/api/v1/sites/{site['id']}")).json() == site

    renamed = await admin.patch(f"/api/v1/sites/{site['id']}", json={"name": "North depot"})
    assert renamed.json()["name"] == "North depot" and renamed.json()["address"] == "1 Main St"
    cleared = await admin.patch(f"/api/v1/sites/{site['id']}", json={"address": None})
    assert cleared.json()["address"] is None and cleared.json()["name"] == "North depot"

    # A site with stations at it stays until they move.
    station = {"charge_point_id": "A-1", "site_id": site["id"]}
    assert (await admin.post("/api/v1/stations", json=station)).is_success
    at_site = (await admin.get("/api/v1/stations", params={"site_id": site["id"]})).json()
    assert [s["charge_point_id"] for s in at_site["items"]] == ["A-1"]
    assert_problem(await admin.delete(f"/api/v1/sites/{site['id']}"), 409)
    assert (await admin.patch("/api/v1/stations/A-1", json={"site_id": None})).is_success
    assert (await admin.delete(f"/api/v1/sites/{site['id']}")).status_code == 204
    assert_problem(await admin.get(f"/api/v1/sites/{site['id']}"), 404)
    assert (await admin.get("/api/v1/sites")).json()["total"] == 1


async def test_another_tenants_sites_are_404_and_never_listed(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    site = (await a_admin.post("/api/v1/sites", json={"name": "Depot"})).json()
    assert (await b_admin.get("/api/v1/sites")).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    assert_problem(await b_admin.get(f"/api/v1/sites/{site['id']}"), 404)
    assert_problem(await b_admin.patch(f"/api/v1/sites/{site['id']}", json={"name": "x"}), 404)
    assert_problem(await b_admin.delete(f"/api/v1/sites/{site['id']}"), 404)
    assert (await a_admin.get(f"/api/v1/sites/{site['id']}")).json()["name"] == "Depot"
    assert (await world.node().get("/api/v1/sites")).json()["total"] == 1


async def test_viewers_and_keys_without_the_permission(world: World) -> None:
    admin, viewer = await world.client("a_admin"), await world.client("a_viewer")
    site = (await admin.post("/api/v1/sites", json={"name": "Depot"})).json()
    assert (await viewer.get(f"/api/v1/sites/{site['id']}")).status_code == 200
    assert_problem(await viewer.post("/api/v1/sites", json={"name": "x"}), 403)
    assert_problem(await viewer.patch(f"/api/v1/sites/{site['id']}", json={"name": "x"}), 403)
    assert_problem(await viewer.delete(f"/api/v1/sites/{site['id']}"), 403)
    key = await world.api_key("acme", "transactions:read")
    assert_problem(await key.get("/api/v1/sites"), 403)
    assert_problem(await world.anonymous().get("/api/v1/sites"), 401)
    assert_problem(await admin.get("/api/v1/sites", params={"limit": 201}), 422)
    assert_problem(await admin.post("/api/v1/sites", json={"name": ""}), 422)
