"""Tariffs API: a tenant's tariffs, where they apply, token groups and connector power limits.

Another tenant's tariff or assignment is a 404; viewers read tariffs, only admins write them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kilowatt.auth.principal import Role
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations import repository
from kilowatt.users import service as users

from support.accounts import make_account
from support.server import RunningServer, running_server

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 30,
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.35", "step_size": 1},
                {"type": "FLAT", "price": "1.00"},
            ],
            "restrictions": {"start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY"]},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.29"}]},
    ],
}
CHF = {"currency": "CHF", "vat_percent": "8.1", "elements": [TARIFF["elements"][1]]}


@dataclass
class Node:
    """A running node with tenants ``acme`` and ``bolt``; ``await node.client("a_admin")``."""

    server: RunningServer
    tenants: dict[str, int]
    stack: contextlib.AsyncExitStack
    _people: dict[str, tuple[Role, str]] = field(
        default_factory=lambda: {
            "a_admin": (Role.ADMIN, "acme"),
            "a_operator": (Role.OPERATOR, "acme"),
            "a_viewer": (Role.VIEWER, "acme"),
            "b_admin": (Role.ADMIN, "bolt"),
        }
    )

    async def client(self, name: str) -> httpx.AsyncClient:
        role, slug = self._people[name]
        account = await make_account(
            self.server, f"{name}@example.com", role=role, tenant_id=self.tenants[slug]
        )
        return await self.stack.enter_async_context(account.client(self.server))

    async def platform(self) -> httpx.AsyncClient:
        """The node's admin key: a platform admin."""
        return await self.stack.enter_async_context(self.server.api())

    async def station(self, tenant: str, charge_point_id: str, connectors: int = 2) -> int:
        """A station of ``tenant`` with connectors 1..``connectors``; its id."""
        api = await self.platform()
        body = {"charge_point_id": charge_point_id, "connectors": connectors, "tenant": tenant}
        assert (await api.post("/api/v1/stations", json=body)).status_code == 201
        async with self.server.node.sessions() as db:
            station = await repository.by_charge_point_id(db, charge_point_id)
            assert station is not None
            return station.id


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[Node]:
    async with running_server(database_url, tmp_path) as server:
        async with server.node.sessions() as db:
            acme = await users.create_tenant(db, name="Acme Charging", slug="acme")
            bolt = await users.create_tenant(db, name="Bolt Energy", slug="bolt")
            await db.commit()
        async with contextlib.AsyncExitStack() as stack:
            yield Node(server, {"acme": acme.id, "bolt": bolt.id}, stack)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem document with ``status``; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def created(response: Any) -> dict[str, Any]:
    answer: httpx.Response = await response
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


# ---- tariffs ------------------------------------------------------------------------------------
async def test_an_admin_creates_reads_lists_and_deletes_a_tariff(node: Node) -> None:
    admin = await node.client("a_admin")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "Day", "tariff": TARIFF}))
    assert (tariff["tenant_id"], tariff["name"], tariff["currency"], tariff["version"]) == (
        node.tenants["acme"],
        "Day",
        "EUR",
        1,
    )
    # The canonical form: defaults filled in (the FLAT step size), the rest as given.
    assert tariff["tariff"]["elements"][0]["price_components"][1] == {
        "type": "FLAT",
        "price": "1.00",
        "step_size": 1,
    }
    assert tariff["tariff"]["timezone"] == "Europe/Berlin"
    assert tariff["tariff"]["elements"][0]["restrictions"]["day_of_week"] == ["MONDAY"]
    assert tariff["created_at"] == tariff["updated_at"]
    await created(admin.post("/api/v1/tariffs", json={"name": "Swiss", "tariff": CHF}))

    assert (await admin.get(f"/api/v1/tariffs/{tariff['id']}")).json() == tariff
    page = (await admin.get("/api/v1/tariffs", params={"limit": 1})).json()
    assert (page["total"], [t["name"] for t in page["items"]]) == (2, ["Day"])

    assert (await admin.delete(f"/api/v1/tariffs/{tariff['id']}")).status_code == 204
    problem(await admin.get(f"/api/v1/tariffs/{tariff['id']}"), 404)
    assert [t["name"] for t in (await admin.get("/api/v1/tariffs")).json()["items"]] == ["Swiss"]


