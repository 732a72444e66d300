"""The firmware API across tenants and roles: files, campaigns (targets, validation, closing)
and diagnostics requests."""

from __future__ import annotations

from typing import Any

import httpx

from api.api_kit import World, assert_problem

from support.firmware_steps import Events, firmware


async def _station(http: httpx.AsyncClient, charge_point_id: str, **body: Any) -> None:
    response = await http.post(
        "/api/v1/stations", json={"charge_point_id": charge_point_id, **body}
    )
    assert response.status_code == 201, response.text


async def _upload(http: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/firmware", params={"name": name, **params}, content=b"image " + name.encode()
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_files_and_campaigns_stay_in_their_tenant(world: World) -> None:
    a_admin, b_admin = await world.client("a_admin"), await world.client("b_admin")
    platform = await world.client("platform")
    for cp in ("FW-A1", "FW-A2"):
        await _station(a_admin, cp)
    await _station(b_admin, "FW-B1")
    a_file = await _upload(a_admin, "acme.bin", version="1.2")
    b_file = await _upload(platform, "bolt.bin", tenant="bolt")
    assert (a_file["tenant_id"], b_file["tenant_id"]) == (world.a, world.b)
    assert a_file["version"] == "1.2" and len(a_file["sha256"]) == 64

    assert [f["name"] for f in (await a_admin.get("/api/v1/firmware")).json()["items"]] == [
        "acme.bin"
    ]
    assert_problem(await b_admin.get(f"/api/v1/firmware/{a_file['id']}"), 404)
    assert_problem(await b_admin.delete(f"/api/v1/firmware/{a_file['id']}"), 404)
    assert_problem(
        await b_admin.post(
            "/api/v1/firmware/campaigns", json={"file_id": a_file["id"], "all": True}
        ),
        404,
    )
    # A campaign reaches the file's tenant only: another tenant's station is "not found".
    foreign = await a_admin.post(
        "/api/v1/firmware/campaigns", json={"file_id": a_file["id"], "stations": ["FW-B1"]}
    )
    assert_problem(foreign, 404)
    everywhere = await platform.post(
        "/api/v1/firmware/campaigns", json={"fileId": b_file["id"], "all": True}
    )
    assert everywhere.status_code == 201, everywhere.text
    assert [s["charge_point_id"] for s in everywhere.json()["stations"]] == ["FW-B1"]
    mine = await a_admin.post(
        "/api/v1/firmware/campaigns",
        json={"file_id": a_file["id"], "all": True, "retries": 3, "retryInterval": 60},
    )
    assert mine.status_code == 201, mine.text
    campaign = mine.json()
    assert [s["charge_point_id"] for s in campaign["stations"]] == ["FW-A1", "FW-A2"]
    assert (campaign["retries"], campaign["retry_interval"], campaign["state"]) == (3, 60, "open")
    assert_problem(await b_admin.get(f"/api/v1/firmware/campaigns/{campaign['id']}"), 404)
    listed = (await b_admin.get("/api/v1/firmware/campaigns")).json()["items"]
    assert [c["tenant_id"] for c in listed] == [world.b]


async def test_campaign_targets_and_closing(world: World) -> None:
    admin = await world.client("a_admin")
    site = await admin.post("/api/v1/sites", json={"name": "Depot"})
    assert site.status_code == 201, site.text
    await _station(admin, "FW-S1", site_id=site.json()["id"])
    await _station(admin, "FW-S2")
    file = await _upload(admin, "site.bin")
    for body in (
        {"file_id": file["id"]},  # no target
        {"file_id": file["id"], "all": True, "stations": ["FW-S1"]},  # two
        {"file_id": file["id"], "all": True, "retrieve_date": "2026-12-01T00:00:00"},  # naive
        {"file_id": file["id"], "all": True, "retries": -1},
        {"file_id": file["id"], "stations": []},
    ):
        assert_problem(await admin.post("/api/v1/firmware/campaigns", json=body), 422)
    assert_problem(
        await admin.post(
            "/api/v1/firmware/campaigns", json={"file_id": file["id"], "stations": ["NOPE"]}
        ),
        404,
    )
    # The stations are offline: their updates wait for them.
    with Events(world.server.node.bus, "firmware.status") as events:
        started = await admin.post(
            "/api/v1/firmware/campaigns",
            json={
                "file_id": file["id"],
                "site_id": site.json()["id"],
                "retrieveDate": "2026-12-24T18:00:00+01:00",
            },
        )
        assert started.status_code == 201, started.text
        await events.until(firmware("offline", "FW-S1"))
    campaign = started.json()
    assert campaign["retrieve_date"].startswith("2026-12-24T17:00:00")
    assert [s["charge_point_id"] for s in campaign["stations"]] == ["FW-S1"]
    assert_problem(await admin.delete(f"/api/v1/firmware/{file['id']}"), 409)
    closed = await admin.post(f"/api/v1/firmware/campaigns/{campaign['id']}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    assert [s["state"] for s in closed.json()["stations"]] == ["cancelled"]
    assert (await admin.delete(f"/api/v1/firmware/{file['id']}")).status_code == 204


async def test_who_may_do_what(world: World) -> None:
    admin, operator = await world.client("a_admin"), await world.client("a_operator")
    viewer, driver = await world.client("a_viewer"), await world.client("driver")
    await _station(admin, "FW-P1")
    file = await _upload(admin, "perm.bin")
    for http in (operator, viewer, driver):
        assert_problem(
            await http.post("/api/v1/firmware", params={"name": "x.bin"}, content=b"x"), 403
        )
        assert_problem(
            await http.post(
                "/api/v1/firmware/campaigns", json={"file_id": file["id"], "all": True}
            ),
            403,
        )
    assert (await viewer.get(f"/api/v1/firmware/{file['id']}")).status_code == 200
    assert_problem(await driver.get("/api/v1/firmware"), 403)
    # Diagnostics: operators ask (the station is offline here), viewers only read.
    asked = await operator.post("/api/v1/stations/FW-P1/diagnostics", json={})
    assert asked.status_code == 201, asked.text
    assert (asked.json()["state"], asked.json()["download"]) == ("offline", None)
    assert_problem(await viewer.post("/api/v1/stations/FW-P1/diagnostics", json={}), 403)
    listed = await viewer.get("/api/v1/stations/FW-P1/diagnostics")
    assert [r["id"] for r in listed.json()["items"]] == [asked.json()["id"]]
    assert_problem(await viewer.get(f"/api/v1/diagnostics/{asked.json()['id']}/file"), 403)
    assert_problem(await operator.get(f"/api/v1/diagnostics/{asked.json()['id']}/file"), 404)
    b_operator = await world.client("b_operator")
    assert_problem(await b_operator.post("/api/v1/stations/FW-P1/diagnostics", json={}), 404)
    assert_problem(await b_operator.get("/api/v1/stations/FW-P1/diagnostics"), 404)
    bad = await operator.post(
        "/api/v1/stations/FW-P1/diagnostics",
        json={"startTime": "2026-02-01T00:00:00Z", "stopTime": "2026-01-01T00:00:00Z"},
    )
    assert_problem(bad, 422)
