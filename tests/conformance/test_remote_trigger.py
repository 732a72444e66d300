"""OCPP 1.6 CSMS conformance, Remote Trigger profile: TC_054 and TC_055.

The OCTT plays the Charge Point (the ``ocpp`` library's ChargePoint, tests/support/ocpp_client.py,
and Kilowatt's simulator); the operator asks for each TriggerMessage through the API. OCPP 1.6
§5.17: the charge point answers TriggerMessage.conf first, then sends the requested message,
which the Central System handles like any other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call
from sqlalchemy import select

from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.stations import repository as stations
from kilowatt.transactions.models import MeterValueRecord

from support.ocpp_client import lib_charge_point
from support.server import RunningServer
from support.steps import boot, command, get_json, now_iso, status

pytestmark = pytest.mark.asyncio

BOUND = 20  # seconds any awaited condition may take before the test fails


async def test_tc_054_trigger_message(server: RunningServer) -> None:
    """TC_054: trigger MeterValues, Heartbeat, StatusNotification (connector 1),
    DiagnosticsStatusNotification and FirmwareStatusNotification; each trigger is Accepted and
    each triggered message is answered and kept."""
    async with lib_charge_point(server.ws_url("CP054T"), "CP054T") as cp:
        await boot(cp)

        # 1-4. MeterValues for connector 1, outside any transaction (no transactionId).
        result = await command(
            server,
            "CP054T",
            "TriggerMessage",
            {"requestedMessage": "MeterValues", "connectorId": 1},
        )
        assert (result["state"], result["outcome"]) == ("completed", "Accepted")
        assert await cp.next_command() == (
            "TriggerMessage",
            {"requested_message": "MeterValues", "connector_id": 1},
        )
        reading_at = datetime.now(UTC).replace(microsecond=0)
        await cp.call(
            call.MeterValues(
                connector_id=1,
                meter_value=[
                    {
                        "timestamp": reading_at.isoformat(),
                        "sampledValue": [
                            {
                                "value": "4321",
                                "context": "Trigger",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            )
        )

        # 5-8. Heartbeat
        before = (await get_json(server, "/api/v1/stations/CP054T"))["last_heartbeat_at"]
        result = await command(
            server, "CP054T", "TriggerMessage", {"requestedMessage": "Heartbeat"}
        )
        assert result["outcome"] == "Accepted"
        assert await cp.next_command() == ("TriggerMessage", {"requested_message": "Heartbeat"})
        heartbeat = await cp.call(call.Heartbeat())
        assert datetime.fromisoformat(heartbeat.current_time).tzinfo is not None

        # 9-12. StatusNotification for connector 1
        result = await command(
            server,
            "CP054T",
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        )
        assert result["outcome"] == "Accepted"
        assert await cp.next_command() == (
            "TriggerMessage",
            {"requested_message": "StatusNotification", "connector_id": 1},
        )
        await status(cp, 1, "Unavailable")

        # 13-16. DiagnosticsStatusNotification (Idle)
        result = await command(
            server,
            "CP054T",
            "TriggerMessage",
            {"requestedMessage": "DiagnosticsStatusNotification"},
        )
        assert result["outcome"] == "Accepted"
        await cp.next_command()
        assert await cp.call(call.DiagnosticsStatusNotification(status="Idle")) is not None

        # 17-20. FirmwareStatusNotification (Idle)
        result = await command(
            server, "CP054T", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}
        )
        assert result["outcome"] == "Accepted"
        await cp.next_command()
        assert await cp.call(call.FirmwareStatusNotification(status="Idle")) is not None

        station = await get_json(server, "/api/v1/stations/CP054T")
    assert station["last_heartbeat_at"] is not None and station["last_heartbeat_at"] != before
    assert station["connectors"][1]["status"] == "Unavailable"
    assert (station["diagnostics_status"], station["firmware_status"]) == ("Idle", "Idle")
    async with server.node.sessions() as db:
        found = await stations.by_charge_point_id(db, "CP054T")
        assert found is not None
        readings = (
            await db.scalars(
                select(MeterValueRecord).where(MeterValueRecord.station_id == found.id)
            )
        ).all()
    assert [(r.connector_id, r.transaction_id, r.context, r.timestamp) for r in readings] == [
        (1, None, "Trigger", reading_at)
    ]
    log = await get_json(server, "/api/v1/stations/CP054T/commands?limit=50")
    assert [c["request"]["requestedMessage"] for c in reversed(log["items"])] == [
        "MeterValues",
        "Heartbeat",
        "StatusNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
    ]


async def test_tc_054_trigger_message_firmware_status_not_implemented(
    server: RunningServer,
) -> None:
    """TC_054 step 18 allows NotImplemented for FirmwareStatusNotification: recorded as the
    charger's answer (a completed command), and nothing is waited for."""
    async with lib_charge_point(server.ws_url("CP054N"), "CP054N") as cp:
        await boot(cp)
        cp.answers["TriggerMessage"] = "NotImplemented"
        result = await command(
            server, "CP054N", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}
        )
        await cp.next_command()
    assert (result["state"], result["outcome"]) == ("completed", "NotImplemented")


