"""A bare OCPP 1.6 station over a real WebSocket, for the durability tests.

It chooses its own message ids, keeps every transaction message until it is acknowledged,
and after a reconnect sends the unacknowledged ones again with the same message ids — the
OCPP 1.6 rule for transaction-related messages (§4.7: delivered in order, retried until the
central system answers with a CALLRESULT).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import websockets

TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float) -> None:
    """Wait until ``check()`` holds, at most ``within`` seconds (TimeoutError after)."""
    deadline = time.monotonic() + within
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Acked:
    """A message the central system acknowledged with a CALLRESULT."""

    message_id: str
    action: str
    payload: dict[str, Any]
    reply: dict[str, Any]


@dataclass
class RawStation:
    url: str  # ws://host:port/ocpp/<id>
    charge_point_id: str
    ws: Any = None
    acked: list[Acked] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (action, CALLERROR code)
    reconnect_within: float = 30  # how long a reconnect may take before the station gives up
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def connect(self, *, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while True:
                try:
                    self.ws = await websockets.connect(
                        self.url, subprotocols=["ocpp1.6"], open_timeout=5, ping_interval=None
                    )
                    return
                except (OSError, websockets.InvalidHandshake, websockets.InvalidStatus):
                    await asyncio.sleep(0.1)  # a real station's reconnect back-off

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def call(
        self, action: str, payload: dict[str, Any], *, message_id: str | None = None
    ) -> dict[str, Any] | None:
        """Send one CALL and wait for its answer: the reply, or None after a CALLERROR.

        A transaction message is retried (same id, after a reconnect) until it is answered
        with a CALLRESULT; others are sent once.
        """
        message_id = message_id or f"{self.charge_point_id}-{next(self._ids)}"
        while True:
            try:
                assert self.ws is not None
                await self.ws.send(orjson.dumps([2, message_id, action, payload]).decode())
                async with asyncio.timeout(30):
                    while True:
                        frame = orjson.loads(await self.ws.recv())
                        if frame[0] == 2:  # a command from the central system: accept it
                            await self.ws.send(
                                orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode()
                            )
                            continue
                        if frame[1] == message_id:
                            break
            except (websockets.ConnectionClosed, OSError, AssertionError):
                if action not in TRANSACTION_ACTIONS:
                    raise
                await self.close()
                await self.connect(within=self.reconnect_within)
                continue
            if frame[0] == 3:
                self.acked.append(Acked(message_id, action, payload, frame[2]))
                return dict(frame[2])
            self.errors.append((action, frame[2]))
            if action in TRANSACTION_ACTIONS:
                await asyncio.sleep(0.2)  # TransactionMessageRetryInterval, shortened
                continue
            return None

    async def boot(self) -> None:
        reply = await self.call(
            "BootNotification", {"chargePointVendor": "Test", "chargePointModel": "Raw"}
        )
        assert reply is not None and reply["status"] == "Accepted", reply

    async def start(self, connector_id: int, id_tag: str, meter_start: int) -> int:
        reply = await self.call(
            "StartTransaction",
            {
                "connectorId": connector_id,
                "idTag": id_tag,
                "meterStart": meter_start,
                "timestamp": now_iso(),
            },
        )
        assert reply is not None
        return int(reply["transactionId"])

    async def meter(self, connector_id: int, transaction_id: int, wh: int) -> None:
        await self.call(
            "MeterValues",
            {
                "connectorId": connector_id,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": now_iso(),
                        "sampledValue": [
                            {
                                "value": str(wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            },
        )

    async def stop(self, transaction_id: int, meter_stop: int) -> None:
        await self.call(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": meter_stop, "timestamp": now_iso()},
        )
