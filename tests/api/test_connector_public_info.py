"""The public connector page names who runs the charger and where (the driver app registers a
driver with that operator)."""

from __future__ import annotations

from typing import Any

from api.api_kit import World
from kilowatt.stations import repository as stations


async def test_a_connector_names_its_operator_and_site(world: World) -> None:
    admin = await world.client("a_admin")
    site = await admin.post("/api/v1/sites", json={"name": "Depot", "address": "1 Main St"})
    assert site.status_code == 201, site.text
    for cp, body in (
        ("A-SITED", {"site_id": site.json()["id"]}),
        ("A-BARE", {}),
    ):
        created = await admin.post(
            "/api/v1/stations", json={"charge_point_id": cp, "connectors": 1, **body}
        )
        assert created.status_code == 201, created.text

    async def public(cp: str) -> dict[str, Any]:
        async with world.server.node.sessions() as db:
            station = await stations.by_charge_point_id(db, cp)
            assert station is not None
        response = await world.anonymous().get(f"/api/v1/connectors/DE*KWT*E{station.id}*1")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    sited = await public("A-SITED")
    assert sited["operator"] == {"tenantId": world.a, "slug": "acme", "name": "Acme Charging"}
    assert sited["site"] == {"name": "Depot", "address": "1 Main St"}
    bare = await public("A-BARE")
    assert bare["operator"]["slug"] == "acme" and bare["site"] is None
