"""The webhooks API: subscriptions, their secrets, test-fires and the delivery log.

Admins write, operators read (viewers do not see webhooks); another tenant's subscription or
delivery is a 404.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kilowatt.webhooks.signing import WebhookVerificationError
from webhooks.conftest import Node, finished
from webhooks.receiver import closed_url


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


# ---- subscriptions ------------------------------------------------------------------------------
async def test_an_admin_creates_reads_changes_and_deletes_a_subscription(node: Node) -> None:
    admin = await node.client("a_admin")
    created = await node.subscribe(
        admin, event_types=["session.*", "connector.status"], description="ERP"
    )
    assert created["tenant_id"] == node.tenants["acme"]
    assert created["url"] == node.receiver.url("/hooks")
    assert created["event_types"] == ["session.*", "connector.status"]
    assert (created["description"], created["active"]) == ("ERP", True)
    assert created["secret"].startswith("whsec_")

    # The secret is shown once: never in reads or lists.
    read = (await admin.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert "secret" not in read
    assert read == {k: v for k, v in created.items() if k != "secret"}
    listed = (await admin.get("/api/v1/webhooks")).json()
    assert (listed["total"], [w["id"] for w in listed["items"]]) == (1, [created["id"]])
    assert "secret" not in listed["items"][0]

    changed = await admin.patch(
        f"/api/v1/webhooks/{created['id']}",
        json={"event_types": ["*"], "description": None, "active": False},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["event_types"], changed.json()["description"]) == (["*"], None)
    assert changed.json()["active"] is False
    renamed = await admin.patch(f"/api/v1/webhooks/{created['id']}", json={"description": "x"})
    assert (renamed.json()["description"], renamed.json()["event_types"]) == ("x", ["*"])

    assert (await admin.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 204
    problem(await admin.get(f"/api/v1/webhooks/{created['id']}"), 404)


async def test_event_types_default_to_everything_and_must_be_patterns(node: Node) -> None:
    admin = await node.client("a_admin")
    assert (await node.subscribe(admin))["event_types"] == ["*"]
    for bad in (["session.*.started"], ["session*"], [""], [], ["a b"], ["*.started"]):
        response = await admin.post(
            "/api/v1/webhooks", json={"url": node.receiver.url(), "event_types": bad}
        )
        problem(response, 422)


@pytest.mark.parametrize(
    "url",
    ["http://backoffice.example.com/hooks", "http://192.168.1.5/hooks", "ftp://example.com/x"],
)
async def test_urls_must_be_https_except_on_the_local_machine(node: Node, url: str) -> None:
    admin = await node.client("a_admin")
    body = problem(await admin.post("/api/v1/webhooks", json={"url": url}), 422)
    assert body["errors"][0]["loc"] == ["body", "url"]
    webhook = await node.subscribe(admin)  # http://127.0.0.1:<port>/hooks: development
    problem(await admin.patch(f"/api/v1/webhooks/{webhook['id']}", json={"url": url}), 422)
    secure = "https://backoffice.example.com/kilowatt"
    response = await admin.patch(f"/api/v1/webhooks/{webhook['id']}", json={"url": secure})
    assert response.json()["url"] == secure


async def test_operators_read_webhooks_admins_write_them_viewers_see_none(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    operator, viewer = await node.client("a_operator"), await node.client("a_viewer")
    assert (await operator.get(f"/api/v1/webhooks/{webhook['id']}")).status_code == 200
    assert (await operator.get(f"/api/v1/webhooks/{webhook['id']}/deliveries")).status_code == 200
    problem(await operator.post("/api/v1/webhooks", json={"url": node.receiver.url()}), 403)
    problem(await operator.post(f"/api/v1/webhooks/{webhook['id']}/test"), 403)
    problem(await operator.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret"), 403)
    problem(await viewer.get("/api/v1/webhooks"), 403)


async def test_another_tenants_subscriptions_are_not_found(node: Node) -> None:
    a_admin, b_admin = await node.client("a_admin"), await node.client("b_admin")
    theirs = await node.subscribe(a_admin)
    assert (await b_admin.get("/api/v1/webhooks")).json()["items"] == []
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ]:
        response = await b_admin.request(
            method, f"/api/v1/webhooks/{theirs['id']}{path}", json={} if method == "PATCH" else None
        )
        assert problem(response, 404)["title"] == "Webhook not found", (method, path)
    assert not node.receiver.requests


async def test_a_platform_admin_subscribes_for_a_tenant(node: Node) -> None:
    async with node.server.api() as platform:
        response = await platform.post(
            "/api/v1/webhooks", json={"url": node.receiver.url(), "tenant": "bolt"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["tenant_id"] == node.tenants["bolt"]
        listed = await platform.get("/api/v1/webhooks", params={"tenant": "acme"})
        assert listed.json()["items"] == []
        listed = await platform.get("/api/v1/webhooks")
        assert [w["tenant_id"] for w in listed.json()["items"]] == [node.tenants["bolt"]]
    b_admin = await node.client("b_admin")
    node.publish("session.started", tenant="bolt")
    (request,) = await node.receiver.received(1)
    request.verify(response.json()["secret"])
    await node.deliveries(b_admin, response.json()["id"], finished(1))


# ---- secrets and test-fires ----------------------------------------------------------------------
async def test_a_test_fire_is_delivered_now_and_answers_the_outcome(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin, event_types=["session.started"])
    response = await admin.post(f"/api/v1/webhooks/{webhook['id']}/test")
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert (outcome["state"], outcome["status_code"], outcome["error"]) == ("delivered", 204, None)
    assert outcome["duration_ms"] >= 0 and outcome["event_type"] == "webhook.test"
    assert [a["status_code"] for a in outcome["attempts"]] == [204]

    (request,) = node.receiver.requests
    payload = request.verify(webhook["secret"])
    assert payload["type"] == "webhook.test"
    assert payload["data"]["data"]["webhook_id"] == webhook["id"]
    assert request.webhook_id == outcome["message_id"]


async def test_a_failed_test_fire_says_why_and_is_not_retried(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(1, status=500)
    outcome = (await admin.post(f"/api/v1/webhooks/{webhook['id']}/test")).json()
    assert (outcome["state"], outcome["status_code"], outcome["error"]) == (
        "failed",
        500,
        "HTTP 500",
    )
    assert len(outcome["attempts"]) == 1 and outcome["next_attempt_at"] is None
    # ... and does not count towards switching the subscription off.
    assert (await admin.get(f"/api/v1/webhooks/{webhook['id']}")).json()[
        "consecutive_failures"
    ] == 0

    await admin.patch(f"/api/v1/webhooks/{webhook['id']}", json={"url": closed_url()})
    unreachable = (await admin.post(f"/api/v1/webhooks/{webhook['id']}/test")).json()
    assert (unreachable["state"], unreachable["status_code"]) == ("failed", None)
    assert "ConnectError" in unreachable["error"]
    assert len(node.receiver.requests) == 1


async def test_after_a_rotation_only_the_new_secret_verifies(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    rotated = await admin.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != webhook["secret"]
    assert "secret" not in (await admin.get(f"/api/v1/webhooks/{webhook['id']}")).json()

    await admin.post(f"/api/v1/webhooks/{webhook['id']}/test")
    node.publish("session.started")
    test_fire, event = await node.receiver.received(2)
    for request in (test_fire, event):
        request.verify(new_secret)
        with pytest.raises(WebhookVerificationError):
            request.verify(webhook["secret"])


# ---- the delivery log ----------------------------------------------------------------------------
@pytest.mark.parametrize("node_settings", [{"webhook_retry_delays": ()}])
async def test_the_delivery_log_pages_newest_first_and_filters_by_state(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(1)  # no retries: the first event (sent first) fails for good
    for n in range(4):
        node.publish("session.started", n=n)
    log = await node.deliveries(admin, webhook["id"], finished(4))
    assert [d["payload"]["data"]["data"]["n"] for d in log] == [3, 2, 1, 0]
    assert [d["state"] for d in log] == ["delivered", "delivered", "delivered", "failed"]

    path = f"/api/v1/webhooks/{webhook['id']}/deliveries"
    page = (await admin.get(path, params={"limit": 2, "offset": 1})).json()
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert [d["id"] for d in page["items"]] == [log[1]["id"], log[2]["id"]]
    failed = (await admin.get(path, params={"state": "failed"})).json()
    assert (failed["total"], [d["id"] for d in failed["items"]]) == (1, [log[3]["id"]])
    assert (await admin.get(path, params={"state": "pending"})).json()["total"] == 0
    problem(await admin.get(path, params={"state": "lost"}), 422)

    delivery = log[3]
    assert set(delivery) >= {
        "id",
        "webhook_id",
        "message_id",
        "event_id",
        "event_type",
        "state",
        "status_code",
        "duration_ms",
        "error",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "payload",
        "attempts",
    }
    assert delivery["webhook_id"] == webhook["id"]
    assert [set(a) for a in delivery["attempts"]] == [
        {"number", "at", "status_code", "duration_ms", "error"}
    ]


async def test_only_the_tenants_failed_deliveries_can_be_redelivered(node: Node) -> None:
    a_admin, b_admin = await node.client("a_admin"), await node.client("b_admin")
    webhook = await node.subscribe(a_admin)
    node.receiver.fail_next(3)
    node.publish("session.started")
    (failed,) = await node.deliveries(a_admin, webhook["id"], finished(1))
    problem(await b_admin.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry"), 404)
    problem(await a_admin.post("/api/v1/webhooks/deliveries/999999/retry"), 404)
    retried = await a_admin.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry")
    assert retried.json()["state"] == "delivered"


async def test_deleting_a_subscription_deletes_its_delivery_log(node: Node) -> None:
    admin = await node.client("a_admin")
    webhook = await node.subscribe(admin)
    node.receiver.fail_next(3)
    node.publish("session.started")
    (failed,) = await node.deliveries(admin, webhook["id"], finished(1))
    assert (await admin.delete(f"/api/v1/webhooks/{webhook['id']}")).status_code == 204
    problem(await admin.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry"), 404)
