"""Issue 5 item 4: ``GET /metrics``, scraped from a real node after a scripted scenario."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from kilowatt import __version__
from kilowatt.auth.principal import Role
from kilowatt.metrics import Metrics, NodeState
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations import repository as stations

from support.accounts import make_account
from support.ocpp_client import lib_charge_point
from support.server import RunningServer, running_server
from support.steps import boot, command

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOKEN = "prometheus-scrape-token-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        yield running


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def table(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples named ``name``, keyed by the values of ``labels``."""
    return {
        tuple(dict(ls)[label] for label in labels): value
        for (n, ls), value in samples.items()
        if n == name
    }


async def scrape(server: RunningServer) -> Samples:
    async with server.api() as api:
        response = await api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return parse(response.text)


async def send_bad_frames(server: RunningServer, charge_point_id: str) -> list[list[object]]:
    """Three frames the gateway answers with a CALLERROR, from a raw socket; then hang up."""
    frames = [
        # connectorId as a string: the schema's type check fails
        '[2,"bad-1","StatusNotification",{"connectorId":"1","errorCode":"NoError",'
        '"status":"Available"}]',
        '[2,"bad-2","NoSuchAction",{}]',
        "not json",
    ]
    answers = []
    url = server.ws_url(charge_point_id)
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        for frame in frames:
            await ws.send(frame)
            answers.append(orjson.loads(await ws.recv()))
    async with asyncio.timeout(10):
        await server.node.registry.wait_for(charge_point_id, present=False)
    return answers


async def add_sessions(server: RunningServer, charge_point_id: str, *states: str) -> None:
    async with server.node.sessions() as db:
        station = await stations.by_charge_point_id(db, charge_point_id)
        assert station is not None
        db.add_all(
            ChargingSession(
                tenant_id=station.tenant_id,
                station_id=station.id,
                connector_id=1,
                id_tag="METRICS",
                origin="api",
                state=state,
            )
            for state in states
        )
        await db.commit()


async def test_scrape_counts_a_scripted_scenario(server: RunningServer) -> None:
    async with lib_charge_point(server.ws_url("MET1"), "MET1") as cp:
        await boot(cp, connectors=2)  # BootNotification + 3 StatusNotifications
        for _ in range(2):
            await cp.call(call.Heartbeat())
        answers = await send_bad_frames(server, "MET2")
        assert [a[2] for a in answers] == [
            "TypeConstraintViolation",
            "NotImplemented",
            "FormationViolation",
        ]

        accepted = await command(
            server, "MET1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}
        )
        cp.answers["Reset"] = "Rejected"
        rejected = await command(server, "MET1", "Reset", {"type": "Soft"})
        offline = await command(server, "MET2", "ClearCache", {})
        # the library charge point has no handler for it: it answers with a CALLERROR
        refused = await command(server, "MET1", "GetLocalListVersion", {})
        assert [c["outcome"] for c in (accepted, rejected, offline)] == [
            "Accepted",
            "Rejected",
            "Offline",
        ]
        assert refused["state"] == "error"
        refused_code = refused["outcome"]
        await add_sessions(server, "MET1", "completed", "completed", "failed")

        samples = await scrape(server)
        published = server.node.bus.published

    assert table(samples, "kilowatt_ocpp_messages_received_total", "action", "result") == {
        ("BootNotification", "ok"): 1,
        ("StatusNotification", "ok"): 3,
        ("Heartbeat", "ok"): 2,
        ("StatusNotification", "TypeConstraintViolation"): 1,
        ("unknown", "NotImplemented"): 1,
        ("unknown", "FormationViolation"): 1,
    }
    assert table(samples, "kilowatt_ocpp_callerrors_total", "code", "direction") == {
        ("TypeConstraintViolation", "sent"): 1,
        ("NotImplemented", "sent"): 1,
        ("FormationViolation", "sent"): 1,
        (refused_code, "received"): 1,
    }
    # ClearCache never left: the station was offline (a command outcome, not a message)
    assert table(samples, "kilowatt_ocpp_messages_sent_total", "action", "result") == {
        ("ChangeAvailability", "completed"): 1,
        ("Reset", "completed"): 1,
        ("GetLocalListVersion", "error"): 1,
    }
    assert table(samples, "kilowatt_commands_total", "action", "outcome") == {
        ("ChangeAvailability", "Accepted"): 1,
        ("Reset", "Rejected"): 1,
        ("ClearCache", "Offline"): 1,
        ("GetLocalListVersion", refused_code): 1,
    }
    assert table(samples, "kilowatt_command_seconds_count", "action") == {
        ("ChangeAvailability",): 1,
        ("Reset",): 1,
        ("GetLocalListVersion",): 1,
    }
    # Only CALLs that reached a handler are timed; each one committed once.
    assert table(samples, "kilowatt_ocpp_handler_seconds_count", "action") == {
        ("BootNotification",): 1,
        ("StatusNotification",): 3,
        ("Heartbeat",): 2,
    }
    assert series(samples, "kilowatt_db_commit_seconds_count") == 6
    assert series(samples, "kilowatt_ocpp_handler_seconds_bucket", action="Heartbeat", le="+Inf")
    assert series(samples, "kilowatt_stations_connected") == 1
    assert table(samples, "kilowatt_sessions", "state") == {
        ("pending",): 0,
        ("active",): 0,
        ("completed",): 2,
        ("failed",): 1,
        ("expired",): 0,
        ("cancelled",): 0,
    }
    events = series(samples, "kilowatt_events_published_total")
    assert events is not None and 0 < events <= published
    assert series(samples, "kilowatt_bus_publish_seconds_count") == events
    assert series(samples, "kilowatt_event_streams") == 0
    assert series(samples, "kilowatt_event_queue_depth_max") == 0
    assert series(samples, "kilowatt_message_log_queue") is not None
    assert series(samples, "kilowatt_message_log_dropped_total") == 0
    # No webhook subscriptions in this scenario: nothing recorded, nothing lost.
    assert series(samples, "kilowatt_webhook_queue") is not None
    assert series(samples, "kilowatt_webhook_events_dropped_total") == 0
    assert series(samples, "kilowatt_webhook_deliveries_recorded_total") == 0
    assert series(samples, "kilowatt_build_info", version=__version__) == 1
    assert not [name for name, _ in samples if name.endswith("_created")]


