"""Failed logins and refreshes are limited per account and per source address, in the database.

Issue 8 item 3: a locked login is a 429 with ``Retry-After`` and one problem body for known and
unknown accounts; ``security.login_locked`` goes on the bus; a success resets the account; the
limits hold across nodes (two servers on one database) because they live in ``login_limits``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from auth.accounts_kit import PASSWORD, accounts_server, client, login, make_user
from kilowatt.auth import login_limits, service
from kilowatt.auth.login_limits import ACCOUNT, ADDRESS, LoginLimit, Policy
from kilowatt.auth.principal import Role
from kilowatt.config import Settings
from kilowatt.db import utcnow
from kilowatt.events import Event

LOGIN = "/api/v1/auth/login"
WRONG = "not the password at all"


async def _attempt(http: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await http.post(LOGIN, json={"email": email, "password": password})


def _assert_locked(response: httpx.Response, *, at_most: int) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most
    body: dict[str, Any] = response.json()
    assert body["status"] == 429 and body["title"] == "Too many attempts"
    return body


def test_the_defaults_are_five_failures_fifteen_minutes_and_twenty_per_ten_minutes() -> None:
    assert Policy.of(Settings()) == Policy(
        max_failures=5,
        lock_seconds=900,
        lock_max_seconds=86_400,
        address_max_failures=20,
        address_window=600,
    )


# Every failed attempt verifies an Argon2 hash (about a second on a busy CI machine): the HTTP
# tests lower the limits; the counters' own tests below cover the default arithmetic.
async def test_failures_lock_known_and_unknown_accounts_alike(
    database_url: str, tmp_path: Path
) -> None:
    """N failures lock an account for 15 min: even the right password then gets 429 with
    Retry-After. An email nobody has locks the same way, with the same body (no enumeration)."""
    async with accounts_server(database_url, tmp_path, login_max_failures=2) as server:
        user = await make_user(server, "op@example.com", Role.OPERATOR)
        events: list[Event] = []
        server.node.bus.subscribe(events.append)
        async with client(server) as http:
            for _ in range(2):
                assert (await _attempt(http, "op@example.com")).status_code == 401
                assert (await _attempt(http, "ghost@example.com")).status_code == 401
            known = _assert_locked(await _attempt(http, "OP@example.com", PASSWORD), at_most=900)
            unknown = _assert_locked(await _attempt(http, "ghost@example.com"), at_most=900)
            assert set(known) == set(unknown) == {"type", "title", "status", "detail"}
            assert known["title"] == unknown["title"]
            assert (await http.get("/health")).status_code == 200

        locked = [e for e in events if e.type == "security.login_locked"]
        assert len(locked) == 2, locked
        on_user = next(e for e in locked if e.user_id is not None)
        assert on_user.tenant_id == user.tenant_id and on_user.user_id == user.id
        assert on_user.data["scope"] == "account" and on_user.data["email"] == "op@example.com"
        assert on_user.data["failures"] == 2 and on_user.data["lockouts"] == 1
        anonymous = next(e for e in locked if e.user_id is None)
        assert anonymous.tenant_id is None and "email" not in anonymous.data


async def test_a_success_resets_the_account_count(database_url: str, tmp_path: Path) -> None:
    async with (
        accounts_server(database_url, tmp_path, login_max_failures=2) as server,
        client(server) as http,
    ):
        await make_user(server, "dr@example.com", Role.DRIVER)
        assert (await _attempt(http, "dr@example.com")).status_code == 401
        assert (await _attempt(http, "dr@example.com", PASSWORD)).status_code == 200
        assert (await _attempt(http, "dr@example.com")).status_code == 401  # 1 of 2 again
        assert (await _attempt(http, "dr@example.com", PASSWORD)).status_code == 200


async def test_an_address_is_locked_after_its_failures_across_accounts(
    database_url: str, tmp_path: Path
) -> None:
    """Per source address: N failures within the window lock every login from it, including a
    correct one, until the window ends."""
    async with accounts_server(
        database_url, tmp_path, login_address_max_failures=3, login_address_window=600.0
    ) as server:
        await make_user(server, "ok@example.com", Role.DRIVER)
        events: list[Event] = []
        server.node.bus.subscribe(events.append)
        async with client(server) as http:
            for n in range(3):  # a different email each time: no account reaches its limit
                assert (await _attempt(http, f"guess{n}@example.com")).status_code == 401
            _assert_locked(await _attempt(http, "ok@example.com", PASSWORD), at_most=600)
        (event,) = [e for e in events if e.type == "security.login_locked"]
        assert event.data["scope"] == "address" and event.data["address"] == "127.0.0.1"
        assert event.tenant_id is None


async def test_refresh_and_logout_attempts_are_limited_per_address(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path, login_address_max_failures=3) as server:
        await make_user(server, "dr@example.com", Role.DRIVER)
        pair = await login(server, "dr@example.com")
        async with client(server) as http:
            guesses = [
                ("/api/v1/auth/refresh", "guessed-1"),
                ("/api/v1/auth/logout", "guessed-2"),
                ("/api/v1/auth/refresh", "guessed-3"),
            ]
            for path, token in guesses:
                response = await http.post(path, json={"refresh_token": token})
                assert response.status_code == 401, response.text
            refused = await http.post(
                "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            _assert_locked(refused, at_most=600)
            # Password logins count separately: the driver can still log in.
            assert (await _attempt(http, "dr@example.com", PASSWORD)).status_code == 200


async def test_the_lock_holds_across_nodes_sharing_the_database(
    database_url: str, tmp_path: Path
) -> None:
    """Two nodes on one database: failures on both add up, and the lock applies on both."""
    async with (
        accounts_server(database_url, tmp_path / "a", login_max_failures=3) as a,
        accounts_server(database_url, tmp_path / "b", login_max_failures=3) as b,
    ):
        await make_user(a, "op@example.com", Role.OPERATOR)
        async with client(a) as http_a, client(b) as http_b:
            for http in (http_a, http_b, http_a):
                assert (await _attempt(http, "op@example.com")).status_code == 401
            for http in (http_a, http_b):
                _assert_locked(await _attempt(http, "op@example.com", PASSWORD), at_most=900)


# ---- the counters themselves, with an explicit clock ---------------------------------------------
POLICY = Policy(max_failures=3, lock_seconds=60, lock_max_seconds=200, address_max_failures=4)


async def _fail(db: AsyncSession, scope: str, value: str, now: Any) -> Any:
    lockout = await login_limits.record_failure(db, POLICY, scope, value, now=now)
    await db.commit()
    return lockout


async def test_account_locks_grow_to_the_maximum_and_a_success_forgets_them(
    db_session: AsyncSession,
) -> None:
    t = utcnow()
    lengths = []
    for _ in range(4):
        lockouts = [await _fail(db_session, ACCOUNT, "a@example.com", t) for _ in range(3)]
        assert lockouts[:2] == [None, None] and lockouts[2] is not None
        lock = await login_limits.locked(db_session, [(ACCOUNT, "A@example.com")], now=t)
        assert lock is not None and lock.until == lockouts[2].until
        lengths.append((lock.until - t).total_seconds())
        t = lock.until  # the lock has just run out
        assert await login_limits.locked(db_session, [(ACCOUNT, "a@example.com")], now=t) is None
    assert lengths == [60, 120, 200, 200]  # doubling, capped

    await login_limits.record_success(db_session, "a@example.com", now=t)
    await db_session.commit()
    lockouts = [await _fail(db_session, ACCOUNT, "a@example.com", t) for _ in range(3)]
    assert lockouts[2] is not None and (lockouts[2].until - t).total_seconds() == 60
    # Only a digest of the email is stored.
    row = await db_session.get(LoginLimit, 1)
    assert row is not None and "example" not in row.subject and len(row.subject) == 64


async def test_an_address_window_ends_and_its_count_starts_again(db_session: AsyncSession) -> None:
    t0 = utcnow()
    for n in range(3):
        assert await _fail(db_session, ADDRESS, "10.0.0.1", t0 + timedelta(seconds=n)) is None
    # The window (600 s) ends: three old failures no longer count.
    later = t0 + timedelta(seconds=601)
    for n in range(3):
        assert await _fail(db_session, ADDRESS, "10.0.0.1", later + timedelta(seconds=n)) is None
    lockout = await _fail(db_session, ADDRESS, "10.0.0.1", later + timedelta(seconds=5))
    assert lockout is not None and lockout.until == later + timedelta(seconds=600)
    check = [(ADDRESS, "10.0.0.1")]
    assert await login_limits.locked(db_session, check, now=later + timedelta(seconds=599))
    assert not await login_limits.locked(db_session, check, now=later + timedelta(seconds=600))


async def test_concurrent_failures_are_all_counted(db_session: AsyncSession, engine: Any) -> None:
    """Failures arriving together (as from several nodes) all count; exactly one locks."""
    from kilowatt.db import session_factory

    sessions = session_factory(engine)
    t = utcnow()
    policy = Policy(max_failures=8)

    async def one() -> Any:
        async with sessions() as db:
            lockout = await login_limits.record_failure(db, policy, ACCOUNT, "c@x.org", now=t)
            await db.commit()
            return lockout

    # The row exists first, so the increments race on it (not on the insert).
    assert await one() is None
    results = await asyncio.gather(*(one() for _ in range(7)))
    assert sum(r is not None for r in results) == 1
    lock = await login_limits.locked(db_session, [(ACCOUNT, "c@x.org")], now=t)
    assert lock is not None


async def test_unknown_and_known_accounts_take_about_as_long(
    database_url: str, tmp_path: Path
) -> None:
    """No user enumeration by timing: an unknown email verifies a dummy hash (docs/auth.md)."""
    from kilowatt.db import create_engine, session_factory
    from kilowatt.tenants import service as tenants
    from kilowatt.users import service as users

    engine = create_engine(database_url)
    sessions = session_factory(engine)
    settings = Settings(jwt_secret="x" * 40)
    try:
        async with sessions() as db:
            tenant = await tenants.default_tenant(db)
            await users.create_user(
                db, email="k@example.com", password=PASSWORD, role=Role.DRIVER,
                tenant_id=tenant.id, name="k",
            )  # fmt: skip
            await db.commit()

        async def seconds(email: str) -> float:
            async with sessions() as db:
                started = time.perf_counter()
                with pytest.raises(Exception, match="invalid email or password"):
                    await service.login(db, settings, email, WRONG, now=utcnow())
                return time.perf_counter() - started

        samples = 15 if os.environ.get("KILOWATT_LONG_FAULTS") == "1" else 3
        known = [await seconds("k@example.com") for _ in range(samples)]
        unknown = [await seconds(f"nobody{n}@example.com") for n in range(samples)]
    finally:
        await engine.dispose()
    ratio = statistics.median(unknown) / statistics.median(known)
    print(
        f"\nlogin timing: known {statistics.median(known) * 1000:.1f} ms, "
        f"unknown {statistics.median(unknown) * 1000:.1f} ms (median of {samples}), "
        f"ratio {ratio:.2f}"
    )
    assert 0.5 < ratio < 2.0
