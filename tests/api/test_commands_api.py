"""Commands API: sent to the stations of the caller's tenant, read where the station is visible."""

from __future__ import annotations

from api.api_kit import World, assert_problem

from support.ocpp_client import lib_charge_point
from support.steps import boot


async def test_an_operator_commands_their_station_and_reads_the_log(world: World) -> None:
    admin, operator = await world.client("a_admin"), await world.client("a_operator")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    async with lib_charge_point(world.server.ws_url("A-1"), "A-1") as cp:
        await boot(cp)
        sent = await operator.post("/api/v1/stations/A-1/commands/Reset", json={"type": "Soft"})
        assert sent.status_code == 200, sent.text
        command = sent.json()
        assert (command["charge_point_id"], command["outcome"]) == ("A-1", "Accepted")
        assert command["requested_by"] == f"user:{await world.user_id('a_operator')}"
        assert await cp.next_command() == ("Reset", {"type": "Soft"})
        cleared = await operator.post("/api/v1/stations/A-1/commands/ClearCache", json={})
        assert cleared.json()["outcome"] == "Accepted"

    got = await operator.get(f"/api/v1/commands/{command['id']}")
    assert got.status_code == 200 and got.json()["outcome"] == "Accepted"
    log = (await operator.get("/api/v1/stations/A-1/commands", params={"limit": 1})).json()
    assert log["total"] == 2 and [c["action"] for c in log["items"]] == ["ClearCache"]
    older = (await operator.get("/api/v1/stations/A-1/commands?limit=1&offset=1")).json()
    assert [c["id"] for c in older["items"]] == [command["id"]]
    assert_problem(await operator.get("/api/v1/stations/A-1/commands?limit=201"), 422)
    # The message log has the frames of both commands.
    frames = (await operator.get("/api/v1/stations/A-1/messages")).json()
    assert {"Reset", "ClearCache"} <= {f["action"] for f in frames if f["direction"] == "out"}


async def test_another_tenants_station_and_commands_are_404(world: World) -> None:
    a_admin, b_operator = await world.client("a_admin"), await world.client("b_operator")
    assert (await a_admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    # Offline: the command is recorded with that outcome, and still belongs to A.
    sent = await a_admin.post("/api/v1/stations/A-1/commands/ClearCache", json={})
    assert sent.json()["outcome"] == "Offline"
    command_id = sent.json()["id"]

    assert_problem(await b_operator.post("/api/v1/stations/A-1/commands/ClearCache", json={}), 404)
    assert_problem(await b_operator.get(f"/api/v1/commands/{command_id}"), 404)
    assert_problem(await b_operator.get(f"/api/v1/commands/{command_id}?wait=30"), 404)
    assert_problem(await b_operator.get("/api/v1/stations/A-1/commands"), 404)
    assert_problem(await b_operator.get("/api/v1/commands/no-such-command"), 404)
    # B's refused attempt left nothing in A's log.
    log = (await a_admin.get("/api/v1/stations/A-1/commands")).json()
    assert [c["id"] for c in log["items"]] == [command_id]


async def test_viewers_read_commands_but_do_not_send(world: World) -> None:
    admin, viewer = await world.client("a_admin"), await world.client("a_viewer")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    command_id = (await admin.post("/api/v1/stations/A-1/commands/ClearCache", json={})).json()[
        "id"
    ]
    assert_problem(await viewer.post("/api/v1/stations/A-1/commands/ClearCache", json={}), 403)
    assert (await viewer.get(f"/api/v1/commands/{command_id}")).status_code == 200
    assert (await viewer.get("/api/v1/stations/A-1/commands")).json()["total"] == 1


async def test_api_keys_need_commands_send_to_send(world: World) -> None:
    admin = await world.client("a_admin")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "A-1"})).is_success
    reader = await world.api_key("acme", "stations:read")
    assert_problem(await reader.post("/api/v1/stations/A-1/commands/ClearCache", json={}), 403)
    sender = await world.api_key("acme", "commands:send")
    sent = await sender.post("/api/v1/stations/A-1/commands/ClearCache", json={})
    assert sent.status_code == 200 and sent.json()["requested_by"].startswith("api_key:")
    # Sending is not reading: this key may not read the command back.
    assert_problem(await sender.get(f"/api/v1/commands/{sent.json()['id']}"), 403)
    assert_problem(await world.anonymous().get(f"/api/v1/commands/{sent.json()['id']}"), 401)
    # Invalid commands are still 422 problems, as before.
    invalid = await sender.post("/api/v1/stations/A-1/commands/Reset", json={"type": "Sideways"})
    assert assert_problem(invalid, 422)["code"] == "InvalidPayload"
