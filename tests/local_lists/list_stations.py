"""Stations for the local list worker's tests: the ``ocpp`` library's charge point with the Local
Auth List Management profile (or without it), and Kilowatt's simulator; a node with
auto-enrolment on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from kilowatt.events import Event, EventBus

from support.ocpp_client import LibChargePoint
from support.server import HANDSHAKE_TIMEOUT, RunningServer, running_server
from support.simulated import simulated_station
from support.steps import boot

BOUND = 20  # seconds any awaited condition may take before the test fails
WITH_PROFILE = "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger"


class ListChargePoint(LibChargePoint):
    """Keeps a list version, answers SendLocalList Accepted; ``fail_configuration`` makes it
    answer GetConfiguration with a CALLERROR."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.list_version = 0
        self.fail_configuration = False

    @on(Action.get_configuration)
    def _get_configuration(self, key: list[str] | None = None, **fields: Any) -> Any:
        if self.fail_configuration:
            self._got("GetConfiguration", key=key, **fields)
            raise InternalError(description="configuration store not ready")
        return super()._get_configuration(key=key, **fields)

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

    def commands(self) -> list[str]:
        """The actions received so far (taken from the queue)."""
        actions = []
        while not self.received.empty():
            actions.append(self.received.get_nowait()[0])
        return actions


@contextlib.asynccontextmanager
async def list_station(
    server: RunningServer,
    cp_id: str,
    *,
    profiles: str = WITH_PROFILE,
    prepare: Callable[[ListChargePoint], None] | None = None,
) -> AsyncIterator[ListChargePoint]:
    """A connected, booted library charge point advertising ``profiles``."""
    async with websockets.connect(
        server.ws_url(cp_id),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        cp = ListChargePoint(cp_id, ws)
        cp.configuration["SupportedFeatureProfiles"] = (profiles, True)
        if prepare is not None:
            prepare(cp)
        loop = asyncio.create_task(cp.start())
        try:
            await boot(cp)
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


#: Kilowatt's simulator as a list station (this folder's tests import it from here).
simulated = simulated_station


@contextlib.asynccontextmanager
async def enrolling_server(
    database_url: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[RunningServer]:
    """A node with auto-enrolment on (the default of ``kilowatt serve``)."""
    async with running_server(
        database_url, data_dir, local_list_auto_enrol=True, **overrides
    ) as server:
        yield server


async def next_event(stream: Any, matches: Callable[[Event], bool]) -> Event:
    async with asyncio.timeout(BOUND):
        while True:
            event: Event = await stream.queue.get()
            if matches(event):
                return event


def events(bus: EventBus, *types: str) -> Any:
    return bus.stream(lambda e: e.type in types)


async def next_list(cp: ListChargePoint) -> dict[str, Any]:
    """The next SendLocalList the station receives (GetConfiguration and GetLocalListVersion
    before it skipped)."""
    while True:
        action, fields = await cp.next_command()
        if action == "SendLocalList":
            return fields
        assert action in ("GetConfiguration", "GetLocalListVersion"), (action, fields)


def tags(fields: dict[str, Any]) -> set[str]:
    return {e["id_tag"] for e in fields["local_authorization_list"]}
