"""The local list worker without an operator: a station reporting LocalListConflict gets the
Full list (once per connection), and a new station is asked for its profiles and enrolled
(auto-enrolment, KILOWATT_LOCAL_LIST_AUTO_ENROL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kilowatt.config import load_settings
from local_lists.list_stations import (
    ListChargePoint,
    enrolling_server,
    events,
    list_station,
    next_event,
    next_list,
    simulated,
    tags,
)

from support.server import RunningServer, running_server
from support.steps import add_token, get_json, status


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with enrolling_server(database_url, tmp_path) as running:
        yield running


async def enrolled(cp: ListChargePoint) -> dict[str, Any]:
    """The Full list auto-enrolment sends a new station after GetConfiguration."""
    assert (await cp.next_command())[0] == "GetConfiguration"
    first = await next_list(cp)
    assert first["update_type"] == "Full"
    return first


# ---- LocalListConflict ---------------------------------------------------------------------------
async def test_a_station_reporting_local_list_conflict_gets_the_full_list(
    server: RunningServer,
) -> None:
    await add_token(server, "CONFLICT-A")
    await add_token(server, "CONFLICT-B", status="Blocked")
    async with list_station(server, "LLC-1") as cp:
        first = await enrolled(cp)
        assert cp.list_version == first["list_version"]
        with events(server.node.bus, "station.local_list_conflict", "station.local_list") as seen:
            # OCPP 1.6 §3.5.2: reported on connector 0.
            await status(cp, 0, "Available", error_code="LocalListConflict")
            conflict = await next_event(seen, lambda e: e.type == "station.local_list_conflict")
            assert conflict.data == {
                "connectorId": 0,
                "version": first["list_version"],
                "resync": True,
            }
            assert (conflict.station, conflict.connector_id) == ("LLC-1", 0)
            full = await next_list(cp)
            done = await next_event(seen, lambda e: e.type == "station.local_list")
        # Full even though the station reported the version it acknowledged.
        assert full["update_type"] == "Full" and full["list_version"] > first["list_version"]
        assert tags(full) == {"CONFLICT-A", "CONFLICT-B"}
        assert (done.data["outcome"], done.data["reason"]) == ("Accepted", "LocalListConflict")
        view = await get_json(server, "/api/v1/stations/LLC-1/local-list")
        assert (view["state"], view["version"]) == ("in_sync", full["list_version"])


async def test_a_station_that_keeps_reporting_the_conflict_gets_one_full_per_connection(
    server: RunningServer,
) -> None:
    await add_token(server, "LOOP-1")
    async with list_station(server, "LLC-2") as cp:
        await enrolled(cp)
        with events(server.node.bus, "station.local_list_conflict", "station.local_list") as seen:
            await status(cp, 1, "Available", error_code="LocalListConflict")
            assert (await next_list(cp))["update_type"] == "Full"
            await next_event(seen, lambda e: e.type == "station.local_list")
            await status(cp, 2, "Available", error_code="LocalListConflict")
            again = await next_event(
                seen, lambda e: e.type == "station.local_list_conflict" and e.connector_id == 2
            )
        # Recorded, not resent: the Full would follow this decision in the same job.
        assert again.data["resync"] is False
        assert cp.commands() == []
        view = await get_json(server, "/api/v1/stations/LLC-2/local-list")
        assert (view["state"], view["last_outcome"]) == ("stale", "LocalListConflict")
        assert "next connection" in view["last_error"]
    # A new connection: the next conflict gets a Full list again.
    version = view["version"]

    def holding_the_list(cp: ListChargePoint) -> None:
        cp.list_version = version  # in step: the check on connection sends nothing

    async with list_station(server, "LLC-2", prepare=holding_the_list) as cp:
        with events(server.node.bus, "station.local_list_conflict") as seen:
            await status(cp, 1, "Available", error_code="LocalListConflict")
            assert (await next_event(seen, lambda e: True)).data["resync"] is True
            assert (await next_list(cp))["update_type"] == "Full"


# ---- auto-enrolment ------------------------------------------------------------------------------
async def test_a_new_station_with_the_profile_gets_its_list_after_its_first_boot(
    server: RunningServer,
) -> None:
    await add_token(server, "ENROL-1")
    await add_token(server, "ENROL-2")
    with events(server.node.bus, "station.local_list") as seen:
        async with simulated(server, "LLE-SIM") as sim:
            done = await next_event(seen, lambda e: e.station == "LLE-SIM")
            assert done.data["outcome"] == "Accepted"
            assert set(sim.local_list.entries) == {"ENROL-1", "ENROL-2"}
            actions = [c.action for c in sim.received]
        assert actions[:3] == ["GetConfiguration", "GetLocalListVersion", "SendLocalList"]
    view = await get_json(server, "/api/v1/stations/LLE-SIM/local-list")
    assert (view["state"], view["supported"]) == ("in_sync", True)
    # The answer is stored like any GetConfiguration's: the simulator's limits are known.
    assert (view["local_auth_list_max_length"], view["send_local_list_max_length"]) == (100, 20)
    commands = await get_json(server, "/api/v1/stations/LLE-SIM/commands")
    asked = next(c for c in commands["items"] if c["action"] == "GetConfiguration")
    assert asked["requested_by"] == "local-list"
    assert asked["request"] == {
        "key": [
            "SupportedFeatureProfiles",
            "LocalAuthListEnabled",
            "LocalAuthListMaxLength",
            "SendLocalListMaxLength",
        ]
    }


async def probe_round(server: RunningServer, name: str) -> None:
    """A new station with the profile, connected after the station under test: once it has
    its list, the worker has made its decisions about the earlier connection too."""
    async with list_station(server, name) as probe:
        await next_list(probe)


async def test_a_new_station_without_the_profile_is_asked_once_and_never_sent_a_list(
    server: RunningServer,
) -> None:
    await add_token(server, "NOLIST-1")
    async with list_station(server, "LLE-NO", profiles="Core,RemoteTrigger") as cp:
        action, fields = await cp.next_command()
        assert action == "GetConfiguration" and "SupportedFeatureProfiles" in fields["key"]
        await probe_round(server, "LLE-PROBE-1")
        view = await get_json(server, "/api/v1/stations/LLE-NO/local-list")
        assert (view["state"], view["supported"]) == ("unknown", False)
    async with list_station(server, "LLE-NO", profiles="Core,RemoteTrigger") as cp:
        await add_token(server, "NOLIST-2")  # token changes do not reach it either
        await probe_round(server, "LLE-PROBE-2")
        assert cp.commands() == []


async def test_a_station_answering_get_configuration_with_an_error_is_asked_on_its_next_connection(
    server: RunningServer,
) -> None:
    await add_token(server, "RETRY-1")

    def failing(cp: ListChargePoint) -> None:
        cp.fail_configuration = True

    async with list_station(server, "LLE-ERR", prepare=failing) as cp:
        assert (await cp.next_command())[0] == "GetConfiguration"
        await probe_round(server, "LLE-PROBE-3")
        assert cp.commands() == []  # not enrolled, not asked again on this connection
    async with list_station(server, "LLE-ERR") as cp:
        assert (await cp.next_command())[0] == "GetConfiguration"
        assert tags(await next_list(cp)) == {"RETRY-1"}


# ---- the setting ---------------------------------------------------------------------------------
async def test_auto_enrolment_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, local_list_auto_enrol=False) as server:
        await add_token(server, "OFF-1")
        async with list_station(server, "LLE-OFF") as cp:
            # A later station's conflict is handled in the same worker round or a later one.
            async with list_station(server, "LLE-OFF-PROBE") as probe:
                await status(probe, 1, "Available", error_code="LocalListConflict")
                assert (await next_list(probe))["update_type"] == "Full"
            assert cp.commands() == []


def test_the_setting_reads_true_and_false(tmp_path: Path) -> None:
    base = {"KILOWATT_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=base).local_list_auto_enrol is True
    off = load_settings(environ={**base, "KILOWATT_LOCAL_LIST_AUTO_ENROL": "false"})
    assert off.local_list_auto_enrol is False
    with pytest.raises(ValueError, match="LOCAL_LIST_AUTO_ENROL"):
        load_settings(environ={**base, "KILOWATT_LOCAL_LIST_AUTO_ENROL": "maybe"})
