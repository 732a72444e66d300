"""The smart-charging API: validation (422, nothing sent), permissions, tenants, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.api_kit import World, assert_problem

from support.charging_profiles import profile

T0 = datetime(2026, 6, 1, tzinfo=UTC)
PATH = "/api/v1/stations/A-1/charging-profiles"


async def _stations(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    for http, cp in ((a_admin, "A-1"), (b_admin, "B-1")):
        assert (await http.post("/api/v1/stations", json={"charge_point_id": cp})).is_success


async def _commands_sent(world: World, cp: str) -> int:
    response = await world.node().get(f"/api/v1/stations/{cp}/commands")
    total: int = response.json()["total"]
    return total


BAD: list[tuple[str, int, dict[str, Any], str]] = [
    (
        "station max on a connector",
        1,
        profile(purpose="ChargePointMaxProfile", start=T0),
        "connectorId",
    ),
    ("tx profile on connector 0", 0, profile(purpose="TxProfile", kind="Relative"), "connectorId"),
    (
        "tx profile without a transaction",
        1,
        profile(purpose="TxProfile", kind="Relative"),
        "csChargingProfiles.chargingProfilePurpose",
    ),
    (
        "absolute without its start",
        1,
        profile(kind="Absolute"),
        "csChargingProfiles.chargingSchedule.startSchedule",
    ),
    (
        "relative with a start",
        1,
        profile(kind="Relative", start=T0),
        "csChargingProfiles.chargingSchedule.startSchedule",
    ),
    (
        "recurring without its kind",
        1,
        profile(kind="Recurring", start=T0),
        "csChargingProfiles.recurrencyKind",
    ),
    (
        "recurrency on an absolute profile",
        1,
        profile(start=T0, recurrency="Daily"),
        "csChargingProfiles.recurrencyKind",
    ),
    (
        "first period not at 0",
        1,
        profile(start=T0, periods=[(60, 16)]),
        "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].startPeriod",
    ),
    (
        "periods not ascending",
        1,
        profile(start=T0, periods=[(0, 16), (600, 10), (300, 8)]),
        "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[2].startPeriod",
    ),
    (
        "two fraction digits",
        1,
        profile(start=T0, periods=[(0, 16.25)]),
        "csChargingProfiles",  # the schema's multipleOf 0.1 says so first
    ),
    (
        "valid to before valid from",
        1,
        profile(start=T0, valid_from=T0, valid_to=T0 - timedelta(hours=1)),
        "csChargingProfiles.validTo",
    ),
    (
        "a transaction on a default profile",
        1,
        profile(start=T0, transaction_id=5),
        "csChargingProfiles.transactionId",
    ),
    (
        # the OCPP schemas are bounded to 32-bit integers: refused as a schema violation
        "an id past 32 bits",
        1,
        profile(id=2**31, start=T0),
        "csChargingProfiles",
    ),
    ("unit kW (schema)", 1, profile(start=T0, unit="kW"), "csChargingProfiles"),
    (
        "no schedule (schema)",
        1,
        {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile"},
        "csChargingProfiles",
    ),
]


async def test_bad_profiles_are_refused_with_a_clear_problem_and_nothing_is_sent(
    world: World,
) -> None:
    await _stations(world)
    operator = await world.client("a_operator")
    details: dict[str, str] = {}
    for name, connector, body, field in BAD:
        response = await operator.post(PATH, json={"connector_id": connector, "profile": body})
        problem = assert_problem(response, 422)
        assert problem["code"] == "InvalidChargingProfile", name
        assert field in [v["field"] for v in problem["violations"]], (name, problem)
        details[name] = problem["detail"]
    assert "chargingSchedulePeriod[0].limit" in details["two fraction digits"]
    assert await _commands_sent(world, "A-1") == 0
    history = (await operator.get(PATH)).json()
    assert history["history"] == [] and history["installed"] == []


async def test_operators_set_viewers_read_other_tenants_see_nothing(world: World) -> None:
    await _stations(world)
    operator, viewer = await world.client("a_operator"), await world.client("a_viewer")
    body = {"connector_id": 1, "profile": profile(start=T0)}
    sent = await operator.post(PATH, json=body, params={"wait": 5})
    assert sent.status_code == 200, sent.text
    change = sent.json()
    # the station is not connected: the command ends Offline, and nothing is installed
    assert (change["status"], change["operation"], change["charge_point_id"]) == (
        "Offline",
        "set",
        "A-1",
    )
    assert change["requested_by"] == f"user:{await world.user_id('a_operator')}"
    read = (await viewer.get(PATH)).json()
    assert [c["id"] for c in read["history"]] == [change["id"]] and read["installed"] == []
    assert_problem(await viewer.post(PATH, json=body), 403)
    assert_problem(
        await viewer.post(
            "/api/v1/stations/A-1/limit", json={"connector_id": 0, "limit": 32, "unit": "A"}
        ),
        403,
    )
    assert_problem(await viewer.delete(f"{PATH}/1"), 403)
    for name in ("b_admin", "b_operator"):
        other = await world.client(name)
        assert_problem(await other.get(PATH), 404)
        assert_problem(await other.post(PATH, json=body), 404)
        assert_problem(await other.post(f"{PATH}/clear", json={}), 404)
    assert_problem(await (await world.client("driver")).get(PATH), 403)
    assert_problem(await world.anonymous().get(PATH), 401)
    assert await _commands_sent(world, "B-1") == 0


async def test_limit_and_clear_bodies_are_checked(world: World) -> None:
    await _stations(world)
    operator = await world.client("a_operator")
    for bad in (
        {"connector_id": 0, "limit": 32, "unit": "kW"},
        {"connector_id": 0, "limit": -1, "unit": "A"},
        {"connector_id": 0, "limit": 16.25, "unit": "A"},
        {"connector_id": -1, "limit": 16, "unit": "A"},
        {"connector_id": 0, "limit": 16, "unit": "A", "number_phases": 4},
        {"connector_id": 0, "limit": 16, "unit": "A", "until": "2020-01-01T00:00:00Z"},
    ):
        assert_problem(await operator.post("/api/v1/stations/A-1/limit", json=bad), 422)
    assert_problem(await operator.post(f"{PATH}/clear", json={"purpose": "Everything"}), 422)
    assert_problem(await operator.post(f"{PATH}/clear", json={"stack_level": -1}), 422)
    assert await _commands_sent(world, "A-1") == 0
    # a limit on an idle connector is a TxDefaultProfile (the station is offline here)
    limit = await operator.post(
        "/api/v1/stations/A-1/limit",
        json={"connector_id": 2, "limit": 16, "unit": "A"},
        params={"wait": 5},
    )
    assert limit.status_code == 200, limit.text
    assert (limit.json()["purpose"], limit.json()["status"]) == ("TxDefaultProfile", "Offline")


async def test_composite_schedule_of_an_offline_station_still_shows_the_expectation(
    world: World,
) -> None:
    await _stations(world)
    viewer = await world.client("a_viewer")
    response = await viewer.get(
        "/api/v1/stations/A-1/composite-schedule",
        params={"connector": 1, "duration": 600, "unit": "W", "wait": 5},
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["station"]["state"], view["station"]["status"]) == ("offline", "Offline")
    assert view["expected"]["periods"] == [
        {"start_period": 0, "limit": None, "number_phases": None}
    ]
    for params in (
        {"connector": -1},
        {"connector": 1, "duration": 0},
        {"connector": 1, "unit": "kW"},
    ):
        assert_problem(
            await viewer.get("/api/v1/stations/A-1/composite-schedule", params=params), 422
        )
