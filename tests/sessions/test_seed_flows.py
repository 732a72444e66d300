"""The seed's charging-session flows end to end: real HTTP, real OCPP WebSockets.

DESIGN.md decision 4: a session is pending until the charger's StartTransaction arrives, and
ending it always closes it for billing, reconciled with the charger's StopTransaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from websockets.typing import Subprotocol

from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.stations import service as stations

from support.accounts import Account, make_account
from support.ocpp_client import lib_charge_point
from support.server import RunningServer, running_server
from support.steps import boot, now_iso

BASE = "/api/ChargingSession"
BOUND = 20


@asynccontextmanager
async def simulated(server: RunningServer, charge_point_id: str) -> AsyncIterator[SimulatedStation]:
    cfg = SimulatorConfig(
        url=f"ws://127.0.0.1:{server.port}/ocpp",
        auto_sessions=False,
        meter_interval=0.2,
        reconnect_min=0.05,
        reconnect_max=0.2,
        seed=3,
        max_power_w=150_000.0,  # DC, so that a test sees whole Wh within a second
    )
    sim = SimulatedStation(cfg, charge_point_id)
    async with asyncio.timeout(60), sim:
        await sim.connect()
        await sim.boot()
        yield sim


async def gun_id(server: RunningServer, charge_point_id: str, connector: int = 1) -> int:
    async with server.node.sessions() as db:
        station = await stations.repository.by_charge_point_id(db, charge_point_id)
        assert station is not None
        row = await stations.repository.connector(db, station.id, connector)
        assert row is not None
        return row.id


async def post(
    driver: Account, server: RunningServer, path: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with driver.client(server) as client:
        response = await client.post(f"{BASE}/{path}", json=body)
    return response.status_code, response.json()


async def details(driver: Account, server: RunningServer, session_id: int) -> dict[str, Any]:
    async with driver.client(server) as client:
        response = await client.get(f"{BASE}/charging-session-details/{session_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_start_active_meter_values_end_completed_with_energy(server: RunningServer) -> None:
    driver = await make_account(server, "ada@example.com", cards=("ADA-CARD",))
    async with simulated(server, "SEED1") as sim:
        gun = await gun_id(server, "SEED1")
        async with server.anonymous() as public:
            status = (await public.get(f"{BASE}/charging-gun-status/{gun}")).json()
        assert (status["status"], status["canStart"], status["online"]) == ("Available", True, True)

        code, started = await post(
            driver,
            server,
            "start-charging-session",
            {
                "ChargingStationId": "SEED1",
                "ChargingGunId": gun,
                "ChargeTagId": "ADA-CARD",
                "ConnectorId": 1,
            },
        )
        assert code == 200 and started["success"] is True, started
        assert started["ocppStatus"] == "Accepted" and started["state"] in ("pending", "active")
        session_id = started["sessionId"]

        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is not None)
            meter_start = sim.meter_wh(1)
            await sim.wait_until(
                lambda: (
                    sim.stats.calls_sent.get("MeterValues", 0) >= 2
                    and sim.meter_wh(1) > meter_start + 2
                )
            )
        live = await details(driver, server, session_id)
        assert live["state"] == "active" and live["transactionId"] == sim.transaction_id(1)
        assert live["powerW"] is not None and live["energyWh"] is not None

        code, ended = await post(
            driver, server, "end-charging-session", {"ChargingSessionId": session_id}
        )
        assert code == 200 and ended["state"] == "completed" and ended["ocppStatus"] == "Accepted"
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: sim.transaction_id(1) is None)
        meter_wh = sim.meter_wh(1)

    # The simulator's StopTransaction was answered, so it is committed: the session reconciled.
    final = await details(driver, server, session_id)
    assert (final["state"], final["reconciled"]) == ("completed", True)
    assert final["meterStopWh"] == meter_wh
    assert final["energyWh"] == meter_wh - final["meterStartWh"] and final["energyWh"] > 0

    async with driver.client(server) as client:
        listed = (await client.get(f"{BASE}/charging-sessions")).json()
    assert [s["sessionId"] for s in listed["items"]] == [session_id] and listed["total"] == 1


async def test_start_rejected_leaves_no_active_session(server: RunningServer) -> None:
    driver = await make_account(server, "bo@example.com", cards=("BO-CARD",))
    async with lib_charge_point(server.ws_url("SEED2"), "SEED2") as cp:
        await boot(cp)
        cp.answers["RemoteStartTransaction"] = "Rejected"
        code, body = await post(
            driver,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED2", "ConnectorId": 1},
        )
    assert code == 409 and body["success"] is False
    assert (body["state"], body["ocppStatus"]) == ("failed", "Rejected")
    assert (await details(driver, server, body["sessionId"]))["state"] == "failed"


async def test_start_while_the_station_is_offline(server: RunningServer) -> None:
    driver = await make_account(server, "cy@example.com", cards=("CY-CARD",))
    async with server.node.sessions() as db:
        await stations.register(db, "SEED3", connectors=2)
        await db.commit()
    code, body = await post(
        driver, server, "start-charging-session", {"ChargingStationId": "SEED3", "ConnectorId": 1}
    )
    assert code == 503 and (body["state"], body["ocppStatus"]) == ("failed", "Offline")
    assert "offline" in body["message"].lower()


async def test_start_accepted_but_never_started_expires(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, connection_timeout=0.0) as server:
        driver = await make_account(server, "di@example.com", cards=("DI-CARD",))
        async with lib_charge_point(server.ws_url("SEED4"), "SEED4") as cp:
            await boot(cp)
            code, body = await post(
                driver,
                server,
                "start-charging-session",
                {"ChargingStationId": "SEED4", "ConnectorId": 1},
            )
            assert code == 200 and body["state"] == "pending"
            # The charger accepted but never sent StartTransaction: past the connection timeout
            # (0 s here) the sweeper expires it.
            assert await server.node.charging_sessions.expire_stale() == 1
            after = await details(driver, server, body["sessionId"])
    assert after["state"] == "expired" and "never began" in after["failureReason"]


async def test_end_while_offline_then_queued_stop_reconciles(server: RunningServer) -> None:
    driver = await make_account(server, "ed@example.com", cards=("ED-CARD",))
    started_at = datetime.now(UTC) - timedelta(minutes=30)
    async with lib_charge_point(server.ws_url("SEED5"), "SEED5") as cp:
        await boot(cp)
        code, body = await post(
            driver,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED5", "ConnectorId": 1},
        )
        assert code == 200
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="ED-CARD", meter_start=1000, timestamp=started_at.isoformat()
            )
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[{"timestamp": now_iso(), "sampledValue": [{"value": "4000"}]}],
            )
        )
    await asyncio.wait_for(server.node.registry.wait_for("SEED5", present=False), BOUND)

    code, ended = await post(
        driver, server, "end-charging-session", {"ChargingSessionId": body["sessionId"]}
    )
    assert code == 200 and (ended["state"], ended["ocppStatus"]) == ("completed", "Offline")
    assert ended["energyWh"] == 3000 and ended["reconciled"] is False and ended["warnings"]

    # The charger comes back and delivers its queued StopTransaction with the real reading.
    async with lib_charge_point(server.ws_url("SEED5"), "SEED5") as cp:
        await cp.call(
            call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=4500,
                timestamp=now_iso(),
                reason="Remote",
            )
        )
    final = await details(driver, server, body["sessionId"])
    assert (final["state"], final["reconciled"], final["energyWh"], final["meterStopWh"]) == (
        "completed",
        True,
        3500,
        4500,
    )


@pytest.mark.parametrize(
    ("answer", "http", "status"),
    [
        ("Unlocked", 200, "Unlocked"),
        ("UnlockFailed", 409, "UnlockFailed"),
        ("NotSupported", 422, "NotSupported"),
    ],
)
async def test_unlock_outcomes(server: RunningServer, answer: str, http: int, status: str) -> None:
    driver = await make_account(server, "fay@example.com", cards=("FAY-CARD",))
    async with lib_charge_point(server.ws_url("SEED6"), "SEED6") as cp:
        await boot(cp)
        await post(
            driver,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED6", "ConnectorId": 1},
        )
        cp.answers["UnlockConnector"] = answer
        code, body = await post(
            driver, server, "unlock-connector", {"ChargingStationId": "SEED6", "ConnectorId": 1}
        )
    assert (code, body["ocppStatus"], body["success"]) == (http, status, status == "Unlocked")
    assert body["message"]


async def test_unlock_offline_and_timeout(database_url: str, tmp_path: Path) -> None:
    async with running_server(
        database_url, tmp_path, call_timeout=0.3, start_timeout=5.0
    ) as server:
        driver = await make_account(server, "gus@example.com", cards=("GUS-CARD",))
        async with websockets.connect(
            server.ws_url("SEED7"), subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            # A charger that boots, then never answers anything.
            await ws.send(
                '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
            )
            await ws.recv()
            await ws.send(
                '[2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]'
            )
            await ws.recv()
            code, body = await post(
                driver,
                server,
                "start-charging-session",
                {"ChargingStationId": "SEED7", "ConnectorId": 1},
            )
            assert (code, body["ocppStatus"]) == (504, "Timeout")
            code, body = await post(
                driver, server, "unlock-connector", {"ChargingStationId": "SEED7", "ConnectorId": 1}
            )
            assert (code, body["ocppStatus"]) == (504, "Timeout")
        await asyncio.wait_for(server.node.registry.wait_for("SEED7", present=False), BOUND)
        code, body = await post(
            driver, server, "unlock-connector", {"ChargingStationId": "SEED7", "ConnectorId": 1}
        )
        assert (code, body["ocppStatus"]) == (503, "Offline")


async def test_unlock_needs_a_recent_session_of_the_driver(server: RunningServer) -> None:
    driver = await make_account(server, "hal@example.com", cards=("HAL-CARD",))
    async with lib_charge_point(server.ws_url("SEED8"), "SEED8") as cp:
        await boot(cp)
        code, _ = await post(
            driver, server, "unlock-connector", {"ChargingStationId": "SEED8", "ConnectorId": 1}
        )
    assert code == 403


async def test_local_rfid_start_becomes_the_card_owners_session(server: RunningServer) -> None:
    driver = await make_account(server, "ivy@example.com", cards=("IVY-CARD",))
    async with simulated(server, "SEED9") as sim:
        await sim.plug_in(2)
        await sim.swipe(2, "IVY-CARD")
        tx_id = sim.transaction_id(2)
        async with driver.client(server) as client:
            listed = (
                await client.get(f"{BASE}/charging-sessions", params={"state": "active"})
            ).json()
        assert len(listed["items"]) == 1
        session = listed["items"][0]
        assert (session["origin"], session["transactionId"], session["connectorId"]) == (
            "rfid",
            tx_id,
            2,
        )
        await sim.swipe(2, "IVY-CARD")
    final = await details(driver, server, session["sessionId"])
    assert (final["state"], final["reconciled"]) == ("completed", True)


async def test_busy_faulted_and_foreign_connectors_are_refused(server: RunningServer) -> None:
    driver = await make_account(server, "jo@example.com", cards=("JO-CARD",))
    other = await make_account(server, "kim@example.com", cards=("KIM-CARD",))
    async with lib_charge_point(server.ws_url("SEED10"), "SEED10") as cp:
        await boot(cp)
        code, first = await post(
            driver,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED10", "ConnectorId": 1},
        )
        assert code == 200
        code, _ = await post(
            other,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED10", "ConnectorId": 1},
        )
        assert code == 409
        await cp.call(
            call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted")
        )
        code, faulted = await post(
            other,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED10", "ConnectorId": 2},
        )
        assert code == 409 and "Faulted" in faulted["detail"]
        code, _ = await post(
            other,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED10", "ConnectorId": 1, "ChargeTagId": "JO-CARD"},
        )
        assert code == 404
    async with other.client(server) as client:
        assert (
            await client.get(f"{BASE}/charging-session-details/{first['sessionId']}")
        ).status_code == 404
        # Refused starts create no session: the other driver has none.
        assert (await client.get(f"{BASE}/charging-sessions")).json()["total"] == 0


async def test_a_card_at_the_charger_supersedes_a_pending_app_start(server: RunningServer) -> None:
    app_driver = await make_account(server, "lu@example.com", cards=("LU-CARD",))
    card_driver = await make_account(server, "mo@example.com", cards=("MO-CARD",))
    async with lib_charge_point(server.ws_url("SEED11"), "SEED11") as cp:
        await boot(cp)
        code, pending = await post(
            app_driver,
            server,
            "start-charging-session",
            {"ChargingStationId": "SEED11", "ConnectorId": 1},
        )
        assert code == 200 and pending["state"] == "pending"
        # Someone else swipes their card at the charger first.
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="MO-CARD", meter_start=0, timestamp=now_iso()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
    lost = await details(app_driver, server, pending["sessionId"])
    assert lost["state"] == "failed" and "another card" in lost["failureReason"]
    async with card_driver.client(server) as client:
        mine = (await client.get(f"{BASE}/charging-sessions")).json()["items"]
    assert [(s["origin"], s["state"], s["transactionId"]) for s in mine] == [
        ("rfid", "active", start.transaction_id)
    ]


async def test_one_open_session_per_connector_is_enforced_by_the_database(
    server: RunningServer,
) -> None:
    from sqlalchemy.exc import IntegrityError

    from kilowatt.sessions.models import ChargingSession

    async with server.node.sessions() as db:
        station = await stations.register(db, "SEED12", connectors=1)
        for _ in range(2):
            db.add(
                ChargingSession(
                    tenant_id=station.tenant_id,
                    id_tag="X",
                    station_id=station.id,
                    connector_id=1,
                    origin="app",
                    state="pending",
                )
            )
        with pytest.raises(IntegrityError):
            await db.flush()
