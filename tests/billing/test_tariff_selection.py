"""Which tariff a session pays: the most specific place first (connector, station, site,
tenant), and at each place a token group's own tariff before the general one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.auth.principal import Role
from kilowatt.billing import tariff_admin
from kilowatt.billing.models import Tariff
from kilowatt.billing.service import applicable_tariff
from kilowatt.models import Station, Tenant, Token
from kilowatt.tenants.models import Site
from kilowatt.users import service as users

from factories import make_station, make_tenant, make_token
from support.accounts import make_account
from support.server import running_server

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.35"}]}],
}


async def make_tariff(db: AsyncSession, tenant: Tenant, name: str) -> Tariff:
    return await tariff_admin.create_tariff(db, tenant.id, name=name, data=TARIFF)


async def make_site(db: AsyncSession, tenant: Tenant) -> Site:
    site = Site(tenant_id=tenant.id, name="Depot")
    db.add(site)
    await db.flush()
    return site


async def applies(
    db: AsyncSession, station: Station, connector_id: int, token: Token | None = None
) -> str | None:
    tariff = await applicable_tariff(db, station, connector_id, token)
    return None if tariff is None else tariff.name


async def test_connector_beats_station_beats_site_beats_tenant(db_session: AsyncSession) -> None:
    db = db_session
    tenant = await make_tenant(db)
    site = await make_site(db, tenant)
    station = await make_station(db, tenant, connectors=2, site_id=site.id)
    elsewhere = await make_station(db, tenant, connectors=1)

    await tariff_admin.assign(db, await make_tariff(db, tenant, "tenant"))
    assert await applies(db, station, 1) == "tenant"
    await tariff_admin.assign(db, await make_tariff(db, tenant, "site"), site_id=site.id)
    assert await applies(db, station, 1) == "site"
    await tariff_admin.assign(db, await make_tariff(db, tenant, "station"), station_ref=station.id)
    assert await applies(db, station, 1) == "station"
    await tariff_admin.assign(
        db,
        await make_tariff(db, tenant, "connector"),
        station_ref=station.charge_point_id,
        connector_id=1,
    )
    assert await applies(db, station, 1) == "connector"
    assert await applies(db, station, 2) == "station"
    # A station at no site: the tenant's tariff.
    assert await applies(db, elsewhere, 1) == "tenant"


async def test_a_token_groups_tariff_beats_the_general_one_at_the_same_place(
    db_session: AsyncSession,
) -> None:
    db = db_session
    tenant = await make_tenant(db)
    station = await make_station(db, tenant, connectors=1)
    await tariff_admin.assign(db, await make_tariff(db, tenant, "general"), station_ref=station.id)
    await tariff_admin.assign(
        db, await make_tariff(db, tenant, "members"), station_ref=station.id, token_group="members"
    )
    member = await make_token(db, tenant, "MEMBER", token_group="members")
    staff = await make_token(db, tenant, "STAFF", token_group="staff")
    nobody = await make_token(db, tenant, "NOBODY")

    assert await applies(db, station, 1, member) == "members"
    assert await applies(db, station, 1, staff) == "general"
    assert await applies(db, station, 1, nobody) == "general"
    assert await applies(db, station, 1, None) == "general"


async def test_a_general_connector_tariff_beats_a_tenant_wide_group_tariff(
    db_session: AsyncSession,
) -> None:
    """The place comes first: a group's tariff only wins over the general one at its place."""
    db = db_session
    tenant = await make_tenant(db)
    station = await make_station(db, tenant, connectors=2)
    await tariff_admin.assign(
        db, await make_tariff(db, tenant, "members everywhere"), token_group="members"
    )
    await tariff_admin.assign(
        db, await make_tariff(db, tenant, "fast charger"), station_ref=station.id, connector_id=1
    )
    member = await make_token(db, tenant, "MEMBER", token_group="members")

    assert await applies(db, station, 1, member) == "fast charger"
    assert await applies(db, station, 2, member) == "members everywhere"
    assert await applies(db, station, 2, None) is None


async def test_no_assignment_no_tariff_and_never_another_tenants(db_session: AsyncSession) -> None:
    db = db_session
    tenant, other = await make_tenant(db), await make_tenant(db)
    station = await make_station(db, tenant, connectors=1)
    await make_tariff(db, tenant, "unassigned")
    assert await applies(db, station, 1) is None
    await tariff_admin.assign(db, await make_tariff(db, other, "theirs"))
    assert await applies(db, station, 1) is None


async def test_the_connector_tariff_endpoint_says_which_applies_and_why(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        async with server.node.sessions() as db:
            tenant = await users.create_tenant(db, name="Acme Charging", slug="acme")
            bolt = await users.create_tenant(db, name="Bolt Energy", slug="bolt")
            station = await make_station(db, tenant, charge_point_id="A-1", connectors=2)
            general = await make_tariff(db, tenant, "general")
            members = await make_tariff(db, tenant, "members")
            await tariff_admin.assign(db, general, station_ref=station.id)
            await tariff_admin.assign(db, members, token_group="members")
            await make_station(db, bolt, charge_point_id="B-1", connectors=1)
            await db.commit()
        url = "/api/v1/stations/A-1/connectors/1/tariff"
        async with server.api() as api:
            got = await api.get(url)
            assert got.status_code == 200, got.text
            assert got.json() == {
                "tariff_id": general.id,
                "name": "general",
                "version": 1,
                "scope": "station",
                "scope_key": f"station:{station.id}",
                "tariff": general.spec,
            }
            for_members = (await api.get(url, params={"token_group": "members"})).json()
            assert (for_members["name"], for_members["scope"]) == ("general", "station")
            # The station's general tariff is more specific than the tenant-wide members one.
            assert for_members["scope_key"] == f"station:{station.id}"

            removed = await api.delete(f"/api/v1/tariffs/{general.id}", params={"force": True})
            assert removed.status_code == 204
            for_members = (await api.get(url, params={"token_group": "members"})).json()
            assert (for_members["name"], for_members["scope"]) == ("members", "tenant")
            assert for_members["scope_key"] == "tenant|members"

            nothing = await api.get(url)
            assert nothing.status_code == 404
            assert nothing.json()["title"] == "No tariff applies"
            no_connector = await api.get("/api/v1/stations/A-1/connectors/7/tariff")
            assert (no_connector.status_code, no_connector.json()["title"]) == (
                404,
                "Connector not found",
            )
            bad_group = await api.get(url, params={"token_group": ""})
            assert bad_group.status_code == 422
            assert (await api.get("/api/v1/stations/NOPE/connectors/1/tariff")).status_code == 404
        b_admin = await make_account(server, "b@example.com", role=Role.ADMIN, tenant_id=bolt.id)
        async with b_admin.client(server) as theirs:
            assert (await theirs.get(url)).status_code == 404
            assert (await theirs.get("/api/v1/stations/B-1/connectors/1/tariff")).status_code == 404
