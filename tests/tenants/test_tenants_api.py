"""Platform admins create tenants; drivers register into them by slug."""

from __future__ import annotations

from pathlib import Path

from auth.accounts_kit import PASSWORD, accounts_server, admin_client, client, logged_in
from kilowatt.auth.principal import Role


async def test_a_platform_admin_creates_a_tenant_and_drivers_join_it(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        root = await logged_in(server, "root@example.com", Role.PLATFORM_ADMIN)
        async with client(server, root) as http:
            created = await http.post(
                "/api/v1/tenants", json={"name": "Acme Charging", "slug": "acme"}
            )
            assert created.status_code == 201, created.text
            acme = created.json()
            assert acme["slug"] == "acme"
            tenants = (await http.get("/api/v1/tenants")).json()
            assert [(t["name"], t["slug"]) for t in tenants] == [
                ("default", "default"),
                ("Acme Charging", "acme"),
            ]
            duplicate = await http.post(
                "/api/v1/tenants", json={"name": "Acme again", "slug": "acme"}
            )
            assert duplicate.status_code == 409
            for slug in ("Acme", "-acme", "acme_1", ""):
                bad = await http.post("/api/v1/tenants", json={"name": f"x{slug}", "slug": slug})
                assert bad.status_code == 422, slug

        async with client(server) as http:
            registered = await http.post(
                "/api/v1/auth/register",
                json={"email": "d@example.com", "password": PASSWORD, "tenant": "acme"},
            )
            assert registered.json()["user"]["tenant_id"] == acme["id"]


async def test_only_platform_admins_manage_tenants(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, admin) as http:
            assert (await http.get("/api/v1/tenants")).status_code == 403
            refused = await http.post("/api/v1/tenants", json={"name": "X", "slug": "x"})
            assert refused.status_code == 403
        async with client(server) as http:
            assert (await http.get("/api/v1/tenants")).status_code == 401
        async with admin_client(server) as http:  # the node key is a platform admin
            assert (await http.get("/api/v1/tenants")).status_code == 200
