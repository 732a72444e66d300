"""Access tokens: HS256 with the node's secret, and nothing else gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from auth.accounts_kit import JWT_SECRET, accounts_server, client, login, make_user
from kilowatt.auth.jwt import InvalidToken, decode_access_token, issue_access_token
from kilowatt.auth.principal import Role
from kilowatt.auth.service import node_principal
from kilowatt.config import Settings
from kilowatt.db import utcnow
from kilowatt.users import service as users

SETTINGS = Settings(jwt_secret=JWT_SECRET)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand, signed with HMAC-SHA256 under ``key`` (or unsigned)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    return f"{signing_input}.{signature}"


def _claims(user_id: int, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "tid": 1,
        "role": "platform_admin",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "x",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _tampered_payload(token: str, user_id: int) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "platform_admin"
    claims["sub"] = str(user_id)
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def test_a_token_round_trips() -> None:
    token = issue_access_token(SETTINGS, user_id=7, tenant_id=3, role="driver", now=utcnow())
    claims = decode_access_token(SETTINGS, token)
    assert (claims.user_id, claims.tenant_id, claims.role) == (7, 3, "driver")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert set(jwt.decode(token, options={"verify_signature": False})) == {
        "sub",
        "tid",
        "role",
        "typ",
        "iat",
        "exp",
        "jti",
        "iss",
        "aud",
        "nbf",
    }


@pytest.mark.parametrize(
    "token",
    [
        _forge({"alg": "none", "typ": "JWT"}, _claims(1), None),
        _forge({"alg": "RS256", "typ": "JWT"}, _claims(1), JWT_SECRET.encode()),
        _forge({"alg": "HS256", "typ": "JWT"}, _claims(1), b"another-secret-of-at-least-32-bytes"),
        _forge(
            {"alg": "HS256", "typ": "JWT"},
            _claims(1, exp=int(time.time()) - 5),
            JWT_SECRET.encode(),
        ),
        _forge({"alg": "HS256", "typ": "JWT"}, _claims(1, typ="refresh"), JWT_SECRET.encode()),
        _forge({"alg": "HS256", "typ": "JWT"}, _claims(1, exp=None), JWT_SECRET.encode()),
        _forge({"alg": "HS256", "typ": "JWT"}, _claims(1, iat=None), JWT_SECRET.encode()),
        _forge({"alg": "HS256", "typ": "JWT"}, _claims(1, sub="admin"), JWT_SECRET.encode()),
        "not-a-jwt",
    ],
    ids=[
        "alg-none",
        "rs256-hs-confusion",
        "other-secret",
        "expired",
        "wrong-typ",
        "no-exp",
        "no-iat",
        "bad-sub",
        "garbage",
    ],
)
def test_decoding_refuses(token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, token)


async def test_forged_tampered_and_expired_tokens_get_401(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        driver = await make_user(server, "drv@example.com", Role.DRIVER)
        admin = await make_user(server, "root@example.com", Role.PLATFORM_ADMIN)
        good = (await login(server, "drv@example.com"))["access_token"]
        key = JWT_SECRET.encode()
        forged = {
            "changed-payload": _tampered_payload(good, admin.id),
            "alg-none": _forge({"alg": "none", "typ": "JWT"}, _claims(admin.id), None),
            "rs256-header": _forge({"alg": "RS256", "typ": "JWT"}, _claims(admin.id), key),
            "other-secret": _forge({"alg": "HS256", "typ": "JWT"}, _claims(admin.id), b"x" * 40),
            "expired": _forge(
                {"alg": "HS256", "typ": "JWT"},
                _claims(driver.id, exp=int(time.time()) - 1, iat=int(time.time()) - 900),
                key,
            ),
            "wrong-typ": _forge(
                {"alg": "HS256", "typ": "JWT"}, _claims(driver.id, typ="refresh"), key
            ),
            "unknown-user": _forge({"alg": "HS256", "typ": "JWT"}, _claims(10_000), key),
        }
        async with client(server) as http:
            assert (
                await http.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
            ).status_code == 200
            for name, token in forged.items():
                response = await http.get(
                    "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 401, name
                assert response.headers["content-type"] == "application/problem+json"
            # A credential that is not even a bearer one is refused, not ignored.
            basic = await http.get("/api/v1/me", headers={"Authorization": "Basic eDp5"})
            assert basic.status_code == 401
            anonymous = await http.get("/api/v1/me")
            assert anonymous.status_code == 401


async def test_a_disabled_users_tokens_stop_working(database_url: str, tmp_path: Path) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        user = await make_user(server, "gone@example.com", Role.OPERATOR)
        pair = await login(server, "gone@example.com")
        async with client(server, pair["access_token"]) as http:
            assert (await http.get("/api/v1/me")).status_code == 200
            async with server.node.sessions() as db:
                await users.update_user(db, node_principal(), user.id, now=utcnow(), disabled=True)
                await db.commit()
            assert (await http.get("/api/v1/me")).status_code == 401
            refreshed = await http.post(
                "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            assert refreshed.status_code == 401
            relogin = await http.post(
                "/api/v1/auth/login", json={"email": "gone@example.com", "password": "x" * 10}
            )
            assert relogin.status_code == 401
