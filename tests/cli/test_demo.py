"""``kilowatt demo``: every run says how to sign in to the dashboard and the driver app."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from kilowatt.auth.passwords import verify_password
from kilowatt.config import Settings, UnknownStationPolicy
from kilowatt.db import create_engine, session_factory
from kilowatt.demo import DEMO_ADMIN, DEMO_DRIVER, run_demo
from kilowatt.users.repository import user_by_email


def _logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"login\s+(\S+@\S+) / (\S+)", output))


async def test_the_demo_prints_working_logins_on_every_run(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        port=0,
        unknown_station_policy=UnknownStationPolicy.AUTO_REGISTER,
        log_level="warning",
    )
    assert await run_demo(settings, stations=1, duration=0) == 0
    first = capsys.readouterr().out
    logins = _logins(first)
    assert set(logins) == {DEMO_ADMIN, DEMO_DRIVER}
    assert re.search(r"dashboard\s+http://127\.0\.0\.1:\d+/dashboard/", first)
    assert re.search(r"driver web app\s+http://127\.0\.0\.1:\d+/app/start\?evse=\S+", first)
    kept = tmp_path / "demo-logins.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    # a second run on the same data directory prints the same, still valid, passwords
    settings = settings.with_overrides(port=0)
    assert await run_demo(settings, stations=1, duration=0) == 0
    second = capsys.readouterr().out
    assert _logins(second) == logins
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            for email, password in logins.items():
                user = await user_by_email(db, email)
                assert user is not None and verify_password(user.password_hash, password)
    finally:
        await engine.dispose()
