"""``kilowatt user create | list``: bootstrap the first admin straight into the database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from auth.accounts_kit import accounts_server, login
from kilowatt import cli
from kilowatt.auth.principal import Role


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILOWATT_DATABASE_URL", database_url)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))


@pytest.mark.usefixtures("env")
def test_user_create_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["user", "create", "--email", "Boss@Example.com", "--password", "a long password"]
    assert cli.main([*argv, "--role", "admin"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["email"] == "boss@example.com" and created["role"] == "admin"
    assert created["tenant_id"] is not None
    root = ["user", "create", "--email", "root@example.com", "--password", "a long password"]
    assert cli.main([*root, "--role", "platform_admin"]) == 0
    capsys.readouterr()

    assert cli.main(["user", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["email"], u["role"]) for u in listed] == [
        ("boss@example.com", "admin"),
        ("root@example.com", "platform_admin"),
    ]
    assert cli.main(["user", "list", "--tenant", "default"]) == 0
    assert [u["email"] for u in json.loads(capsys.readouterr().out)] == ["boss@example.com"]


@pytest.mark.usefixtures("env")
def test_user_create_refuses_bad_input() -> None:
    base = ["user", "create", "--email", "x@example.com", "--role", "operator"]
    with pytest.raises(SystemExit, match="Invalid password"):
        cli.main([*base, "--password", "short"])
    with pytest.raises(SystemExit, match="Tenant not found"):
        cli.main([*base, "--password", "a long password", "--tenant", "nope"])
    assert cli.main([*base, "--password", "a long password"]) == 0
    with pytest.raises(SystemExit, match="Email taken"):
        cli.main([*base, "--password", "a long password"])


async def test_the_created_admin_logs_in(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILOWATT_DATABASE_URL", database_url)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(tmp_path))
    async with accounts_server(database_url, tmp_path) as server:
        argv = ["user", "create", "--email", "a@example.com", "--password", "a long password"]
        # The CLI runs its own event loop: keep it off this one.
        assert await asyncio.to_thread(cli.main, [*argv, "--role", Role.ADMIN.value]) == 0
        pair = await login(server, "a@example.com", "a long password")
        assert pair["token_type"] == "bearer"