async def test_metrics_are_for_admins_only(server: RunningServer) -> None:
    operator = await make_account(server, "admin@metrics.example", role=Role.ADMIN)
    async with server.anonymous() as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"Authorization": f"Bearer {TOKEN}"}  # no metrics token set: not a credential
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        assert (await client.get("/metrics", headers=operator.headers)).status_code == 403
    async with server.api() as api:
        assert (await api.get("/metrics")).status_code == 200


async def test_prometheus_scrapes_with_the_metrics_token(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, metrics_token=TOKEN) as server:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            good = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            bad = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
            anonymous = await client.get("/metrics")
        async with server.api() as api:
            admin = await api.get("/metrics")
    assert good.status_code == 200, good.text
    assert good.headers["content-type"] == CONTENT_TYPE
    assert "kilowatt_stations_connected 0.0" in good.text
    assert (bad.status_code, anonymous.status_code, admin.status_code) == (401, 401, 200)


async def test_each_node_has_its_own_registry(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path / "one") as one:
        async with lib_charge_point(one.ws_url("MET3"), "MET3") as cp:
            await cp.call(call.Heartbeat())
        first = await scrape(one)
    async with running_server(database_url, tmp_path / "two") as two:
        second = await scrape(two)
    heartbeat = ("kilowatt_ocpp_messages_received_total", {"action": "Heartbeat", "result": "ok"})
    assert series(first, heartbeat[0], **heartbeat[1]) == 1
    assert series(second, heartbeat[0], **heartbeat[1]) is None


async def test_calls_without_an_answer_end_as_timeout_or_offline(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, call_timeout=0.5) as server:
        url = server.ws_url("SILENT")
        async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            timed_out = await command(server, "SILENT", "Reset", {"type": "Soft"})
            assert orjson.loads(await ws.recv())[2] == "Reset"  # never answered
            pending = asyncio.create_task(command(server, "SILENT", "ClearCache", {}))
            assert orjson.loads(await ws.recv())[2] == "ClearCache"
        gone = await pending
        samples = await scrape(server)
    assert (timed_out["outcome"], gone["outcome"]) == ("Timeout", "Offline")
    assert table(samples, "kilowatt_ocpp_messages_sent_total", "action", "result") == {
        ("Reset", "timeout"): 1,
        ("ClearCache", "offline"): 1,
    }
    assert table(samples, "kilowatt_commands_total", "action", "outcome") == {
        ("Reset", "Timeout"): 1,
        ("ClearCache", "Offline"): 1,
    }
    assert table(samples, "kilowatt_command_seconds_count", "action") == {}


def test_label_values_stay_in_closed_sets() -> None:
    """A station's made-up action names and error codes never become series of their own."""
    metrics = Metrics()
    metrics.callerror_received("MyVendorSpecialError")
    metrics.frame_rejected('[2,"m1","MyVendorAction",{}]', "NotImplemented")
    metrics.frame_rejected('[3,"m2",{}]', "ProtocolError")  # a response: never answered
    metrics.frame_rejected('[4,"m3","X","y",{}]', "ProtocolError")
    metrics.command_finished("Reset", "error", "MyVendorSpecialError", 0.2)
    samples = parse(metrics.render(NodeState()).decode())
    assert table(samples, "kilowatt_ocpp_callerrors_total", "code", "direction") == {
        ("other", "received"): 1,
        ("NotImplemented", "sent"): 1,
    }
    assert table(samples, "kilowatt_ocpp_messages_received_total", "action", "result") == {
        ("unknown", "NotImplemented"): 1
    }
    assert table(samples, "kilowatt_commands_total", "action", "outcome") == {("Reset", "other"): 1}
