"""Drivers register and log in; refresh tokens rotate, and a reused one revokes its family."""

from __future__ import annotations

import asyncio
from pathlib import Path

from auth.accounts_kit import PASSWORD, accounts_server, client, login, make_user
from kilowatt.auth.principal import Role


async def test_register_returns_the_driver_and_a_token_pair(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        response = await http.post(
            "/api/v1/auth/register",
            json={"email": "Ada@Example.COM", "password": PASSWORD, "name": "Ada"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user"]["email"] == "ada@example.com"  # stored lowercased
        assert body["user"]["role"] == "driver" and body["user"]["tenant_id"] is not None
        assert body["token_type"] == "bearer" and body["expires_in"] == 900
        me = await http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["user"]["id"] == body["user"]["id"]
        assert me.json()["kind"] == "user" and me.json()["permissions"] == []


async def test_registration_is_refused_for_taken_emails_short_passwords_and_unknown_tenants(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        ok = {"email": "bo@example.com", "password": PASSWORD, "name": "Bo"}
        assert (await http.post("/api/v1/auth/register", json=ok)).status_code == 201
        taken = await http.post("/api/v1/auth/register", json={**ok, "email": "BO@example.com"})
        assert taken.status_code == 409
        assert taken.headers["content-type"] == "application/problem+json"
        short = await http.post(
            "/api/v1/auth/register", json={**ok, "email": "c@example.com", "password": "123456789"}
        )
        assert short.status_code == 422
        bad_email = await http.post("/api/v1/auth/register", json={**ok, "email": "nobody"})
        assert bad_email.status_code == 422
        unknown = await http.post(
            "/api/v1/auth/register", json={**ok, "email": "d@example.com", "tenant": "nope"}
        )
        assert unknown.status_code == 404


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        await make_user(server, "op@example.com", Role.OPERATOR)
        async with client(server) as http:
            wrong = await http.post(
                "/api/v1/auth/login", json={"email": "op@example.com", "password": "not it at all"}
            )
            unknown = await http.post(
                "/api/v1/auth/login", json={"email": "who@example.com", "password": PASSWORD}
            )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        # Operators log in the same way as drivers, with any case of their email.
        pair = await login(server, "OP@example.com")
        assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        await make_user(server, "dr@example.com", Role.DRIVER)
        first = await login(server, "dr@example.com")
        other_login = await login(server, "dr@example.com")

        rotated = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        me = await http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
        assert me.status_code == 200

        # The used token comes back (it was stolen): refused, and its family is revoked ...
        reused = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert reused.status_code == 401
        assert "reused" in reused.json()["detail"]
        revoked = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert revoked.status_code == 401
        # ... but not the driver's other logins.
        elsewhere = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": other_login["refresh_token"]}
        )
        assert elsewhere.status_code == 200


async def test_concurrent_refreshes_with_one_token_let_only_one_through(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        await make_user(server, "race@example.com", Role.DRIVER)
        pair = await login(server, "race@example.com")
        answers = await asyncio.gather(
            *(
                http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
                for _ in range(2)
            )
        )
        assert sorted(a.status_code for a in answers) == [200, 401]
        # The loser's attempt counts as reuse: the winner's new token is revoked too.
        winner = next(a for a in answers if a.status_code == 200).json()
        again = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
        )
        assert again.status_code == 401


async def test_logout_revokes_the_family(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        await make_user(server, "out@example.com", Role.DRIVER)
        first = await login(server, "out@example.com")
        second = (
            await http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        out = await http.post(
            "/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]}
        )
        assert out.status_code == 204
        after = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert after.status_code == 401
        unknown = await http.post("/api/v1/auth/logout", json={"refresh_token": "made-up"})
        assert unknown.status_code == 401


async def test_expired_refresh_tokens_are_refused(database_url: str, tmp_path: Path) -> None:
    async with (
        accounts_server(database_url, tmp_path, refresh_token_ttl=0) as server,
        client(server) as http,
    ):
        await make_user(server, "old@example.com", Role.DRIVER)
        pair = await login(server, "old@example.com")
        response = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert response.status_code == 401
