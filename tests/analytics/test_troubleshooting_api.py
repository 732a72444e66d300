"""Troubleshooting: the searchable message log of a station and its health summary."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from analytics import scenario
from analytics.scenario import command, frame, iso, session, status
from api.api_kit import World, assert_problem
from kilowatt.tokens import service as tokens

from support.ocpp_client import lib_charge_point
from support.steps import boot, now_iso

pytestmark = pytest.mark.asyncio


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [f"{m['direction']}:{m['message_id']}" for m in response.json()]


async def _log(world: World, d0: datetime) -> None:
    st = await scenario.station(world, world.a, "T-1", created_at=d0 - timedelta(days=30))
    assert st.id

    def t(minutes: int) -> datetime:
        return d0 + timedelta(minutes=minutes)

    await scenario.add(
        world,
        frame("T-1", "in", '[2,"hb","Heartbeat",{}]', at=t(0), action="Heartbeat"),
        frame("T-1", "out", '[3,"hb",{"currentTime":"x"}]', at=t(0)),
        frame(
            "T-1",
            "in",
            '[2,"1","StartTransaction",{"connectorId":1,"idTag":"X","meterStart":0,"timestamp":"x"}]',
            at=t(10),
            action="StartTransaction",
        ),
        frame(
            "T-1", "out", '[3,"1",{"idTagInfo":{"status":"Accepted"},"transactionId":5}]', at=t(10)
        ),
        # a charger that writes its JSON with spaces
        frame(
            "T-1",
            "in",
            '[2, "2", "MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": []}]',
            at=t(20),
            action="MeterValues",
        ),
        frame("T-1", "out", '[3,"2",{}]', at=t(20)),
        frame(
            "T-1",
            "in",
            '[2,"3","MeterValues",{"connectorId":1,"transactionId":50,"meterValue":[]}]',
            at=t(30),
            action="MeterValues",
        ),
        frame("T-1", "out", '[3,"3",{}]', at=t(30)),
        frame(
            "T-1",
            "out",
            '[2,"abc","RemoteStopTransaction",{"transactionId":5}]',
            at=t(40),
            action="RemoteStopTransaction",
        ),
        frame(
            "T-1",
            "in",
            '[4,"abc","InternalError","boom",{}]',
            at=t(41),
            action="RemoteStopTransaction",
            error_code="InternalError",
        ),
        frame(
            "OTHER",
            "in",
            '[2,"9","MeterValues",{"transactionId":5}]',
            at=t(20),
            action="MeterValues",
        ),
    )


async def test_the_message_log_is_searchable(world: World) -> None:
    d0 = scenario.day_start(2)
    await _log(world, d0)
    admin = await world.client("a_admin")
    url = "/api/v1/stations/T-1/messages"

    assert len(_ids(await admin.get(url))) == 10
    assert _ids(await admin.get(url, params={"transaction_id": 5})) == [
        "out:abc",
        "in:2",
        "out:1",
    ]
    assert _ids(await admin.get(url, params={"transaction_id": 50})) == ["in:3"]
    # the answer to a station's call does not name its action: found by the call's message id
    assert _ids(await admin.get(url, params={"action": "StartTransaction"})) == ["out:1", "in:1"]
    assert _ids(await admin.get(url, params={"action": "MeterValues", "transaction_id": 5})) == [
        "in:2"
    ]
    assert _ids(await admin.get(url, params={"direction": "out", "message_type": 2})) == ["out:abc"]
    assert _ids(await admin.get(url, params={"errors": True})) == ["in:abc"]
    assert _ids(await admin.get(url, params={"message_type": 4})) == ["in:abc"]
    window = {"from": iso(d0 + timedelta(minutes=10)), "to": iso(d0 + timedelta(minutes=30))}
    assert _ids(await admin.get(url, params=window)) == ["out:2", "in:2", "out:1", "in:1"]
    assert _ids(await admin.get(url, params={**window, "limit": 1})) == ["out:2"]

    for params in ({"direction": "sideways"}, {"message_type": 5}, {"transaction_id": "x"}):
        assert_problem(await admin.get(url, params=params), 422)
    assert_problem(await (await world.client("b_admin")).get(url), 404)


async def test_the_health_of_a_station(world: World) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    st = await scenario.station(
        world,
        world.a,
        "H-1",
        created_at=now - timedelta(days=60),
        connected_at=today - timedelta(days=1),
        disconnected_at=today - timedelta(days=1, minutes=5),
    )
    boots = [today - timedelta(days=3), today - timedelta(days=1), today - timedelta(days=1)]
    boots += [today - timedelta(days=9)]  # outside the week
    # its connection history: the first connection is no reconnect; then four reconnects (one
    # outside the week), the last being the open connection scenario.station recorded
    reconnected = [today - timedelta(days=3), today - timedelta(days=1, hours=3)]
    await scenario.add(
        world,
        scenario.connection(st, now - timedelta(days=60), now - timedelta(days=59)),
        scenario.connection(st, today - timedelta(days=9), today - timedelta(days=8)),
        scenario.connection(st, reconnected[0], reconnected[0] + timedelta(hours=1)),
        scenario.connection(st, reconnected[1], today - timedelta(days=1, minutes=5)),
        *(
            frame(
                "H-1", "in", f'[2,"b{i}","BootNotification",{{}}]', at=at, action="BootNotification"
            )
            for i, at in enumerate(boots)
        ),
        frame(
            "H-1",
            "in",
            '[4,"c1","NotImplemented","",{}]',
            at=today - timedelta(hours=2),
            action="GetDiagnostics",
            error_code="NotImplemented",
        ),
        status(st, 1, "Faulted", at=today - timedelta(days=2), error_code="GroundFailure"),
        status(st, 1, "Faulted", at=today - timedelta(days=1), error_code="GroundFailure"),
        status(st, 2, "Available", at=today - timedelta(days=1), error_code="HighTemperature"),
        status(st, 2, "Available", at=today - timedelta(days=1)),
        status(st, 1, "Faulted", at=today - timedelta(days=20), error_code="PowerMeterFailure"),
        command(st, "UnlockConnector", "completed", "UnlockFailed", at=today - timedelta(days=2)),
        command(st, "UnlockConnector", "completed", "UnlockFailed", at=today - timedelta(days=1)),
        command(st, "UnlockConnector", "completed", "Unlocked", at=today - timedelta(days=1)),
        command(st, "RemoteStartTransaction", "timeout", "Timeout", at=today - timedelta(hours=3)),
        session(st, requested_at=today - timedelta(hours=1), state="active", connector_id=2),
        session(st, requested_at=today - timedelta(hours=5), state="completed"),
    )
    admin = await world.client("a_admin")
    response = await admin.get("/api/v1/stations/H-1/health")
    assert response.status_code == 200, response.text
    health = response.json()
    assert (health["online"], health["connected"], health["days"]) == (True, False, 7)
    assert health["connected_since"] == iso(today - timedelta(days=1))
    assert health["disconnected_at"] == iso(today - timedelta(days=1, minutes=5))
    boots_per_day = {d["date"]: d["count"] for d in health["boots"]["per_day"]}
    assert health["boots"]["total"] == 3
    assert len(boots_per_day) == 7 and list(boots_per_day)[-1] == now.date().isoformat()
    assert boots_per_day[(today - timedelta(days=1)).date().isoformat()] == 2
    assert boots_per_day[(today - timedelta(days=3)).date().isoformat()] == 1
    assert sum(boots_per_day.values()) == 3
    reconnects = health["reconnects"]
    per_day = {d["date"]: d["count"] for d in reconnects["per_day"]}
    assert reconnects["total"] == 3 and list(per_day) == list(boots_per_day)
    expected = Counter(at.date().isoformat() for at in [*reconnected, today - timedelta(days=1)])
    assert {d: n for d, n in per_day.items() if n} == expected
    assert [(c["error_code"], c["count"]) for c in health["status_error_codes"]] == [
        ("GroundFailure", 2),
        ("HighTemperature", 1),
    ]
    assert health["status_error_codes"][0]["last_seen"] == iso(today - timedelta(days=1))
    assert [(e["action"], e["error_code"]) for e in health["recent_call_errors"]] == [
        ("GetDiagnostics", "NotImplemented")
    ]
    assert [
        (c["action"], c["state"], c["outcome"], c["count"]) for c in health["failing_commands"]
    ] == [
        ("UnlockConnector", "completed", "UnlockFailed", 2),
        ("RemoteStartTransaction", "timeout", "Timeout", 1),
    ]
    assert [(s["connector_id"], s["state"]) for s in health["open_sessions"]] == [(2, "active")]
    assert [c["connector_id"] for c in health["connectors"]] == [0, 1, 2]

    # a longer window sees the older fault
    month = (await admin.get("/api/v1/stations/H-1/health", params={"days": 30})).json()
    assert ("PowerMeterFailure", 1) in [
        (c["error_code"], c["count"]) for c in month["status_error_codes"]
    ]
    assert month["boots"]["total"] == 4 and len(month["boots"]["per_day"]) == 30
    assert month["reconnects"]["total"] == 4 and len(month["reconnects"]["per_day"]) == 30
    # the station's very first connection is never a reconnect
    quarter = (await admin.get("/api/v1/stations/H-1/health", params={"days": 90})).json()
    assert quarter["reconnects"]["total"] == 4

    assert_problem(await (await world.client("b_admin")).get("/api/v1/stations/H-1/health"), 404)
    assert_problem(await (await world.client("driver")).get("/api/v1/stations/H-1/health"), 403)
    assert_problem(await admin.get("/api/v1/stations/H-1/health", params={"days": 0}), 422)


async def test_a_live_station_troubleshot_through_the_api(world: World) -> None:
    """Real frames from an ``ocpp``-library charge point: found by transaction id, and the
    health the node records for it."""
    admin = await world.client("a_admin")
    assert (
        await admin.post("/api/v1/stations", json={"charge_point_id": "LIVE-1", "connectors": 2})
    ).is_success
    driver = await world.user_id("driver")
    async with world.server.node.sessions() as db:
        token = await tokens.create(db, world.a, "LIVE-CARD")
        token.user_id = driver
        await db.commit()
    node = world.server
    async with lib_charge_point(node.ws_url("LIVE-1"), "LIVE-1") as cp:
        await boot(cp, connectors=2)
        await cp.call(
            call.StatusNotification(
                connector_id=2, error_code="GroundFailure", status="Faulted", timestamp=now_iso()
            )
        )
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="LIVE-CARD", meter_start=100, timestamp=now_iso()
            )
        )
        tx = int(started.transaction_id)
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampledValue": [
                            {"value": "600", "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            )
        )
        # a card we do not know: refused, and it counts as an authorization error
        refused = await cp.call(call.Authorize(id_tag="UNKNOWN"))
        assert refused.id_tag_info["status"] == "Invalid"
        cp.answers["UnlockConnector"] = "UnlockFailed"
        unlock = await admin.post(
            "/api/v1/stations/LIVE-1/commands/UnlockConnector", json={"connectorId": 2}
        )
        assert unlock.json()["outcome"] == "UnlockFailed"

        found = await admin.get("/api/v1/stations/LIVE-1/messages", params={"transaction_id": tx})
        assert [(m["direction"], m["action"]) for m in found.json()] == [
            ("in", "MeterValues"),
            ("out", None),  # the StartTransaction's answer, which gave the id
        ]
        health = (await admin.get("/api/v1/stations/LIVE-1/health")).json()
        assert (health["online"], health["connected"]) == (True, True)
        assert health["boots"]["total"] == 1 and health["boots"]["per_day"][-1]["count"] == 1
        assert health["reconnects"]["total"] == 0  # its first connection
        assert health["last_boot_at"] is not None and health["connected_since"] is not None
        assert [(c["error_code"], c["count"]) for c in health["status_error_codes"]] == [
            ("GroundFailure", 1)
        ]
        assert [(c["action"], c["outcome"]) for c in health["failing_commands"]] == [
            ("UnlockConnector", "UnlockFailed")
        ]
        assert [(s["connector_id"], s["state"], s["origin"]) for s in health["open_sessions"]] == [
            (1, "active", "rfid")
        ]
        statuses = {c["connector_id"]: c["status"] for c in health["connectors"]}
        assert statuses == {0: "Available", 1: "Available", 2: "Faulted"}
        summary = await admin.get("/api/v1/analytics/summary", params={"station": "LIVE-1"})
        errors = summary.json()["errors"]
        assert errors["authorization"] == {"count": 1, "attempts": 2, "percent": 50.0}
        assert errors["authorization_statuses"] == {"Invalid": 1}

    # it comes back without rebooting: a reconnect, not a boot
    async with lib_charge_point(node.ws_url("LIVE-1"), "LIVE-1") as cp:
        await cp.call(call.Heartbeat())
        health = (await admin.get("/api/v1/stations/LIVE-1/health")).json()
        assert (health["reconnects"]["total"], health["boots"]["total"]) == (1, 1)
        assert health["reconnects"]["per_day"][-1]["count"] == 1
