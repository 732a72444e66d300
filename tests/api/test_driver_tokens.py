"""Drivers manage their own cards at /api/v1/me/tokens, and never see anybody else's."""

from __future__ import annotations

from ocpp.v16 import call

from api.api_kit import World, assert_problem

from support.ocpp_client import lib_charge_point
from support.steps import boot, now_iso


async def test_a_driver_adds_and_lists_only_their_own_cards(world: World) -> None:
    driver, other = await world.client("driver"), await world.client("other_driver")
    added = await driver.post("/api/v1/me/tokens", json={"id_tag": "MY-CARD"})
    assert added.status_code == 201, added.text
    assert (added.json()["id_tag"], added.json()["status"]) == ("MY-CARD", "Accepted")
    assert (await driver.post("/api/v1/me/tokens", json={"id_tag": "MY-OTHER"})).is_success
    assert (await other.post("/api/v1/me/tokens", json={"id_tag": "THEIRS"})).is_success

    mine = (await driver.get("/api/v1/me/tokens")).json()
    assert [t["id_tag"] for t in mine["items"]] == ["MY-CARD", "MY-OTHER"] and mine["total"] == 2
    page = (await driver.get("/api/v1/me/tokens", params={"limit": 1, "offset": 1})).json()
    assert [t["id_tag"] for t in page["items"]] == ["MY-OTHER"] and page["total"] == 2
    assert_problem(await driver.get("/api/v1/me/tokens", params={"limit": 201}), 422)
    theirs = (await other.get("/api/v1/me/tokens")).json()
    assert [t["id_tag"] for t in theirs["items"]] == ["THEIRS"]

    # An id tag the tenant knows is taken, whoever holds it (an operator's card included).
    assert_problem(await driver.post("/api/v1/me/tokens", json={"id_tag": "THEIRS"}), 409)
    operator = await world.client("a_operator")
    assert (await operator.post("/api/v1/tokens", json={"id_tag": "FLEET-1"})).is_success
    assert_problem(await driver.post("/api/v1/me/tokens", json={"id_tag": "FLEET-1"}), 409)
    assert_problem(await driver.post("/api/v1/me/tokens", json={"id_tag": ""}), 422)

    # The operator sees whose card it is.
    listed = await operator.get("/api/v1/tokens", params={"user_id": await world.user_id("driver")})
    assert [t["id_tag"] for t in listed.json()["items"]] == ["MY-CARD", "MY-OTHER"]
    # Another tenant's driver may hold the same id tag: tenants are separate.
    b_driver = await world.client("b_driver")
    assert (await b_driver.post("/api/v1/me/tokens", json={"id_tag": "MY-CARD"})).status_code == 201


async def test_a_driver_cannot_touch_another_drivers_card(world: World) -> None:
    driver, other = await world.client("driver"), await world.client("other_driver")
    assert (await other.post("/api/v1/me/tokens", json={"id_tag": "THEIRS"})).is_success
    for action in ("block", "unblock"):
        assert_problem(await driver.post(f"/api/v1/me/tokens/THEIRS/{action}"), 404)
    assert_problem(await driver.delete("/api/v1/me/tokens/THEIRS"), 404)
    assert (await other.get("/api/v1/me/tokens")).json()["items"][0]["status"] == "Accepted"


async def test_blocking_a_card_refuses_it_at_the_charger(world: World) -> None:
    admin, driver = await world.client("a_admin"), await world.client("driver")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    assert (await driver.post("/api/v1/me/tokens", json={"id_tag": "MY-CARD"})).is_success
    async with lib_charge_point(world.server.ws_url("A-1"), "A-1") as cp:
        await boot(cp)
        assert (await cp.call(call.Authorize(id_tag="MY-CARD"))).id_tag_info["status"] == "Accepted"
        blocked = await driver.post("/api/v1/me/tokens/MY-CARD/block")
        assert blocked.status_code == 200 and blocked.json()["status"] == "Blocked"
        assert (await cp.call(call.Authorize(id_tag="MY-CARD"))).id_tag_info["status"] == "Blocked"

    # The driver undoes their own block …
    undone = await driver.post("/api/v1/me/tokens/MY-CARD/unblock")
    assert undone.status_code == 200 and undone.json()["status"] == "Accepted"
    # … but not an operator's: only an operator lifts that.
    operator = await world.client("a_operator")
    assert (await operator.patch("/api/v1/tokens/MY-CARD", json={"status": "Blocked"})).is_success
    assert_problem(await driver.post("/api/v1/me/tokens/MY-CARD/unblock"), 409)
    lifted = await operator.patch("/api/v1/tokens/MY-CARD", json={"status": "Accepted"})
    assert lifted.json()["status"] == "Accepted"
    # Unblocking a card that is not blocked changes nothing.
    unchanged = await driver.post("/api/v1/me/tokens/MY-CARD/unblock")
    assert unchanged.status_code == 200 and unchanged.json()["status"] == "Accepted"


async def test_a_card_is_removed_only_without_a_running_transaction(world: World) -> None:
    admin, driver = await world.client("a_admin"), await world.client("driver")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    assert (await driver.post("/api/v1/me/tokens", json={"id_tag": "MY-CARD"})).is_success
    async with lib_charge_point(world.server.ws_url("A-1"), "A-1") as cp:
        await boot(cp)
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="MY-CARD", meter_start=0, timestamp=now_iso()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        assert_problem(await driver.delete("/api/v1/me/tokens/MY-CARD"), 409)
        await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id, meter_stop=1200, timestamp=now_iso()
            )
        )
        removed = await driver.delete("/api/v1/me/tokens/MY-CARD")
        assert removed.status_code == 204, removed.text
        assert (await driver.get("/api/v1/me/tokens")).json()["total"] == 0
        # The card no longer authorizes, and its transaction keeps its history.
        assert (await cp.call(call.Authorize(id_tag="MY-CARD"))).id_tag_info["status"] == "Invalid"
    tx = (await admin.get(f"/api/v1/transactions/{start.transaction_id}")).json()
    assert (tx["id_tag"], tx["state"], tx["energy_wh"]) == ("MY-CARD", "stopped", 1200)
    kept = (await admin.get("/api/v1/tokens/MY-CARD")).json()
    assert (kept["status"], kept["user_id"]) == ("Invalid", None)
    assert_problem(await driver.delete("/api/v1/me/tokens/MY-CARD"), 404)


async def test_the_card_endpoints_are_for_drivers(world: World) -> None:
    for name in ("a_admin", "platform"):
        http = await world.client(name)
        assert_problem(await http.get("/api/v1/me/tokens"), 403)
        assert_problem(await http.post("/api/v1/me/tokens", json={"id_tag": "X"}), 403)
    assert_problem(await world.node().get("/api/v1/me/tokens"), 403)
    key = await world.api_key("acme", "tokens:read", "tokens:write")
    assert_problem(await key.get("/api/v1/me/tokens"), 403)
    assert_problem(await world.anonymous().get("/api/v1/me/tokens"), 401)
    assert_problem(await world.anonymous().delete("/api/v1/me/tokens/X"), 401)
