"""The OCPP.Core-compatible server API (/API/…) with an X-API-Key header."""

from __future__ import annotations

from ocpp.v16 import call

from kilowatt.stations import service as stations

from support.accounts import make_account
from support.ocpp_client import lib_charge_point
from support.server import RunningServer
from support.steps import boot, now_iso


async def test_status_start_stop_unlock_reset(server: RunningServer) -> None:
    driver = await make_account(server, "core@example.com", cards=("CORE-CARD",))
    async with lib_charge_point(server.ws_url("CORE1"), "CORE1") as cp:
        await boot(cp)
        async with server.api() as api:
            status = (await api.get("/API/Status")).json()
            assert [(s["id"], sorted(s["OnlineConnectors"])) for s in status] == [
                ("CORE1", ["1", "2"])
            ]
            assert status[0]["OnlineConnectors"]["1"]["Status"] == 1

            assert (await api.get("/API/StopTransaction/CORE1/1")).status_code == 424

            started = await api.get("/API/StartTransaction/CORE1/1/CORE-CARD")
            assert started.status_code == 200 and started.json()["status"] == "Accepted"
            assert await cp.next_command() == (
                "RemoteStartTransaction",
                {"id_tag": "CORE-CARD", "connector_id": 1},
            )
            tx = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CORE-CARD", meter_start=0, timestamp=now_iso()
                )
            )
            stopped = await api.get("/API/StopTransaction/CORE1/1")
            assert (stopped.status_code, stopped.json()) == (200, {"status": "Accepted"})
            assert await cp.next_command() == (
                "RemoteStopTransaction",
                {"transaction_id": tx.transaction_id},
            )

            cp.answers["UnlockConnector"] = "Unlocked"
            assert (await api.get("/API/UnlockConnector/CORE1/2")).json() == {"status": "Unlocked"}
            cp.answers["Reset"] = "Rejected"
            assert (await api.get("/API/Reset/CORE1")).json() == {"status": "Rejected"}
    # The operator's start for the driver's card is the driver's session.
    async with driver.client(server) as client:
        sessions = (await client.get("/api/v1/sessions")).json()
    assert [(s["origin"], s["transactionId"]) for s in sessions["items"]] == [
        ("api", tx.transaction_id)
    ]


async def test_offline_unknown_and_unauthorized(server: RunningServer) -> None:
    async with server.node.sessions() as db:
        await stations.register(db, "CORE2", connectors=1)
        await db.commit()
    async with server.api() as api:
        assert (await api.get("/API/Reset/CORE2")).status_code == 404
        assert (await api.get("/API/Reset/NOPE")).status_code == 404
        assert (await api.get("/API/Status", headers={"X-API-Key": "wrong"})).status_code == 401
        assert (await api.get("/API/Status", headers={"X-API-Key": ""})).status_code == 401
