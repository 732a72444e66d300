"""OCPP 1.6 Local Auth List Management, CSMS side: TC_042_1, TC_042_2, TC_043_1, TC_043_3,
TC_043_4 and TC_043_5 (spec/ocpp16-csms-test-cases.md), driven by the ``ocpp`` library's
charge point and by Kilowatt's simulator; plus the automatic resynchronisation after token
changes and on reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from support.ocpp_client import LibChargePoint
from support.server import HANDSHAKE_TIMEOUT, RunningServer
from support.simulated import simulated_station
from support.steps import add_token, boot, get_json

BOUND = 20  # seconds any single awaited condition may take before the test fails
PROBES = itertools.count(1)


class ListChargePoint(LibChargePoint):
    """The library's charge point with the Local Auth List Management profile: it reports
    ``list_version`` and answers SendLocalList with ``answers["SendLocalList"]``."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.list_version = 0

    @on(Action.get_local_list_version)
    def _version(self, **fields: Any) -> Any:
        self._got("GetLocalListVersion", **fields)
        return call_result.GetLocalListVersion(list_version=self.list_version)

    @on(Action.send_local_list)
    def _send_list(self, list_version: int, update_type: str, **fields: Any) -> Any:
        status = self._got(
            "SendLocalList", list_version=list_version, update_type=update_type, **fields
        )
        if status == "Accepted":
            self.list_version = list_version
        return call_result.SendLocalList(status=status)


