"""Tokens API for operators: their tenant's tokens; another tenant's are a 404."""

from __future__ import annotations

from api.api_kit import World, assert_problem


async def test_an_operator_creates_lists_and_changes_tokens(world: World) -> None:
    operator = await world.client("a_operator")
    driver_id = await world.user_id("driver")
    created = await operator.post(
        "/api/v1/tokens",
        json={
            "id_tag": "CARD-1",
            "expiry_date": "2030-01-01T00:00:00Z",
            "parent_id_tag": "FLEET",
            "user_id": driver_id,
        },
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert (token["tenant_id"], token["status"], token["user_id"]) == (
        world.a,
        "Accepted",
        driver_id,
    )
    assert token["expiry_date"].startswith("2030-01-01")
    for n in range(2, 5):
        assert (await operator.post("/api/v1/tokens", json={"id_tag": f"CARD-{n}"})).is_success
    assert_problem(await operator.post("/api/v1/tokens", json={"id_tag": "CARD-1"}), 409)

    page = (await operator.get("/api/v1/tokens", params={"limit": 2, "offset": 1})).json()
    assert [t["id_tag"] for t in page["items"]] == ["CARD-2", "CARD-3"] and page["total"] == 4
    owned = (await operator.get("/api/v1/tokens", params={"user_id": driver_id})).json()
    assert [t["id_tag"] for t in owned["items"]] == ["CARD-1"]

    blocked = await operator.patch(
        "/api/v1/tokens/CARD-1", json={"status": "Blocked", "expiry_date": None, "user_id": None}
    )
    assert blocked.status_code == 200, blocked.text
    assert (blocked.json()["status"], blocked.json()["expiry_date"]) == ("Blocked", None)
    assert blocked.json()["user_id"] is None and blocked.json()["parent_id_tag"] == "FLEET"
    got = (await operator.get("/api/v1/tokens/CARD-1")).json()
    assert got == blocked.json()
    only_blocked = (await operator.get("/api/v1/tokens", params={"status": "Blocked"})).json()
    assert [t["id_tag"] for t in only_blocked["items"]] == ["CARD-1"]

    assert_problem(await operator.patch("/api/v1/tokens/CARD-1", json={"status": "Lost"}), 422)
    assert_problem(await operator.patch("/api/v1/tokens/NOPE", json={}), 404)
    assert_problem(await operator.post("/api/v1/tokens", json={"id_tag": "has space"}), 422)
    assert_problem(await operator.post("/api/v1/tokens", json={"id_tag": "X" * 21}), 422)


async def test_an_owner_must_be_a_user_of_the_same_tenant(world: World) -> None:
    operator = await world.client("a_operator")
    b_driver = await world.user_id("b_driver")
    refused = await operator.post("/api/v1/tokens", json={"id_tag": "C", "user_id": b_driver})
    assert_problem(refused, 404)
    assert_problem(
        await operator.post("/api/v1/tokens", json={"id_tag": "C", "user_id": 9999}), 404
    )
    assert (await operator.post("/api/v1/tokens", json={"id_tag": "C"})).is_success
    assert_problem(await operator.patch("/api/v1/tokens/C", json={"user_id": b_driver}), 404)
    assert (await operator.get("/api/v1/tokens/C")).json()["user_id"] is None


async def test_another_tenants_tokens_are_404_and_never_listed(world: World) -> None:
    a_operator, b_operator = await world.client("a_operator"), await world.client("b_operator")
    assert (await a_operator.post("/api/v1/tokens", json={"id_tag": "A-CARD"})).is_success
    assert (await b_operator.get("/api/v1/tokens")).json()["total"] == 0
    assert_problem(await b_operator.get("/api/v1/tokens/A-CARD"), 404)
    assert_problem(await b_operator.patch("/api/v1/tokens/A-CARD", json={"status": "Blocked"}), 404)
    assert_problem(await b_operator.get("/api/v1/tokens/A-CARD", params={"tenant": "acme"}), 404)
    # The same id tag may exist in both tenants: they are separate tokens.
    assert (await b_operator.post("/api/v1/tokens", json={"id_tag": "A-CARD"})).status_code == 201
    assert (await a_operator.get("/api/v1/tokens/A-CARD")).json()["tenant_id"] == world.a
    assert (await b_operator.get("/api/v1/tokens/A-CARD")).json()["tenant_id"] == world.b
    assert (await a_operator.get("/api/v1/tokens/A-CARD")).json()["status"] == "Accepted"


async def test_a_platform_admin_names_the_tenant_of_an_ambiguous_id_tag(world: World) -> None:
    platform = world.node()
    assert (
        await platform.post("/api/v1/tokens", json={"id_tag": "T", "tenant": "acme"})
    ).is_success
    assert (await platform.get("/api/v1/tokens/T")).json()["tenant_id"] == world.a
    assert (
        await platform.post("/api/v1/tokens", json={"id_tag": "T", "tenant": "bolt"})
    ).is_success
    assert_problem(await platform.get("/api/v1/tokens/T"), 409)
    in_bolt = await platform.patch(
        "/api/v1/tokens/T", params={"tenant": "bolt"}, json={"status": "Blocked"}
    )
    assert (in_bolt.json()["tenant_id"], in_bolt.json()["status"]) == (world.b, "Blocked")
    by_id = await platform.get("/api/v1/tokens/T", params={"tenant": str(world.a)})
    assert by_id.json()["status"] == "Accepted"
    assert (await platform.get("/api/v1/tokens")).json()["total"] == 2
    assert (await platform.get("/api/v1/tokens", params={"tenant": "bolt"})).json()["total"] == 1
    assert_problem(await platform.get("/api/v1/tokens", params={"tenant": "nope"}), 404)


async def test_viewers_and_keys_without_the_permission(world: World) -> None:
    operator, viewer = await world.client("a_operator"), await world.client("a_viewer")
    assert (await operator.post("/api/v1/tokens", json={"id_tag": "C"})).is_success
    assert (await viewer.get("/api/v1/tokens")).json()["total"] == 1
    assert (await viewer.get("/api/v1/tokens/C")).status_code == 200
    assert_problem(await viewer.post("/api/v1/tokens", json={"id_tag": "D"}), 403)
    assert_problem(await viewer.patch("/api/v1/tokens/C", json={"status": "Blocked"}), 403)
    key = await world.api_key("acme", "stations:read", "stations:write")
    assert_problem(await key.get("/api/v1/tokens"), 403)
    assert_problem(await key.post("/api/v1/tokens", json={"id_tag": "D"}), 403)
    writer = await world.api_key("acme", "tokens:write")
    assert (await writer.post("/api/v1/tokens", json={"id_tag": "D"})).status_code == 201
    assert_problem(await writer.get("/api/v1/tokens"), 403)
    assert_problem(await (await world.client("driver")).get("/api/v1/tokens"), 403)
    assert_problem(await world.anonymous().get("/api/v1/tokens"), 401)
    assert_problem(await operator.get("/api/v1/tokens", params={"limit": 201}), 422)