async def test_an_invalid_tariff_is_a_422_listing_every_error(node: Node) -> None:
    admin = await node.client("a_admin")
    broken = {
        "currency": "XYZ",
        "vat_percent": "19",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": "cheap"}],
                "restrictions": {"day_of_week": ["CAKEDAY"]},
            }
        ],
    }
    body = problem(await admin.post("/api/v1/tariffs", json={"name": "x", "tariff": broken}), 422)
    errors = body["errors"]
    assert len(errors) >= 3, errors
    assert any(e.startswith("currency") for e in errors), errors
    assert any(e.startswith("elements[0].price_components[0].price") for e in errors), errors
    assert any(e.startswith("elements[0].restrictions.day_of_week") for e in errors), errors
    assert (await admin.get("/api/v1/tariffs")).json()["total"] == 0
    # The request's own shape is checked first, as everywhere.
    problem(await admin.post("/api/v1/tariffs", json={"name": "", "tariff": TARIFF}), 422)
    problem(await admin.post("/api/v1/tariffs", json={"name": "x", "tariff": []}), 422)


async def test_put_replaces_name_and_tariff_and_bumps_the_version(node: Node) -> None:
    admin = await node.client("a_admin")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "Day", "tariff": TARIFF}))
    url = f"/api/v1/tariffs/{tariff['id']}"

    replaced = await admin.put(url, json={"name": "Swiss", "tariff": CHF})
    assert replaced.status_code == 200, replaced.text
    v2 = replaced.json()
    assert (v2["name"], v2["currency"], v2["version"]) == ("Swiss", "CHF", 2)
    assert v2["tariff"]["vat_percent"] == "8.1" and len(v2["tariff"]["elements"]) == 1
    assert v2["created_at"] == tariff["created_at"] and v2["updated_at"] > tariff["updated_at"]
    v3 = (await admin.put(url, json={"name": "Day", "tariff": TARIFF})).json()
    assert v3["version"] == 3 and (await admin.get(url)).json() == v3

    # A refused change changes nothing.
    problem(await admin.put(url, json={"name": "x", "tariff": {"currency": "EUR"}}), 422)
    problem(await admin.put(url, json={"name": "only a name"}), 422)
    assert (await admin.get(url)).json() == v3
    problem(await admin.put("/api/v1/tariffs/9999", json={"name": "x", "tariff": TARIFF}), 404)


