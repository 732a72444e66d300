"""Campaign pacing: at most ``batch_size`` stations updating at once, new stations started only
inside the daily maintenance window. The window is decided by the firmware worker's clock,
which these tests set (no waiting for real time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ocpp.v16 import call

from api.api_kit import World, assert_problem
from kilowatt.firmware import pacing
from kilowatt.firmware.manager import FirmwareManager

from support.firmware_steps import (
    Events,
    by_station,
    campaign,
    firmware,
    start_campaign,
    upload_firmware,
)
from support.ocpp_client import LibChargePoint, lib_charge_point
from support.server import RunningServer, running_server
from support.simulated import simulated_station
from support.steps import boot

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = {"window_start": "01:00", "window_end": "05:00", "window_timezone": "Europe/Berlin"}
UPDATING = {"sending", "sent", "Downloading", "Downloaded", "Installing"}
FINAL = {"Installed", "DownloadFailed", "InstallationFailed", "error", "cancelled"}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


# ---- the window ----------------------------------------------------------------------------------
def test_a_night_window_in_berlin_follows_its_wall_clock_in_winter_and_summer() -> None:
    night = pacing.window(time(1), time(5), "Europe/Berlin")
    assert night is not None
    assert night.is_open(berlin(2026, 1, 15, 1, 0)) and night.is_open(berlin(2026, 7, 15, 4, 59))
    assert not night.is_open(berlin(2026, 1, 15, 5, 0))
    assert not night.is_open(berlin(2026, 1, 15, 0, 59))
    assert night.next_opening(berlin(2026, 1, 15, 13, 0)) == datetime(2026, 1, 16, 0, 0, tzinfo=UTC)
    assert night.next_opening(berlin(2026, 7, 15, 13, 0)) == datetime(
        2026, 7, 15, 23, 0, tzinfo=UTC
    )
    assert night.next_opening(berlin(2026, 1, 15, 0, 30)) == berlin(2026, 1, 15, 1, 0)
    inside = berlin(2026, 1, 15, 2, 0)
    assert night.next_opening(inside) == inside
    # The night clocks go forward (02:00 -> 03:00): the window keeps its hours, 3 long.
    assert night.is_open(datetime(2026, 3, 29, 2, 30, tzinfo=UTC))  # 04:30 CEST
    assert not night.is_open(datetime(2026, 3, 29, 3, 0, tzinfo=UTC))  # 05:00 CEST


def test_a_window_across_midnight() -> None:
    late = pacing.window(time(22), time(4), None)  # UTC when no zone is named
    assert late is not None
    hours = {h: late.is_open(datetime(2026, 5, 1, h, tzinfo=UTC)) for h in range(24)}
    assert [h for h, is_open in hours.items() if is_open] == [0, 1, 2, 3, 22, 23]
    assert late.next_opening(datetime(2026, 5, 1, 10, tzinfo=UTC)) == datetime(
        2026, 5, 1, 22, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("start", "end", "zone", "message"),
    [
        (time(1), None, "UTC", "both"),
        (time(1), time(1), "UTC", "differ"),
        (time(1), time(5), "Mars/Olympus", "time zone"),
    ],
)
def test_unusable_windows_are_refused(
    start: time, end: time | None, zone: str, message: str
) -> None:
    with pytest.raises(pacing.InvalidWindow, match=message):
        pacing.window(start, end, zone)


# ---- the API -------------------------------------------------------------------------------------
async def test_pacing_is_stored_with_the_campaign_and_bad_pacing_is_a_422(world: World) -> None:
    admin = await world.client("a_admin")
    assert (await admin.post("/api/v1/stations", json={"charge_point_id": "PACE-API"})).is_success
    uploaded = await admin.post(
        "/api/v1/firmware", params={"name": "pace.bin"}, content=b"pacing image"
    )
    file_id = uploaded.json()["id"]
    base = {"file_id": file_id, "stations": ["PACE-API"]}
    for bad in (
        {"batch_size": 0},
        {"window_start": "01:00"},
        {"window_start": "01:00", "window_end": "01:00"},
        {**NIGHT, "window_timezone": "Europe/Atlantis"},
        {"window_start": "01:00+02:00", "window_end": "05:00"},
        {"window_timezone": "Europe/Berlin"},
        {"window_start": "25:00", "window_end": "05:00"},
    ):
        assert_problem(await admin.post("/api/v1/firmware/campaigns", json={**base, **bad}), 422)
    created = await admin.post(
        "/api/v1/firmware/campaigns",
        json={**base, "batchSize": 5, "windowStart": "22:30", "windowEnd": "04:00"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["batch_size"], body["window_start"], body["window_end"]) == (
        5,
        "22:30:00",
        "04:00:00",
    )
    assert body["window_timezone"] == "UTC"
    read = await admin.get(f"/api/v1/firmware/campaigns/{body['id']}")
    assert read.json()["batch_size"] == 5 and "queued" in read.json()


# ---- batch and window with the ocpp library's charge points ------------------------------------------
class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def charger(server: RunningServer, cp_id: str) -> AsyncIterator[LibChargePoint]:
    async with lib_charge_point(server.ws_url(cp_id), cp_id) as cp:
        await boot(cp)
        yield cp


async def report(cp: LibChargePoint, *statuses: str) -> None:
    for status in statuses:
        await cp.call(call.FirmwareStatusNotification(status=status))


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        running.app.state.firmware.public_url = running.http_url
        yield running


async def test_a_batch_of_one_inside_a_night_window(server: RunningServer) -> None:
    manager: FirmwareManager = server.app.state.firmware
    clock = manager.clock = Clock(berlin(2026, 1, 15, 1, 30))
    file = await upload_firmware(server, "night-1.0.bin", b"night image")
    async with charger(server, "PACE-A") as a, charger(server, "PACE-B") as b:
        with Events(server.node.bus, "firmware.status") as events:
            started = await start_campaign(
                server, file["id"], stations=["PACE-A", "PACE-B"], batch_size=1, **NIGHT
            )
            assert (await a.next_command())[0] == "UpdateFirmware"
            await events.until(firmware("sent", "PACE-A"))
        await manager.advance(started["id"])  # decided again: the batch is full
        now = await campaign(server, started["id"])
        assert (now["progress"], now["queued"], now["waiting_for_window"]) == (
            {"sent": 1, "scheduled": 1},
            1,
            0,
        )
        assert b.received.empty()

        # 05:00 has passed: PACE-A finishes, but no new station starts outside the window.
        clock.now = berlin(2026, 1, 15, 5, 10)
        await report(a, "Downloading", "Downloaded", "Installing", "Installed")
        await manager.advance(started["id"])
        closed = await campaign(server, started["id"])
        assert by_station(closed)["PACE-B"]["state"] == "scheduled" and b.received.empty()
        assert (closed["queued"], closed["waiting_for_window"]) == (0, 1)
        assert closed["window_opens_at"] == "2026-01-16T00:00:00Z"

        # The next night.
        clock.now = berlin(2026, 1, 16, 1, 0)
        with Events(server.node.bus, "firmware.status") as events:
            manager.wake()
            assert (await b.next_command())[0] == "UpdateFirmware"
            await events.until(firmware("sent", "PACE-B"))
            await report(b, "Installed")
            await events.until(firmware("Installed", "PACE-B"))
    done = await campaign(server, started["id"])
    assert done["state"] == "completed" and done["progress"] == {"Installed": 2}


async def test_a_station_offline_when_its_turn_comes_takes_no_slot(server: RunningServer) -> None:
    file = await upload_firmware(server, "slot-1.0.bin", b"slot image")
    async with charger(server, "SLOT-A"):
        pass  # known, now offline
    async with charger(server, "SLOT-B") as b:
        with Events(server.node.bus, "firmware.status") as events:
            started = await start_campaign(
                server, file["id"], stations=["SLOT-A", "SLOT-B"], batch_size=1
            )
            await events.until(firmware("offline", "SLOT-A"))
            assert (await b.next_command())[0] == "UpdateFirmware"
            await events.until(firmware("sent", "SLOT-B"))
            # Back while SLOT-B holds the only slot: SLOT-A waits for it.
            async with charger(server, "SLOT-A") as a:
                await server.app.state.firmware.advance(started["id"])
                assert a.received.empty()
                await report(b, "Installed")
                assert (await a.next_command())[0] == "UpdateFirmware"
                await events.until(firmware("sent", "SLOT-A"))
                await report(a, "Installed")
                await events.until(firmware("Installed", "SLOT-A"))
    done = await campaign(server, started["id"])
    assert done["state"] == "completed" and by_station(done)["SLOT-A"]["attempts"] == 1


# ---- batch of one over three simulated chargers ----------------------------------------------------
#: The three stay connected while they download and reboot one after another: a longer bound.
simulated = partial(simulated_station, bound=120)


async def test_a_batch_of_one_updates_three_simulated_chargers_one_after_another(
    server: RunningServer,
) -> None:
    file = await upload_firmware(server, "kwsim-5.0.bin", bytes(range(256)) * 200)
    names = ["PACE-S1", "PACE-S2", "PACE-S3"]
    async with simulated(server, names[0]) as s1, simulated(server, names[1]) as s2:
        async with simulated(server, names[2]) as s3:
            with Events(server.node.bus, "firmware.status") as events:
                started = await start_campaign(server, file["id"], stations=names, batch_size=1)
                for name in names:
                    await events.until(firmware("Installed", name))
            assert all(s.firmware_version == "kwsim-5.0" for s in (s1, s2, s3))
    # Replay the states as they were published: never two stations updating at once.
    state: dict[str, str] = {}
    most = 0
    for event in events.seen:
        assert event.station is not None
        if state.get(event.station) in FINAL:
            continue  # a final state stays final (a later boot only adds the version)
        state[event.station] = event.data["state"]
        most = max(most, sum(1 for s in state.values() if s in UPDATING))
    assert most == 1
    assert set(state.values()) == {"Installed"}
    done = await campaign(server, started["id"])
    assert done["state"] == "completed" and done["progress"] == {"Installed": 3}
