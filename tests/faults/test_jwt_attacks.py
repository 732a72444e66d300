"""Forged, altered, stale and replayed tokens against a running node (issue 8 item 5, JWT part).

Every attack gets a 401 problem document, and the node keeps serving the legitimate caller in
between (RFC 8725 §2/§3: algorithm pinned, claims validated; RFC 9700 §4.14.2: refresh token
reuse revokes the family).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, update

from auth.accounts_kit import JWT_SECRET, accounts_server, client, login, make_user
from kilowatt.auth.jwt import issue_access_token
from kilowatt.auth.principal import Role
from kilowatt.db import utcnow
from kilowatt.users.models import User

ISS, AUD = "kilowatt", "kilowatt-api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand: HMAC-SHA256 under ``key``, or no signature at all."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    return f"{signing_input}.{signature}"


def _claims(user_id: int, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "tid": None,
        "role": "platform_admin",
        "typ": "access",
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _edited(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def _attacks(user_id: int, genuine: str) -> dict[str, str]:
    secret = JWT_SECRET.encode()
    hs256 = {"alg": "HS256", "typ": "JWT"}
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    return {
        "alg none": _sign({"alg": "none", "typ": "JWT"}, _claims(user_id), None),
        "alg None, signed": _sign({"alg": "None", "typ": "JWT"}, _claims(user_id), secret),
        # RS256/HS256 confusion: the RSA public key (public, by definition) as an HMAC secret.
        "key confusion": _sign(hs256, _claims(user_id), public_pem),
        "RS256 header, HMAC body": _sign({"alg": "RS256"}, _claims(user_id), public_pem),
        # The right secret, but not the configured algorithm.
        "HS512": jwt.encode(_claims(user_id), JWT_SECRET, algorithm="HS512"),
        "edited payload": _edited(genuine, role="platform_admin", tid=None),
        "edited subject": _edited(genuine, sub=str(user_id + 1)),
        "another secret": _sign(hs256, _claims(user_id), b"a-different-secret-of-32-bytes!!"),
        "expired": _sign(hs256, _claims(user_id, iat=now - 1200, exp=now - 600), secret),
        "not yet valid": _sign(hs256, _claims(user_id, nbf=now + 600), secret),
        "wrong audience": _sign(hs256, _claims(user_id, aud="another-service"), secret),
        "wrong issuer": _sign(hs256, _claims(user_id, iss="https://evil.example"), secret),
        "missing exp": _sign(hs256, _claims(user_id, exp=None), secret),
        "missing aud": _sign(hs256, _claims(user_id, aud=None), secret),
        "missing iss": _sign(hs256, _claims(user_id, iss=None), secret),
        "a refresh token as access": _sign(hs256, _claims(user_id, typ="refresh"), secret),
        "not a JWT": "eyJhbGciOiJIUzI1NiJ9.garbage",
    }


async def _me(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _assert_unauthorized(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json", what
    assert response.json()["status"] == 401, what


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery
async def test_forged_and_altered_access_tokens_get_401_and_the_node_keeps_serving(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        admin = await make_user(server, "root@example.com", Role.PLATFORM_ADMIN)
        driver = await make_user(server, "dr@example.com", Role.DRIVER)
        genuine = str((await login(server, "dr@example.com"))["access_token"])
        admin_token = issue_access_token(
            server.node.settings, user_id=admin.id, tenant_id=None, role="platform_admin",
            now=utcnow(),
        )  # fmt: skip
        assert (await _me(http, admin_token)).json()["role"] == "platform_admin"
        for what, token in _attacks(admin.id, genuine).items():
            _assert_unauthorized(await _me(http, token), what)
            ok = await _me(http, genuine)  # the legitimate caller is still served
            assert ok.status_code == 200 and ok.json()["user"]["id"] == driver.id, what


async def test_a_reused_refresh_token_revokes_its_family_only(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        await make_user(server, "dr@example.com", Role.DRIVER)
        first = await login(server, "dr@example.com")
        elsewhere = await login(server, "dr@example.com")  # another device: another family

        async def refresh(token: str) -> httpx.Response:
            return await http.post("/api/v1/auth/refresh", json={"refresh_token": token})

        rotated = await refresh(first["refresh_token"])
        assert rotated.status_code == 200
        # An attacker replays the copied first token: refused, and the family is revoked.
        _assert_unauthorized(await refresh(first["refresh_token"]), "reused refresh token")
        _assert_unauthorized(await refresh(rotated.json()["refresh_token"]), "same family")
        assert (await refresh(elsewhere["refresh_token"])).status_code == 200


async def test_tokens_of_disabled_and_deleted_users_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        disabled = await make_user(server, "gone@example.com", Role.OPERATOR)
        deleted = await make_user(server, "erased@example.com", Role.OPERATOR)
        live = await make_user(server, "here@example.com", Role.OPERATOR)
        issue: Callable[[User], str] = lambda u: issue_access_token(  # noqa: E731
            server.node.settings, user_id=u.id, tenant_id=u.tenant_id, role=u.role, now=utcnow()
        )
        tokens = {u.email: issue(u) for u in (disabled, deleted, live)}
        for token in tokens.values():
            assert (await _me(http, token)).status_code == 200
        async with server.node.sessions() as db:
            await db.execute(
                update(User).where(User.id == disabled.id).values(disabled_at=utcnow())
            )
            await db.execute(delete(User).where(User.id == deleted.id))
            await db.commit()
        _assert_unauthorized(await _me(http, tokens["gone@example.com"]), "disabled user")
        _assert_unauthorized(await _me(http, tokens["erased@example.com"]), "deleted user")
        assert (await _me(http, tokens["here@example.com"])).status_code == 200
