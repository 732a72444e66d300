"""API keys: created by a tenant's admin, shown once, scoped by permissions, revocable."""

from __future__ import annotations

from pathlib import Path

from auth.accounts_kit import (
    accounts_server,
    admin_client,
    client,
    logged_in,
    make_tenant,
)
from kilowatt.auth.principal import Role


async def test_create_use_and_revoke_a_key(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, admin) as http:
            created = await http.post(
                "/api/v1/api-keys",
                json={"name": "billing export", "permissions": ["sessions:read", "stations:read"]},
            )
            assert created.status_code == 201, created.text
            body = created.json()
            key = body["key"]
            prefix, secret = key.removeprefix("kw_").split("_", 1)
            assert prefix == body["prefix"] and len(secret) >= 43  # 32 random bytes
            assert body["permissions"] == ["sessions:read", "stations:read"]

            listed = (await http.get("/api/v1/api-keys")).json()
            assert [k["id"] for k in listed] == [body["id"]]
            assert "key" not in listed[0] and secret not in str(listed)

        for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            async with client(server, **headers) as machine:
                me = (await machine.get("/api/v1/me")).json()
                assert me["kind"] == "api_key" and me["role"] == "operator"
                assert me["api_key_id"] == body["id"] and me["tenant_id"] is not None
                assert me["permissions"] == ["sessions:read", "stations:read"]
                # No commands:send on this key.
                assert (await machine.get("/test/probe/commands")).status_code == 403

        async with client(server, admin) as http:
            assert (await http.get("/api/v1/api-keys")).json()[0]["last_used_at"] is not None
            assert (await http.delete(f"/api/v1/api-keys/{body['id']}")).status_code == 204
            assert (await http.get("/api/v1/api-keys")).json()[0]["revoked_at"] is not None
        async with client(server, **{"X-API-Key": key}) as machine:
            assert (await machine.get("/api/v1/me")).status_code == 401


async def test_a_key_with_the_permission_passes_the_dependency(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, admin) as http:
            key = (
                await http.post(
                    "/api/v1/api-keys", json={"name": "ops", "permissions": ["commands:send"]}
                )
            ).json()["key"]
        async with client(server, **{"X-API-Key": key}) as machine:
            response = await machine.get("/test/probe/commands")
            assert response.status_code == 200
            assert response.json()["kind"] == "api_key"


async def test_bad_keys_are_401_never_anonymous(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, admin) as http:
            key = (
                await http.post("/api/v1/api-keys", json={"name": "k", "permissions": []})
            ).json()["key"]
        prefix = key.split("_")[1]
        for bad in (
            f"kw_{prefix}_wrong-secret",
            "kw_000000000000_whatever",
            "kw_nonsense",
            "",
            "test-admin-key-but-not-quite",
        ):
            async with client(server, **{"X-API-Key": bad}) as machine:
                assert (await machine.get("/test/probe/commands")).status_code == 401, bad


async def test_keys_get_no_more_than_their_creator_holds(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        operator = await logged_in(server, "op@example.com", Role.OPERATOR)
        admin = await logged_in(server, "admin@example.com", Role.ADMIN)
        async with client(server, operator) as http:
            # Operators do not manage keys at all.
            refused = await http.post("/api/v1/api-keys", json={"name": "x", "permissions": []})
            assert refused.status_code == 403
        async with client(server, admin) as http:
            unknown = await http.post(
                "/api/v1/api-keys", json={"name": "x", "permissions": ["root"]}
            )
            assert unknown.status_code == 422
            keys_key = (
                await http.post(
                    "/api/v1/api-keys", json={"name": "x", "permissions": ["api_keys:write"]}
                )
            ).json()["key"]
        async with client(server, **{"X-API-Key": keys_key}) as machine:
            escalate = await machine.post(
                "/api/v1/api-keys", json={"name": "y", "permissions": ["commands:send"]}
            )
            assert escalate.status_code == 403


async def test_the_node_key_is_a_platform_admin(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server, admin_client(server) as http:
        me = (await http.get("/api/v1/me")).json()
        assert (me["kind"], me["role"], me["tenant_id"]) == ("node", "platform_admin", None)
        assert (await http.get("/test/probe/commands")).status_code == 200
        # It has no tenant of its own: a key it creates names one.
        no_tenant = await http.post("/api/v1/api-keys", json={"name": "x", "permissions": []})
        assert no_tenant.status_code == 422
        named = await http.post(
            "/api/v1/api-keys", json={"name": "x", "permissions": [], "tenant": "default"}
        )
        assert named.status_code == 201


async def test_drivers_and_anonymous_callers_at_guarded_endpoints(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        driver = await logged_in(server, "drv@example.com", Role.DRIVER)
        operator = await logged_in(server, "op@example.com", Role.OPERATOR)
        async with client(server, driver) as http:
            assert (await http.get("/test/probe/commands")).status_code == 403
            assert (await http.get("/test/probe/driver")).status_code == 200
        async with client(server, operator) as http:
            assert (await http.get("/test/probe/commands")).status_code == 200
            assert (await http.get("/test/probe/driver")).status_code == 403
        async with client(server) as http:
            assert (await http.get("/test/probe/commands")).status_code == 401
            assert (await http.get("/test/probe/driver")).status_code == 401


async def test_another_tenants_keys_are_invisible(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        other = await make_tenant(server, "Other CPO", "other")
        mine = await logged_in(server, "admin@example.com", Role.ADMIN)
        theirs = await logged_in(server, "admin@other.example", Role.ADMIN, tenant_id=other.id)
        async with client(server, mine) as http:
            key_id = (
                await http.post("/api/v1/api-keys", json={"name": "mine", "permissions": []})
            ).json()["id"]
        async with client(server, theirs) as http:
            assert (await http.get("/api/v1/api-keys")).json() == []
            assert (await http.delete(f"/api/v1/api-keys/{key_id}")).status_code == 404
            # Nor can they create one in a tenant that is not theirs.
            elsewhere = await http.post(
                "/api/v1/api-keys", json={"name": "x", "permissions": [], "tenant": "default"}
            )
            assert elsewhere.status_code == 404
        async with client(server, mine) as http:
            assert (await http.get("/api/v1/api-keys")).json()[0]["revoked_at"] is None