@contextlib.asynccontextmanager
async def list_charge_point(server: RunningServer, cp_id: str) -> AsyncIterator[ListChargePoint]:
    async with websockets.connect(
        server.ws_url(cp_id),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        cp = ListChargePoint(cp_id, ws)
        loop = asyncio.create_task(cp.start())
        try:
            await boot(cp)
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


#: Kilowatt's simulator: a charger with the Local Auth List Management profile.
simulated = partial(simulated_station, meter_interval=0.2)


async def sync(server: RunningServer, cp_id: str, update_type: str | None = None) -> dict[str, Any]:
    async with server.api() as api:
        response = await api.post(
            f"/api/v1/stations/{cp_id}/local-list/sync", json={"update_type": update_type}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def next_list(cp: ListChargePoint, *, asked: bool = False) -> dict[str, Any]:
    """The next SendLocalList (GetLocalListVersion calls before it are skipped; with ``asked``,
    one must come right before it)."""
    before = None
    while True:
        action, fields = await cp.next_command()
        if action != "GetLocalListVersion":
            break
        before = action
    assert action == "SendLocalList", (action, fields)
    assert before == "GetLocalListVersion" or not asked
    return fields


@contextlib.asynccontextmanager
async def list_synced(server: RunningServer, cp_id: str) -> AsyncIterator[None]:
    """Returns once the worker has synchronised ``cp_id``'s list with outcome Accepted
    (the ``station.local_list`` event) after the block."""
    with server.node.bus.stream(
        lambda e: e.type == "station.local_list" and e.station == cp_id
    ) as stream:
        yield
        async with asyncio.timeout(BOUND):
            while (await stream.queue.get()).data["outcome"] != "Accepted":
                pass


def tags(fields: dict[str, Any]) -> dict[str, Any]:
    return {e["id_tag"]: e.get("id_tag_info") for e in fields["local_authorization_list"]}


# ---- TC_042: GetLocalListVersion -----------------------------------------------------------------
async def test_tc_042_1_get_local_list_version_not_supported(server: RunningServer) -> None:
    await add_token(server, "TAG-042-1")
    async with simulated(
        server, "LL0421", configuration={"SupportedFeatureProfiles": "Core,RemoteTrigger"}
    ) as sim:
        result = await sync(server, "LL0421")
        assert result["outcome"] == "NotSupported" and result["messages"] == 0
        view = result["local_list"]
        assert (view["state"], view["supported"], view["station_version"]) == (
            "unsupported",
            False,
            -1,
        )
        # Not retried automatically: a reconnection asks nothing more.
        asked = [c.action for c in sim.received]
        sim.drop_connection()
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: not sim.online)
            await sim.wait_until(lambda: sim.online)
        await add_token(server, "TAG-042-1b")
        await sync_other_station_round(server)
        assert [c.action for c in sim.received] == asked == ["GetLocalListVersion"]


async def sync_other_station_round(server: RunningServer) -> None:
    """Let the worker run a round to its end: a station that takes part gets the change."""
    async with list_charge_point(server, "LL-PROBE") as probe:
        await sync(server, "LL-PROBE")
        while not probe.received.empty():
            probe.received.get_nowait()
        await add_token(server, f"PROBE{next(PROBES)}")
        assert (await next_list(probe))["update_type"] == "Differential"


async def test_tc_042_2_get_local_list_version_empty(server: RunningServer) -> None:
    async with list_charge_point(server, "LL0422") as cp:
        result = await sync(server, "LL0422")
        assert await cp.next_command() == ("GetLocalListVersion", {})
        # No tokens, an empty list on the station: nothing to send.
        assert (result["outcome"], result["messages"]) == ("InSync", 0)
        view = result["local_list"]
        assert (view["state"], view["supported"], view["version"]) == ("in_sync", True, 0)
        assert view["station_version"] == 0 and cp.received.empty()


# ---- TC_043: SendLocalList ----------------------------------------------------------------------
async def test_tc_043_1_send_local_list_not_supported(server: RunningServer) -> None:
    await add_token(server, "TAG-043-1")
    async with list_charge_point(server, "LL0431") as cp:
        cp.answers["SendLocalList"] = "NotSupported"
        result = await sync(server, "LL0431")
        sent = await next_list(cp)
        assert sent["update_type"] == "Full"
        assert result["outcome"] == "NotSupported"
        assert (result["local_list"]["state"], result["local_list"]["supported"]) == (
            "unsupported",
            False,
        )


async def test_tc_043_3_send_local_list_failed(server: RunningServer) -> None:
    await add_token(server, "TAG-043-3")
    async with list_charge_point(server, "LL0433") as cp:
        cp.answers["SendLocalList"] = "Failed"
        result = await sync(server, "LL0433")
        assert (await next_list(cp))["update_type"] == "Full"
        view = result["local_list"]
        assert (result["outcome"], view["state"], view["last_outcome"]) == (
            "Failed",
            "failed",
            "Failed",
        )
        assert view["version"] == 0 and view["pending"] == {"upserts": 1, "deletes": 0}
        # The next attempt (here forced by the operator) sends the Full list again.
        cp.answers["SendLocalList"] = "Accepted"
        again = await sync(server, "LL0433")
        assert (await next_list(cp))["update_type"] == "Full"
        # (or the worker's retry, should it run in between: then this one finds it in sync)
        assert again["outcome"] in ("Accepted", "InSync")
        assert again["local_list"]["state"] == "in_sync"


async def test_tc_043_4_send_local_list_full(server: RunningServer) -> None:
    expiry = datetime.now(UTC) + timedelta(days=30)
    await add_token(server, "TAG-A", expiry_date=expiry, parent_id_tag="FLEET")
    await add_token(server, "TAG-B", status="Blocked")
    async with list_charge_point(server, "LL0434") as cp:
        cp.list_version = 0
        result = await sync(server, "LL0434", "Full")
        sent = await next_list(cp)
        assert sent["update_type"] == "Full" and sent["list_version"] >= 1
        entries = tags(sent)
        assert set(entries) == {"TAG-A", "TAG-B"} and all(entries.values())  # every idTagInfo
        assert entries["TAG-A"]["status"] == "Accepted"
        assert entries["TAG-A"]["parent_id_tag"] == "FLEET"
        assert entries["TAG-A"]["expiry_date"].startswith(expiry.strftime("%Y-%m-%dT%H:%M"))
        assert entries["TAG-B"] == {"status": "Blocked"}
        view = result["local_list"]
        assert result["outcome"] == "Accepted"
        assert (view["state"], view["version"], view["entries"]) == (
            "in_sync",
            sent["list_version"],
            2,
        )
        assert view["pending"] == {"upserts": 0, "deletes": 0} and view["last_sync_at"]


async def test_tc_043_5_send_local_list_differential(server: RunningServer) -> None:
    await add_token(server, "TAG-OLD")
    async with list_charge_point(server, "LL0435") as cp:
        await sync(server, "LL0435")  # the initial Full list
        first = await next_list(cp)
        assert first["update_type"] == "Full"
        # Manual action: a new token; the worker sends only it, after GetLocalListVersion.
        async with list_synced(server, "LL0435"):
            await add_token(server, "TAG-NEW")
            sent = await next_list(cp, asked=True)
        assert sent["update_type"] == "Differential"
        assert sent["list_version"] > first["list_version"]
        assert tags(sent) == {"TAG-NEW": {"status": "Accepted"}}
    view = await get_json(server, "/api/v1/stations/LL0435/local-list")
    assert (view["version"], view["entries"]) == (sent["list_version"], 2)


async def test_a_differential_answered_version_mismatch_is_resent_full(
    server: RunningServer,
) -> None:
    await add_token(server, "TAG-1")
    async with list_charge_point(server, "LL-MISMATCH") as cp:
        await sync(server, "LL-MISMATCH")
        await next_list(cp)
        await add_token(server, "TAG-2")
        cp.answers["SendLocalList"] = "VersionMismatch"
        assert (await next_list(cp))["update_type"] == "Differential"
        cp.answers["SendLocalList"] = "Accepted"
        resent = await next_list(cp)  # OCPP 1.6 §5.15: retried with the full list
        assert resent["update_type"] == "Full" and set(tags(resent)) == {"TAG-1", "TAG-2"}


async def test_a_station_whose_version_differs_gets_the_full_list(server: RunningServer) -> None:
    await add_token(server, "TAG-1")
    async with list_charge_point(server, "LL-LOST") as cp:
        await sync(server, "LL-LOST")
        await next_list(cp)
        cp.list_version = 0  # e.g. it lost its list
        result = await sync(server, "LL-LOST", "Differential")
        resent = await next_list(cp)
        # Full, by this request or by the worker's check when the station connected.
        assert resent["update_type"] == "Full" and result["outcome"] in ("Accepted", "InSync")
        assert result["local_list"]["station_version"] == resent["list_version"]


# ---- the simulator: automatic resynchronisation ----------------------------------------------------
async def test_token_changes_reach_a_connected_station_as_differentials(
    server: RunningServer,
) -> None:
    await add_token(server, "SIM-CARD")
    async with simulated(server, "LLSIM1") as sim:
        assert (await sync(server, "LLSIM1"))["outcome"] == "Accepted"
        assert set(sim.local_list.entries) == {"SIM-CARD"}
        async with list_synced(server, "LLSIM1"), server.api() as api:
            blocked = await api.patch("/api/v1/tokens/SIM-CARD", json={"status": "Blocked"})
            assert blocked.status_code == 200, blocked.text
        assert str(sim.local_list.lookup("SIM-CARD")) == "Blocked"
        assert str(sim.local_list.updates[-1].update_type) == "Differential"
        view = await get_json(server, "/api/v1/stations/LLSIM1/local-list")
        assert view["version"] == sim.local_list.version and view["state"] == "in_sync"


async def test_a_reconnecting_station_is_resynchronised(server: RunningServer) -> None:
    await add_token(server, "BEFORE")
    async with simulated(server, "LLSIM2") as sim:
        await sync(server, "LLSIM2")
        version = sim.local_list.version
    # Offline: the change waits.
    await add_token(server, "WHILE-AWAY")
    view = await get_json(server, "/api/v1/stations/LLSIM2/local-list")
    assert view["pending"] == {"upserts": 1, "deletes": 0}
    async with asyncio.timeout(60), sim:
        await sim.connect()
        await sim.boot()
        async with asyncio.timeout(BOUND):
            await sim.wait_until(lambda: "WHILE-AWAY" in sim.local_list.entries)
    assert sim.local_list.version == version + 1
    assert str(sim.local_list.updates[-1].update_type) == "Differential"


async def test_a_full_list_beyond_send_local_list_max_length_is_sent_in_parts(
    server: RunningServer,
) -> None:
    for i in range(45):
        await add_token(server, f"BULK{i:02d}")
    async with simulated(server, "LLSIM3") as sim:
        # Kilowatt knows the station's limits once it has read its configuration.
        async with server.api() as api:
            read = await api.post("/api/v1/stations/LLSIM3/commands/GetConfiguration", json={})
            assert read.json()["outcome"] == "Accepted"
        # Advertising the profile, it takes part in automatic synchronisation: the worker may
        # have sent the list already (this request then finds it in sync).
        result = await sync(server, "LLSIM3")
        assert (result["outcome"], result["messages"]) in (("Accepted", 3), ("InSync", 0))
        kinds = [
            (str(u.update_type), len(u.local_authorization_list or []))
            for u in sim.local_list.updates
        ]
        assert kinds == [("Full", 20), ("Differential", 20), ("Differential", 5)]
        assert len(sim.local_list.entries) == 45
        # A station that holds fewer entries gets the Accepted tokens that fit.
        sim.configuration.set("LocalAuthListMaxLength", "10")
        async with server.api() as api:
            await api.post("/api/v1/stations/LLSIM3/commands/GetConfiguration", json={})
        result = await sync(server, "LLSIM3", "Full")
        assert result["outcome"] == "Accepted" and result["local_list"]["left_out"] == 35
        assert len(sim.local_list.entries) == 10


async def test_a_token_leaving_the_list_is_deleted_with_a_differential(
    server: RunningServer,
) -> None:
    await add_token(server, "FLEET-1", token_group="fleet")
    await add_token(server, "PRIVATE-1")
    async with simulated(server, "LLSIM4") as sim:
        await sync(server, "LLSIM4")
        assert set(sim.local_list.entries) == {"FLEET-1", "PRIVATE-1"}
        async with list_synced(server, "LLSIM4"), server.api() as api:
            limited = await api.patch(
                "/api/v1/stations/LLSIM4/local-list", json={"token_group": "fleet"}
            )
            assert limited.status_code == 200, limited.text
        last = sim.local_list.updates[-1]
        assert str(last.update_type) == "Differential"
        assert [(e.id_tag, e.id_tag_info) for e in last.local_authorization_list or []] == [
            ("PRIVATE-1", None)
        ]
        assert set(sim.local_list.entries) == {"FLEET-1"}
