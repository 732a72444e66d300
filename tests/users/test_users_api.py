"""Operator accounts: admins manage their own tenant's users; other tenants' users are 404."""

from __future__ import annotations

from pathlib import Path

from auth.accounts_kit import (
    PASSWORD,
    accounts_server,
    admin_client,
    client,
    logged_in,
    login,
    make_tenant,
    make_user,
)
from kilowatt.auth.principal import Role


async def test_an_admin_creates_lists_and_changes_operators(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, admin) as http:
            created = await http.post(
                "/api/v1/users",
                json={"email": "Op@Example.com", "password": PASSWORD, "role": "operator"},
            )
            assert created.status_code == 201, created.text
            operator = created.json()
            assert operator["email"] == "op@example.com" and operator["role"] == "operator"

            page = (await http.get("/api/v1/users", params={"limit": 1, "offset": 1})).json()
            assert page["total"] == 2 and [u["id"] for u in page["items"]] == [operator["id"]]
            assert (await http.get("/api/v1/users", params={"limit": 201})).status_code == 422

            promoted = await http.patch(f"/api/v1/users/{operator['id']}", json={"role": "viewer"})
            assert promoted.json()["role"] == "viewer"

        viewer_token = (await login(server, "op@example.com"))["access_token"]
        async with client(server, viewer_token) as http:
            me = (await http.get("/api/v1/me")).json()
            assert me["role"] == "viewer" and "commands:send" not in me["permissions"]
            assert (await http.get("/api/v1/users")).status_code == 200  # users:read
            refused = await http.post(
                "/api/v1/users",
                json={"email": "x@example.com", "password": PASSWORD, "role": "viewer"},
            )
            assert refused.status_code == 403

        async with client(server, admin) as http:
            disabled = await http.patch(f"/api/v1/users/{operator['id']}", json={"disabled": True})
            assert disabled.json()["disabled_at"] is not None
        async with client(server, viewer_token) as http:
            assert (await http.get("/api/v1/me")).status_code == 401


async def test_nobody_grants_more_than_they_hold(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin_user = await make_user(server, "admin@example.com", Role.ADMIN)
        admin = (await login(server, "admin@example.com"))["access_token"]
        root = await make_user(server, "root@example.com", Role.PLATFORM_ADMIN)
        async with client(server, admin) as http:
            too_high = await http.post(
                "/api/v1/users",
                json={"email": "p@example.com", "password": PASSWORD, "role": "platform_admin"},
            )
            assert too_high.status_code == 403
            driver = await http.post(
                "/api/v1/users",
                json={"email": "d@example.com", "password": PASSWORD, "role": "driver"},
            )
            assert driver.status_code == 422  # drivers register themselves
            assert (
                await http.patch(f"/api/v1/users/{root.id}", json={"name": "x"})
            ).status_code == 404
            self_disable = await http.patch(
                f"/api/v1/users/{admin_user.id}", json={"disabled": True}
            )
            assert self_disable.status_code == 409


async def test_another_tenants_users_are_404(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        other = await make_tenant(server, "Other CPO", "other")
        mine = await logged_in(server, "admin@example.com", Role.ADMIN)
        colleague = await make_user(server, "op@example.com", Role.OPERATOR)
        theirs = await logged_in(server, "admin@other.example", Role.ADMIN, tenant_id=other.id)
        async with client(server, theirs) as http:
            page = (await http.get("/api/v1/users")).json()
            assert [u["email"] for u in page["items"]] == ["admin@other.example"]
            assert (await http.get(f"/api/v1/users/{colleague.id}")).status_code == 404
            patched = await http.patch(f"/api/v1/users/{colleague.id}", json={"disabled": True})
            assert patched.status_code == 404
            assert (await http.get("/api/v1/users/999999")).status_code == 404
            assert (
                await http.get("/api/v1/users", params={"tenant": "default"})
            ).status_code == 404
            # Naming another tenant for a new user is the same 404.
            elsewhere = await http.post(
                "/api/v1/users",
                json={
                    "email": "x@example.com",
                    "password": PASSWORD,
                    "role": "viewer",
                    "tenant": "default",
                },
            )
            assert elsewhere.status_code == 404
        async with client(server, mine) as http:
            assert (await http.get(f"/api/v1/users/{colleague.id}")).json()["disabled_at"] is None


async def test_a_platform_admin_manages_every_tenant(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        await make_tenant(server, "Other CPO", "other")
        root = await logged_in(server, "root@example.com", Role.PLATFORM_ADMIN)
        async with client(server, root) as http:
            no_tenant = await http.post(
                "/api/v1/users",
                json={"email": "a@other.example", "password": PASSWORD, "role": "admin"},
            )
            assert no_tenant.status_code == 422
            created = await http.post(
                "/api/v1/users",
                json={
                    "email": "a@other.example",
                    "password": PASSWORD,
                    "role": "admin",
                    "tenant": "other",
                },
            )
            assert created.status_code == 201
            everyone = (await http.get("/api/v1/users")).json()
            assert {u["email"] for u in everyone["items"]} == {
                "root@example.com",
                "a@other.example",
            }
            only_other = (await http.get("/api/v1/users", params={"tenant": "other"})).json()
            assert [u["email"] for u in only_other["items"]] == ["a@other.example"]
            another_root = await http.post(
                "/api/v1/users",
                json={"email": "r2@example.com", "password": PASSWORD, "role": "platform_admin"},
            )
            assert another_root.status_code == 201
            assert another_root.json()["tenant_id"] is None


async def test_the_node_key_bootstraps_an_admin(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server, admin_client(server) as http:
        created = await http.post(
            "/api/v1/users",
            json={
                "email": "first@example.com",
                "password": PASSWORD,
                "role": "admin",
                "tenant": "default",
            },
        )
        assert created.status_code == 201
        assert await login(server, "first@example.com")