async def test_another_tenants_tariffs_are_404_and_never_listed(node: Node) -> None:
    a_admin, b_admin = await node.client("a_admin"), await node.client("b_admin")
    tariff = await created(a_admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    url = f"/api/v1/tariffs/{tariff['id']}"
    assert (await b_admin.get("/api/v1/tariffs")).json()["total"] == 0
    problem(await b_admin.get(url), 404)
    problem(await b_admin.put(url, json={"name": "x", "tariff": TARIFF}), 404)
    problem(await b_admin.delete(url), 404)
    problem(await b_admin.get(f"{url}/assignments"), 404)
    problem(await b_admin.post(f"{url}/assignments", json={}), 404)
    # Naming another tenant is a 404 for a tenant's admin, the way to it for a platform admin.
    problem(await a_admin.get("/api/v1/tariffs", params={"tenant": "bolt"}), 404)
    problem(
        await a_admin.post(
            "/api/v1/tariffs", json={"name": "B", "tariff": TARIFF, "tenant": "bolt"}
        ),
        404,
    )

    platform = await node.platform()
    b_tariff = await created(
        platform.post("/api/v1/tariffs", json={"name": "B", "tariff": CHF, "tenant": "bolt"})
    )
    assert b_tariff["tenant_id"] == node.tenants["bolt"]
    assert (await platform.get("/api/v1/tariffs")).json()["total"] == 2
    only_bolt = (await platform.get("/api/v1/tariffs", params={"tenant": "bolt"})).json()
    assert [t["id"] for t in only_bolt["items"]] == [b_tariff["id"]]
    assert [t["id"] for t in (await b_admin.get("/api/v1/tariffs")).json()["items"]] == [
        b_tariff["id"]
    ]


async def test_viewers_and_operators_read_tariffs_but_do_not_write_them(node: Node) -> None:
    admin = await node.client("a_admin")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    url = f"/api/v1/tariffs/{tariff['id']}"
    assignment = await created(admin.post(f"{url}/assignments", json={}))
    for name in ("a_viewer", "a_operator"):
        reader = await node.client(name)
        assert (await reader.get(url)).json() == tariff
        assert (await reader.get("/api/v1/tariffs")).json()["total"] == 1
        assert (await reader.get(f"{url}/assignments")).json()["total"] == 1
        problem(await reader.post("/api/v1/tariffs", json={"name": "x", "tariff": TARIFF}), 403)
        problem(await reader.put(url, json={"name": "x", "tariff": TARIFF}), 403)
        problem(await reader.delete(url), 403)
        problem(await reader.post(f"{url}/assignments", json={"token_group": "x"}), 403)
        problem(await reader.delete(f"/api/v1/tariff-assignments/{assignment['id']}"), 403)
    async with node.server.anonymous() as anonymous:
        problem(await anonymous.get("/api/v1/tariffs"), 401)


# ---- assignments --------------------------------------------------------------------------------
async def test_assignments_name_places_of_the_tariffs_tenant(node: Node) -> None:
    admin = await node.client("a_admin")
    a_station = await node.station("acme", "A-1")
    await node.station("bolt", "B-1")
    b_station = await node.station("bolt", "B-2")
    site = await created(admin.post("/api/v1/sites", json={"name": "Depot"}))
    b_site = await created((await node.client("b_admin")).post("/api/v1/sites", json={"name": "B"}))
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    assignments = f"/api/v1/tariffs/{tariff['id']}/assignments"

    everywhere = await created(admin.post(assignments, json={}))
    assert everywhere == {
        "id": everywhere["id"],
        "tariff_id": tariff["id"],
        "scope": "tenant",
        "site_id": None,
        "station_id": None,
        "connector_id": None,
        "token_group": None,
        "scope_key": "tenant",
    }
    at_site = await created(admin.post(assignments, json={"site_id": site["id"]}))
    assert (at_site["scope"], at_site["scope_key"]) == ("site", f"site:{site['id']}")
    at_station = await created(admin.post(assignments, json={"station_id": "A-1"}))
    assert (at_station["scope"], at_station["station_id"]) == ("station", "A-1")
    assert at_station["scope_key"] == f"station:{a_station}"
    at_connector = await created(
        admin.post(
            assignments, json={"station_id": a_station, "connector_id": 2, "token_group": "members"}
        )
    )
    assert (at_connector["scope"], at_connector["station_id"]) == ("connector", "A-1")
    assert at_connector["scope_key"] == f"connector:{a_station}/2|members"
    assert at_connector["token_group"] == "members"

    listed = (await admin.get(assignments)).json()
    assert listed["total"] == 4
    assert [a["id"] for a in listed["items"]] == [
        everywhere["id"],
        at_site["id"],
        at_station["id"],
        at_connector["id"],
    ]
    assert listed["items"][3] == at_connector

    # Places of another tenant read like places that do not exist.
    problem(await admin.post(assignments, json={"station_id": "B-1"}), 404)
    problem(await admin.post(assignments, json={"station_id": b_station}), 404)
    problem(await admin.post(assignments, json={"station_id": "NOPE"}), 404)
    problem(await admin.post(assignments, json={"site_id": b_site["id"]}), 404)
    problem(await admin.post(assignments, json={"station_id": "A-1", "connector_id": 3}), 404)
    # A connector is named by its station; a place is a site or a station.
    problem(await admin.post(assignments, json={"connector_id": 1}), 422)
    both = {"site_id": site["id"], "station_id": "A-1"}
    problem(await admin.post(assignments, json=both), 422)
    for group in ("", " members", "x" * 41, "tab\tgroup"):
        problem(await admin.post(assignments, json={"token_group": group}), 422)
    assert (await admin.get(assignments)).json()["total"] == 4


async def test_one_tariff_per_place_and_group_unless_replaced(node: Node) -> None:
    admin = await node.client("a_admin")
    await node.station("acme", "A-1")
    day = await created(admin.post("/api/v1/tariffs", json={"name": "Day", "tariff": TARIFF}))
    swiss = await created(admin.post("/api/v1/tariffs", json={"name": "Swiss", "tariff": CHF}))
    day_at, swiss_at = (f"/api/v1/tariffs/{t['id']}/assignments" for t in (day, swiss))

    first = await created(admin.post(day_at, json={"station_id": "A-1"}))
    taken = problem(await admin.post(swiss_at, json={"station_id": "A-1"}), 409)
    assert str(day["id"]) in taken["detail"]
    problem(await admin.post(day_at, json={"station_id": "A-1"}), 409)
    # Another group at the same place is another place.
    await created(admin.post(swiss_at, json={"station_id": "A-1", "token_group": "members"}))

    moved = await admin.post(swiss_at, json={"station_id": "A-1", "replace": True})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {**first, "tariff_id": swiss["id"]}
    assert (await admin.get(day_at)).json()["total"] == 0
    assert [a["token_group"] for a in (await admin.get(swiss_at)).json()["items"]] == [
        None,
        "members",
    ]
    # Replacing where nothing applies yet is a plain assignment.
    assert (await admin.post(day_at, json={"replace": True})).status_code == 201


async def test_an_assignment_is_deleted_by_its_tenant_only(node: Node) -> None:
    admin, b_admin = await node.client("a_admin"), await node.client("b_admin")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    assignment = await created(admin.post(f"/api/v1/tariffs/{tariff['id']}/assignments", json={}))
    url = f"/api/v1/tariff-assignments/{assignment['id']}"
    problem(await b_admin.delete(url), 404)
    assert (await admin.delete(url)).status_code == 204
    problem(await admin.delete(url), 404)
    assert (await admin.get(f"/api/v1/tariffs/{tariff['id']}/assignments")).json()["total"] == 0


async def test_an_assigned_tariff_is_deleted_only_by_force(node: Node) -> None:
    admin = await node.client("a_admin")
    await node.station("acme", "A-1")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    url = f"/api/v1/tariffs/{tariff['id']}"
    await created(admin.post(f"{url}/assignments", json={}))
    await created(admin.post(f"{url}/assignments", json={"station_id": "A-1"}))

    in_use = problem(await admin.delete(url), 409)
    assert "2" in in_use["detail"]
    assert (await admin.get(url)).status_code == 200
    assert (await admin.delete(url, params={"force": "true"})).status_code == 204
    problem(await admin.get(url), 404)
    # Its places are free again.
    other = await created(admin.post("/api/v1/tariffs", json={"name": "B", "tariff": CHF}))
    await created(admin.post(f"/api/v1/tariffs/{other['id']}/assignments", json={}))


async def test_a_deleted_tariff_leaves_the_sessions_that_paid_it_their_snapshot(
    node: Node,
) -> None:
    admin = await node.client("a_admin")
    station_id = await node.station("acme", "A-1")
    tariff = await created(admin.post("/api/v1/tariffs", json={"name": "A", "tariff": TARIFF}))
    snapshot = {"id": tariff["id"], "name": "A", "version": 1, "spec": tariff["tariff"]}
    async with node.server.node.sessions() as db:
        session = ChargingSession(
            tenant_id=node.tenants["acme"],
            id_tag="CARD-1",
            station_id=station_id,
            connector_id=1,
            origin="rfid",
            state="completed",
            tariff_id=tariff["id"],
            tariff_snapshot=snapshot,
        )
        db.add(session)
        await db.commit()

    assert (await admin.delete(f"/api/v1/tariffs/{tariff['id']}")).status_code == 204
    async with node.server.node.sessions() as db:
        paid = await db.get(ChargingSession, session.id)
        assert paid is not None
        assert (paid.tariff_id, paid.tariff_snapshot) == (None, snapshot)


# ---- token groups and connector limits ---------------------------------------------------------
async def test_an_operator_puts_tokens_in_groups(node: Node) -> None:
    operator = await node.client("a_operator")
    token = await created(
        operator.post("/api/v1/tokens", json={"id_tag": "CARD-1", "token_group": "members"})
    )
    assert token["token_group"] == "members"
    assert (await created(operator.post("/api/v1/tokens", json={"id_tag": "CARD-2"})))[
        "token_group"
    ] is None

    unchanged = await operator.patch("/api/v1/tokens/CARD-1", json={"status": "Blocked"})
    assert unchanged.json()["token_group"] == "members"
    moved = await operator.patch("/api/v1/tokens/CARD-1", json={"token_group": "staff"})
    assert moved.json()["token_group"] == "staff"
    cleared = await operator.patch("/api/v1/tokens/CARD-1", json={"token_group": None})
    assert cleared.json()["token_group"] is None
    assert (await operator.get("/api/v1/tokens/CARD-1")).json() == cleared.json()
    problem(await operator.patch("/api/v1/tokens/CARD-1", json={"token_group": "x" * 41}), 422)
    problem(await operator.post("/api/v1/tokens", json={"id_tag": "C3", "token_group": ""}), 422)


async def test_an_admin_sets_a_connectors_maximum_power(node: Node) -> None:
    admin, operator = await node.client("a_admin"), await node.client("a_operator")
    await node.station("acme", "A-1")
    url = "/api/v1/stations/A-1/connectors/1"

    limited = await admin.patch(url, json={"max_power_w": 22_000})
    assert limited.status_code == 200, limited.text
    assert (limited.json()["connector_id"], limited.json()["max_power_w"]) == (1, 22_000)
    connectors = (await admin.get("/api/v1/stations/A-1")).json()["connectors"]
    assert [c["max_power_w"] for c in connectors] == [None, 22_000, None]
    assert (await admin.patch(url, json={})).json()["max_power_w"] == 22_000
    assert (await admin.patch(url, json={"max_power_w": None})).json()["max_power_w"] is None

    for power in (0, 2_000_001, "lots"):
        problem(await admin.patch(url, json={"max_power_w": power}), 422)
    problem(await admin.patch("/api/v1/stations/A-1/connectors/3", json={"max_power_w": 1}), 404)
    problem(await operator.patch(url, json={"max_power_w": 1}), 403)
    problem(await (await node.client("b_admin")).patch(url, json={"max_power_w": 1}), 404)