async def test_tc_054_trigger_message_simulated_station(server: RunningServer) -> None:
    """TC_054 with Kilowatt's simulator, which sends what was triggered by itself: each
    triggered message reaches the node and updates the station."""
    cfg = SimulatorConfig(
        url=f"ws://127.0.0.1:{server.port}/ocpp",
        auto_sessions=False,
        meter_interval=60,
        reconnect_min=0.05,
        reconnect_max=0.2,
        seed=1,
    )
    sim = SimulatedStation(cfg, "SIM054T")
    async with asyncio.timeout(60), sim:
        await sim.connect()
        await sim.boot()
        for requested, extra in (
            ("MeterValues", {"connectorId": 1}),
            ("Heartbeat", {}),
            ("StatusNotification", {"connectorId": 1}),
            ("DiagnosticsStatusNotification", {}),
            ("FirmwareStatusNotification", {}),
        ):
            before = sim.stats.calls_sent.get(requested, 0)
            result = await command(
                server, "SIM054T", "TriggerMessage", {"requestedMessage": requested, **extra}
            )
            assert result["outcome"] == "Accepted", requested
            async with asyncio.timeout(BOUND):
                await sim.wait_until(
                    lambda r=requested, b=before: sim.stats.calls_sent.get(r, 0) > b
                )
        station = await get_json(server, "/api/v1/stations/SIM054T")
    assert station["diagnostics_status"] == "Idle"
    assert station["firmware_status"] is not None


async def test_tc_055_trigger_message_rejected(server: RunningServer) -> None:
    """TC_055: TriggerMessage for MeterValues, which the charger rejects: the command records
    Rejected and the station stays connected and usable."""
    async with lib_charge_point(server.ws_url("CP055"), "CP055") as cp:
        await boot(cp)
        cp.answers["TriggerMessage"] = "Rejected"
        result = await command(
            server, "CP055", "TriggerMessage", {"requestedMessage": "MeterValues"}
        )
        assert await cp.next_command() == ("TriggerMessage", {"requested_message": "MeterValues"})
        assert (result["state"], result["outcome"]) == ("completed", "Rejected")
        stored = await get_json(server, f"/api/v1/commands/{result['id']}")
        assert stored["response"] == {"status": "Rejected"}
        # The Central System carries on: the charger's next message is handled as usual.
        heartbeat = await cp.call(call.Heartbeat())
        assert heartbeat.current_time
        await cp.call(
            call.StatusNotification(
                connector_id=1, error_code="NoError", status="Available", timestamp=now_iso()
            )
        )
        station = await get_json(server, "/api/v1/stations/CP055")
    assert station["online"] is True
