"""The versioned session API, public connector status and QR codes: scan → status → start."""

from __future__ import annotations

import io

import segno
from ocpp.v16 import call

from support.accounts import make_account
from support.ocpp_client import lib_charge_point
from support.server import RunningServer
from support.steps import boot, now_iso


async def test_scan_status_start_watch_end(server: RunningServer) -> None:
    driver = await make_account(server, "qr@example.com", cards=("QR-CARD",))
    async with lib_charge_point(server.ws_url("QR1"), "QR1") as cp:
        await boot(cp)
        async with server.anonymous() as anonymous:
            stations = await anonymous.get("/api/v1/stations")
            assert stations.status_code == 401
            evse = None
            async with driver.client(server) as client:
                listed = await client.get("/api/v1/sessions")
                assert listed.json()["total"] == 0
            # The QR code on the charger encodes the start link of its EVSE id.
            async with server.node.sessions() as db:
                from kilowatt.stations import repository

                station = await repository.by_charge_point_id(db, "QR1")
                assert station is not None
                evse = f"DE*KWT*E{station.id}*1"
            status = await anonymous.get(f"/api/v1/connectors/{evse}")
            assert status.status_code == 200
            body = status.json()
            assert (body["evseId"], body["status"], body["canStart"]) == (evse, "Available", True)
            assert body["startUrl"].endswith(f"/app/start?evse={evse}")
            svg = await anonymous.get(f"/api/v1/connectors/{evse}/qr.svg")
            png = await anonymous.get(f"/api/v1/connectors/{evse}/qr.png")
        expected = io.BytesIO()
        segno.make(body["startUrl"], error="m").save(
            expected, kind="svg", scale=8, border=2, title="Scan to charge"
        )
        assert svg.headers["content-type"] == "image/svg+xml" and svg.content == expected.getvalue()
        assert png.headers["content-type"] == "image/png" and png.content.startswith(
            b"\x89PNG\r\n\x1a\n"
        )

        async with driver.client(server) as client:
            started = await client.post("/api/v1/sessions", json={"connector": evse})
            assert started.status_code == 201, started.text
            session = started.json()
            assert (session["state"], session["ocppStartStatus"], session["evseId"]) == (
                "pending",
                "Accepted",
                evse,
            )
            tx = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="QR-CARD", meter_start=0, timestamp=now_iso()
                )
            )
            watched = (await client.get(f"/api/v1/sessions/{session['sessionId']}")).json()
            assert (watched["state"], watched["transactionId"]) == ("active", tx.transaction_id)
            ended = await client.post(f"/api/v1/sessions/{session['sessionId']}/end")
            assert ended.status_code == 200 and ended.json()["state"] == "completed"
            await cp.call(
                call.StopTransaction(
                    transaction_id=tx.transaction_id, meter_stop=777, timestamp=now_iso()
                )
            )
            final = (await client.get(f"/api/v1/sessions/{session['sessionId']}")).json()
            assert (final["reconciled"], final["energyWh"]) == (True, 777)
            page = (
                await client.get("/api/v1/sessions", params={"state": "completed", "limit": 1})
            ).json()
            assert (page["total"], page["limit"], [s["sessionId"] for s in page["items"]]) == (
                1,
                1,
                [session["sessionId"]],
            )
            assert (await client.get("/api/v1/sessions", params={"limit": 201})).status_code == 422


async def test_unknown_connector_is_404_everywhere(server: RunningServer) -> None:
    async with server.api() as api:
        for path in (
            "/api/v1/connectors/DE*KWT*E999*1",
            "/api/v1/connectors/12345/qr.svg",
            "/api/ChargingSession/charging-gun-status/999",
        ):
            response = await api.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
