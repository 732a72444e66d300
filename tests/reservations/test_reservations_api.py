"""The reservations API: drivers reserve, see and cancel their own; a reserved connector starts
only for the reserving driver; operators work on their tenant's; bad input is a 4xx problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from api.api_kit import World, assert_problem
from kilowatt.reservations import service
from kilowatt.stations import repository as stations
from kilowatt.tokens import service as tokens

from support.ocpp_client import LibChargePoint, lib_charge_point
from support.steps import boot, status

CP = "RES-A-1"


async def card(world: World, owner: str | None, id_tag: str, tenant: str = "acme") -> str:
    user_id = None if owner is None else await world.user_id(owner)
    async with world.server.node.sessions() as db:
        token = await tokens.create(db, world.tenants[tenant], id_tag)
        token.user_id = user_id
        await db.commit()
    return id_tag


async def evse(world: World, cp: str, connector: int) -> str:
    async with world.server.node.sessions() as db:
        station = await stations.by_charge_point_id(db, cp)
        assert station is not None
    return f"DE*KWT*E{station.id}*{connector}"


@asynccontextmanager
async def station(
    world: World, cp: str = CP, tenant: str = "acme"
) -> AsyncIterator[LibChargePoint]:
    """A connected ``ocpp``-library charger of ``tenant`` with connectors 1 and 2 Available."""
    admin = world.node()
    created = await admin.post(
        "/api/v1/stations", json={"charge_point_id": cp, "connectors": 2, "tenant": tenant}
    )
    assert created.status_code == 201, created.text
    async with lib_charge_point(world.server.ws_url(cp), cp) as charger:
        await boot(charger)
        yield charger


async def test_a_driver_reserves_and_only_they_can_start_there(world: World) -> None:
    await card(world, "driver", "RES-DRV")
    await card(world, "other_driver", "RES-OTHER")
    driver, other = await world.client("driver"), await world.client("other_driver")
    async with station(world) as cp:
        gun = await evse(world, CP, 1)
        made = await driver.post("/api/v1/reservations", json={"connector": gun, "minutes": 30})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["state"], body["idTag"], body["evseId"]) == ("accepted", "RES-DRV", gun)
        assert "reserved for you until" in body["message"]
        action, sent = await cp.next_command()
        assert (action, sent["id_tag"], sent["connector_id"]) == ("ReserveNow", "RES-DRV", 1)
        await status(cp, 1, "Reserved")

        public = (await world.anonymous().get(f"/api/v1/connectors/{gun}")).json()
        assert public["canStart"] is False and "reserved until" in public["message"]
        refused = await other.post("/api/v1/sessions", json={"connector": gun})
        assert "reserved for another driver" in assert_problem(refused, 409)["detail"]
        again = await other.post("/api/v1/reservations", json={"connector": gun})
        assert_problem(again, 409)

        started = await driver.post("/api/v1/sessions", json={"connector": gun})
        assert started.status_code == 201, started.text
        action, sent = await cp.next_command()
        assert (action, sent["id_tag"], sent["connector_id"]) == (
            "RemoteStartTransaction",
            "RES-DRV",
            1,
        )

        mine = (await driver.get("/api/v1/reservations")).json()
        assert [r["reservationId"] for r in mine["items"]] == [body["reservationId"]]
        assert (await other.get("/api/v1/reservations")).json()["total"] == 0
        hidden = await other.get(f"/api/v1/reservations/{body['reservationId']}")
        assert_problem(hidden, 404)
        assert_problem(await other.delete(f"/api/v1/reservations/{body['reservationId']}"), 404)

        cancelled = await driver.delete(f"/api/v1/reservations/{body['reservationId']}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
        assert (await cp.next_command())[0] == "CancelReservation"
        twice = await driver.delete(f"/api/v1/reservations/{body['reservationId']}")
        assert_problem(twice, 409)


async def test_operators_reserve_for_a_card_and_see_their_tenant_only(world: World) -> None:
    await card(world, None, "RES-FLEET")
    operator, viewer = await world.client("a_operator"), await world.client("a_viewer")
    async with station(world) as cp:
        missing = await operator.post(
            "/api/v1/reservations", json={"station": CP, "connector_number": 2}
        )
        assert_problem(missing, 422)
        made = await operator.post(
            "/api/v1/reservations",
            json={"station": CP, "connector_number": 2, "id_tag": "RES-FLEET"},
        )
        assert made.status_code == 201, made.text
        reservation_id = made.json()["reservationId"]
        assert made.json()["userId"] is None
        await cp.next_command()
        assert_problem(
            await viewer.post(
                "/api/v1/reservations",
                json={"station": CP, "connector_number": 1, "id_tag": "RES-FLEET"},
            ),
            403,
        )
        listed = await viewer.get("/api/v1/reservations", params={"station": CP, "active": True})
        assert [r["reservationId"] for r in listed.json()["items"]] == [reservation_id]
        b_admin = await world.client("b_admin")
        assert (await b_admin.get("/api/v1/reservations")).json()["total"] == 0
        assert_problem(await b_admin.get(f"/api/v1/reservations/{reservation_id}"), 404)
        assert_problem(await b_admin.get("/api/v1/reservations", params={"station": CP}), 404)
        assert_problem(await b_admin.delete(f"/api/v1/reservations/{reservation_id}"), 404)
        reader = await world.api_key("acme", "stations:read")
        assert_problem(await reader.get("/api/v1/reservations"), 403)
        # Not the other tenant's card, even by name.
        await card(world, None, "RES-BOLT", tenant="bolt")
        foreign = await operator.post(
            "/api/v1/reservations",
            json={"station": CP, "connector_number": 1, "id_tag": "RES-BOLT"},
        )
        assert_problem(foreign, 404)


async def test_refusals_and_bad_input(world: World) -> None:
    await card(world, "driver", "RES-BAD")
    driver = await world.client("driver")
    async with station(world) as cp:
        gun = await evse(world, CP, 1)
        soon = datetime.now(UTC) + timedelta(minutes=5)
        bad: list[dict[str, Any]] = [
            {},
            {"connector": gun, "minutes": 0},
            {"connector": gun, "minutes": 24 * 60 + 1},
            {"connector": gun, "minutes": 5, "expires_at": soon.isoformat()},
            {"connector": gun, "expires_at": "2020-01-01T00:00:00Z"},
            {"connector": gun, "expires_at": "2020-01-01T00:00:00"},  # naive
            {"station": CP, "connector_number": -1},
            {"connector": gun, "id_tag": "X" * 21},
        ]
        for body in bad:
            assert_problem(await driver.post("/api/v1/reservations", json=body), 422)
        assert_problem(await driver.post("/api/v1/reservations", json={"connector": "nope"}), 404)
        assert_problem(
            await driver.post("/api/v1/reservations", json={"station": CP, "connector_number": 9}),
            404,
        )
        assert_problem(
            await driver.post(
                "/api/v1/reservations", json={"connector": gun, "id_tag": "NOT-MINE"}
            ),
            404,
        )
        assert_problem(await driver.get("/api/v1/reservations", params={"state": "bogus"}), 422)
        assert_problem(await driver.get("/api/v1/reservations/0"), 422)
        assert_problem(await driver.get("/api/v1/reservations/99999"), 404)
        cp.answers["ReserveNow"] = "Occupied"
        occupied = await driver.post("/api/v1/reservations", json={"connector": gun})
        assert occupied.status_code == 409 and occupied.json()["state"] == "occupied"
        assert "in use or already reserved" in occupied.json()["message"]
    # The charger went away: refused before anything is sent.
    offline = await driver.post("/api/v1/reservations", json={"connector": gun})
    assert "offline" in assert_problem(offline, 503)["detail"]


async def test_a_driver_without_a_card_is_told_to_add_one(world: World) -> None:
    driver = await world.client("driver")
    async with station(world):
        gun = await evse(world, CP, 1)
        answer = await driver.post("/api/v1/reservations", json={"connector": gun})
    assert "add a charge tag" in assert_problem(answer, 422)["detail"]


async def test_the_expiry_task_ends_reservations_past_their_expiry(world: World) -> None:
    """The charger expires a reservation itself (§5.13); our record follows by time even when
    no StatusNotification comes (the expiry task's step)."""
    await card(world, "driver", "RES-EXP")
    driver = await world.client("driver")
    async with station(world) as cp:
        gun = await evse(world, CP, 2)
        made = await driver.post("/api/v1/reservations", json={"connector": gun, "minutes": 1})
        assert made.status_code == 201, made.text
        await cp.next_command()
    node = world.server.node
    async with node.sessions() as db:
        assert await service.expire_due(db, datetime.now(UTC)) == 0
        assert await service.expire_due(db, datetime.now(UTC) + timedelta(minutes=2)) == 1
        await db.commit()
    ended = (await driver.get(f"/api/v1/reservations/{made.json()['reservationId']}")).json()
    assert (ended["state"], ended["active"]) == ("expired", False)
