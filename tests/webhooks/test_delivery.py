"""Events on the bus reach the back offices subscribed to them: signed, retried, logged.

A real node (``running_server``) and a real receiver on 127.0.0.1; retries are immediate.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kilowatt.db import utcnow
from kilowatt.events import Event, EventBus
from kilowatt.webhooks.dispatcher import WebhookDispatcher
from kilowatt.webhooks.models import WebhookDelivery
from kilowatt.webhooks.service import body_of, delivery_row
from webhooks.conftest import Node, finished
from webhooks.receiver import closed_url


async def test_an_event_reaches_the_matching_subscription_of_its_tenant_only(node: Node) -> None:
    a_admin, b_admin = await node.client("a_admin"), await node.client("b_admin")
    sessions = await node.subscribe(a_admin, "/sessions", event_types=["session.*"])
    connectors = await node.subscribe(a_admin, "/connectors", event_types=["connector.status"])
    bolt = await node.subscribe(b_admin, "/bolt", event_types=["*"])

    node.publish("session.started", tenant=None, sessionId=99)  # no tenant: goes nowhere
    event = node.publish("session.started", sessionId=7, idTag="CARD-1")
    (request,) = await node.receiver.received(1)

    assert request.method == "POST" and request.path == "/sessions"
    assert request.headers["content-type"] == "application/json"
    payload = request.verify(sessions["secret"])
    assert payload == {
        "type": "session.started",
        "timestamp": event.at.isoformat().replace("+00:00", "Z") if event.at else None,
        "data": event.as_json(),
    }
    assert payload["data"]["data"] == {"sessionId": 7, "idTag": "CARD-1"}
    assert payload["data"]["tenantId"] == node.tenants["acme"]

    delivered = await node.deliveries(a_admin, sessions["id"], finished(1))
    assert [d["state"] for d in delivered] == ["delivered"]
    assert delivered[0]["message_id"] == request.webhook_id
    assert delivered[0]["event_id"] == event.id
    # The events were recorded in one go: the others got nothing, and nothing else came.
    assert await node.deliveries(a_admin, connectors["id"]) == []
    assert await node.deliveries(b_admin, bolt["id"]) == []
    assert len(node.receiver.requests) == 1


async def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin, event_types=["session.started"])
    node.receiver.fail_next(2)

    node.publish("session.started", sessionId=1)
    attempts = await node.receiver.received(3)
    assert len({r.webhook_id for r in attempts}) == 1, "one delivery: one webhook-id"
    for request in attempts:
        request.verify(webhook["secret"])
    assert len({r.body for r in attempts}) == 1, "every attempt sends the same body"

    (delivery,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert delivery["state"] == "delivered"
    assert delivery["message_id"] == attempts[0].webhook_id
    assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [
        (1, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (3, 204, None),
    ]
    assert (delivery["status_code"], delivery["error"]) == (204, None)
    assert delivery["delivered_at"] is not None

    # Further events are further deliveries, with ids of their own.
    node.publish("session.started", sessionId=2)
    node.publish("session.started", sessionId=3)
    await node.receiver.received(5)
    log = await node.deliveries(admin, webhook["id"], finished(3))
    ids = [d["message_id"] for d in log]
    assert len(set(ids)) == 3
    assert {r.webhook_id for r in node.receiver.requests} == set(ids)
    assert [d["payload"]["data"]["data"]["sessionId"] for d in log] == [3, 2, 1]  # newest first


async def test_a_delivery_fails_after_the_last_retry_and_can_be_redelivered(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(3, status=503)

    node.publish("transaction.stopped", transactionId=12)
    await node.receiver.received(3)
    (failed,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert failed["state"] == "failed"
    assert [a["status_code"] for a in failed["attempts"]] == [503, 503, 503]
    assert failed["error"] == "HTTP 503"
    assert failed["next_attempt_at"] is None
    assert len(node.receiver.requests) == 3, "no attempt after the last retry"

    # The operator fixed their receiver: send it again, now, under the same webhook-id.
    response = await admin.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry")
    assert response.status_code == 200, response.text
    redelivered = response.json()
    assert redelivered["state"] == "delivered"
    assert redelivered["status_code"] == 204
    assert [a["number"] for a in redelivered["attempts"]] == [1, 2, 3, 4]
    fourth = node.receiver.requests[3]
    assert fourth.webhook_id == failed["message_id"]
    fourth.verify(webhook["secret"])

    again = await admin.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry")
    assert again.status_code == 409, again.text
    assert again.json()["title"] == "Delivery not failed"


async def test_a_receiver_that_cannot_be_reached_is_a_failed_attempt(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    await admin.patch(f"/api/v1/webhooks/{webhook['id']}", json={"url": closed_url()})
    node.publish("session.started")
    (delivery,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == 3
    assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])
    assert "ConnectError" in delivery["error"]
    assert not node.receiver.requests


@pytest.mark.parametrize("node_settings", [{"webhook_timeout": 0.3}])
async def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.hang_next(1)
    node.publish("session.started")
    (delivery,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert delivery["state"] == "delivered"
    first, second = delivery["attempts"]
    assert (first["status_code"], first["error"]) == (None, "no answer within 0.3 s")
    assert second["status_code"] == 204


async def test_redirects_are_not_followed(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(3, status=307)
    node.publish("session.started")
    (delivery,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert delivery["state"] == "failed"
    assert delivery["error"] == "HTTP 307 (redirects are not followed)"
    assert len(node.receiver.requests) == 3


@pytest.mark.parametrize(
    "node_settings", [{"webhook_retry_delays": (), "webhook_disable_after": 2}]
)
async def test_a_subscription_is_switched_off_after_failures_in_a_row(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(2)
    node.publish("session.started", n=1)
    await node.deliveries(admin, webhook["id"], finished(1))
    node.publish("session.started", n=2)
    log = await node.deliveries(admin, webhook["id"], finished(2))
    assert [d["state"] for d in log] == ["failed", "failed"]

    switched_off = (await admin.get(f"/api/v1/webhooks/{webhook['id']}")).json()
    assert switched_off["active"] is False
    assert switched_off["disabled_reason"] == "2 deliveries in a row failed"
    assert switched_off["consecutive_failures"] == 2

    # Switched on again: its failures are forgotten, and events reach it again.
    response = await admin.patch(f"/api/v1/webhooks/{webhook['id']}", json={"active": True})
    assert response.json()["active"] is True
    assert response.json()["disabled_reason"] is None
    assert response.json()["consecutive_failures"] == 0
    node.publish("session.started", n=3)
    log = await node.deliveries(admin, webhook["id"], finished(3))
    assert log[0]["state"] == "delivered"


async def test_410_gone_switches_the_subscription_off_at_once(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(1, status=410)
    node.publish("session.started")
    (delivery,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 1
    gone = (await admin.get(f"/api/v1/webhooks/{webhook['id']}")).json()
    assert (gone["active"], gone["disabled_reason"]) == (False, "the receiver answered 410 Gone")


async def test_an_inactive_subscription_gets_no_events(node: Node) -> None:
    admin = await node.client("a_admin")
    off = await node.subscribe(admin, "/off", active=False)
    on = await node.subscribe(admin, "/on")
    node.publish("session.started")
    await node.deliveries(admin, on["id"], finished(1))
    assert await node.deliveries(admin, off["id"]) == []
    assert [r.path for r in node.receiver.requests] == ["/on"]


@pytest.mark.parametrize("node_settings", [{"webhook_queue_size": 2}])
async def test_events_beyond_the_queue_are_dropped_and_counted(node: Node) -> None:
    """The bus callback never waits: with the queue full, events are dropped (and counted)."""
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    dropped = node.dispatcher.dropped
    for n in range(5):  # published back to back: the recorder gets no turn in between
        node.publish("session.started", n=n)
    assert node.dispatcher.dropped == dropped + 3
    log = await node.deliveries(admin, webhook["id"], finished(2))
    assert sorted(d["payload"]["data"]["data"]["n"] for d in log) == [0, 1]


async def test_two_dispatchers_never_send_the_same_attempt(node: Node) -> None:
    """Two nodes on one database: each due delivery is claimed (conditional UPDATE) by one."""
    admin = await node.client("a_admin")
    # Switched off, so that the node's own worker leaves the deliveries to this test.
    webhook = await node.subscribe(admin, active=False)
    other = WebhookDispatcher(node.server.node.sessions, EventBus(), node.server.node.settings)
    event = EventBus().publish(Event("session.started", {}, tenant_id=node.tenants["acme"]))
    async with node.server.node.sessions() as db:
        rows = [delivery_row(webhook["id"], event, body_of(event), utcnow()) for _ in range(5)]
        db.add_all(WebhookDelivery(**row) for row in rows)
        await db.commit()
        ids = list(await db.scalars(select(WebhookDelivery.id)))
    try:
        results = await asyncio.gather(
            *(dispatcher.attempt(i) for i in ids for dispatcher in (node.dispatcher, other))
        )
    finally:
        await other.close()
        await other.client.aclose()
    assert sorted(results) == [False] * 5 + [True] * 5
    log = await node.deliveries(admin, webhook["id"], finished(5))
    assert all(len(d["attempts"]) == 1 for d in log)
    assert len(node.receiver.requests) == 5
    assert {r.webhook_id for r in node.receiver.requests} == {d["message_id"] for d in log}
