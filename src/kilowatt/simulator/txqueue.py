"""Transaction-related messages (Start/StopTransaction, MeterValues): kept in order, sent one
after the other, held while offline and replayed after reconnecting (OCPP 1.6 §4.7, §3.4)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec

from .link import CallFailed, CallTimeout, ConnectionLost, Link, NotConnected

__all__ = ["TransactionQueue", "TxMessage"]

logger = logging.getLogger("kilowatt.simulator")

#: Builds the payload when it is sent, so a message queued before its transaction had an id
#: (a transaction started offline) goes out with the id the CSMS gave in the meantime. None: drop.
Build = Callable[[], msgspec.Struct | None]


@dataclass(slots=True)
class TxMessage:
    action: str
    build: Build
    #: The CSMS's answer, or None when the message was given up (or dropped).
    done: asyncio.Future[msgspec.Struct | None]
    #: Called with the answer (None if given up) before the next message is built.
    on_answer: Callable[[msgspec.Struct | None], None] | None = None
    attempts: int = 0


@dataclass(slots=True)
class TransactionQueue:
    #: (TransactionMessageAttempts, TransactionMessageRetryInterval) as now configured.
    retry_policy: Callable[[], tuple[int, float]]
    #: Called whenever the queue grows or shrinks (the station's state-change hook).
    on_change: Callable[[], None] = lambda: None
    #: Oldest MeterValues are dropped beyond this many queued messages (a charger's memory).
    limit: int = 10_000
    _queue: deque[TxMessage] = field(default_factory=deque)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def __len__(self) -> int:
        return len(self._queue)

    def put(
        self,
        action: str,
        build: Build,
        on_answer: Callable[[msgspec.Struct | None], None] | None = None,
    ) -> asyncio.Future[msgspec.Struct | None]:
        """Queue a message; the future resolves to the answer (None if given up)."""
        done: asyncio.Future[msgspec.Struct | None] = asyncio.get_running_loop().create_future()
        if len(self._queue) >= self.limit:
            self._drop_oldest_meter_values()
        self._queue.append(TxMessage(action, build, done, on_answer))
        self._wakeup.set()
        self.on_change()
        return done

    def wake(self) -> None:
        """Look again: the link came up, or the station was accepted."""
        self._wakeup.set()

    def pending_actions(self) -> list[str]:
        return [m.action for m in self._queue]

    def _drop_oldest_meter_values(self) -> None:
        # Never the head: it may be on the wire right now.
        for message in list(self._queue)[1:]:
            if message.action == "MeterValues":
                self._queue.remove(message)
                self._settle(message, None)
                return

    async def run(self, ready: Callable[[], Awaitable[Link]]) -> None:
        """Send queued messages forever; `ready()` returns a link once online and accepted."""
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            link = await ready()
            message = self._queue[0]
            payload = message.build()
            if payload is None:
                self._finish(None)
                continue
            try:
                answer = await link.call(message.action, payload)
            except (ConnectionLost, NotConnected):
                continue  # still at the head: replayed after reconnecting
            except (CallFailed, CallTimeout) as exc:
                message.attempts += 1
                attempts, interval = self.retry_policy()
                if message.attempts >= attempts:
                    logger.warning(
                        "giving up %s after %d attempts: %s", message.action, attempts, exc
                    )
                    self._finish(None)
                else:
                    await asyncio.sleep(interval * message.attempts)
                continue
            self._finish(answer)

    def _finish(self, answer: msgspec.Struct | None) -> None:
        self._settle(self._queue.popleft(), answer)
        self.on_change()

    @staticmethod
    def _settle(message: TxMessage, answer: msgspec.Struct | None) -> None:
        # Synchronously, so that e.g. the transactionId is known before the next message is built.
        if message.on_answer is not None:
            message.on_answer(answer)
        if not message.done.done():
            message.done.set_result(answer)
