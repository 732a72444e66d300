"""Domain events and the in-process bus (DESIGN.md decision 6).

An event is published only after the data it describes is committed, so a subscriber that
reads the database sees it. Every event gets an id (``<epoch>-<sequence>``: the epoch changes
when the node restarts) and is kept in a bounded ring for ``retention`` so that a client that
reconnects can resume from the last id it saw (``since``).

Two kinds of subscribers:
* callbacks (``subscribe``): called synchronously on publish; they must not block — they hand
  work to their own tasks (the payment worker's wake-up, the webhook dispatcher's queue);
* streams (``stream``): a bounded queue per client (live push). A client that does not keep up
  is never waited for: when its queue is full its stream is marked *overflowed*, further events
  are dropped for it, and the client is told to resynchronise (re-read the state it shows).

The cluster issue puts the same interface on Redis (streams for the ring, pub/sub for fan-out).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened. ``tenant_id`` / ``user_id`` / ``station`` say who may see it:
    operators of the tenant, the driver it belongs to, watchers of the station's connectors."""

    type: str  # e.g. "session.started", "connector.status", "command.finished"
    data: Mapping[str, Any] = field(default_factory=dict)
    tenant_id: int | None = None
    user_id: int | None = None
    station: str | None = None  # charge point id
    connector_id: int | None = None
    id: str = ""  # set by the bus
    at: datetime | None = None  # set by the bus

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "at": None if self.at is None else self.at.isoformat().replace("+00:00", "Z"),
            "tenantId": self.tenant_id,
            "chargingStationId": self.station,
            "connectorId": self.connector_id,
            "data": dict(self.data),
        }


Subscriber = Callable[[Event], None]


class Stream:
    """One client's view of the bus: a bounded queue; ``overflowed`` once it fell behind."""

    def __init__(self, bus: EventBus, accepts: Callable[[Event], bool], maxsize: int) -> None:
        self._bus = bus
        self._accepts = accepts
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if not self._accepts(event):
            return
        if self.overflowed:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.dropped += 1

    def resynchronised(self) -> None:
        """The client was told to re-read its state: deliver live events again."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.overflowed = False

    def close(self) -> None:
        self._bus._streams.discard(self)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self, *, retention: float = 600.0, max_kept: int = 50_000) -> None:
        self.epoch = format(int(time.time() * 1000), "x")
        self.retention = retention
        self._sequence = itertools.count(1)
        self._issued = 0
        self._ring: deque[tuple[int, float, Event]] = deque(maxlen=max_kept)
        self._subscribers: list[Subscriber] = []
        self._streams: set[Stream] = set()
        self.published = 0
        self.observer: Callable[[float], None] | None = None  # told each publish's seconds

    # ---- publishing -------------------------------------------------------------------------
    def publish(self, event: Event) -> Event:
        """Stamp ``event`` with its id and time, keep it for resuming, and hand it out."""
        started = time.perf_counter()
        number = next(self._sequence)
        self._issued = number
        stamped = Event(
            type=event.type,
            data=event.data,
            tenant_id=event.tenant_id,
            user_id=event.user_id,
            station=event.station,
            connector_id=event.connector_id,
            id=f"{self.epoch}-{number}",
            at=event.at or datetime.now(UTC),
        )
        now = time.monotonic()
        self._ring.append((number, now, stamped))
        self._expire(now)
        self.published += 1
        for subscriber in list(self._subscribers):
            try:
                subscriber(stamped)
            except Exception:  # one broken subscriber must not stop the others (or the caller)
                log.exception("event subscriber failed on %s", stamped.type)
        for stream in list(self._streams):
            stream.offer(stamped)
        if self.observer is not None:
            self.observer(time.perf_counter() - started)
        return stamped

    def _expire(self, now: float) -> None:
        while self._ring and now - self._ring[0][1] > self.retention:
            self._ring.popleft()

    # ---- subscribing ------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def stream(self, accepts: Callable[[Event], bool], *, maxsize: int = 1000) -> Stream:
        """A bounded stream of the events ``accepts`` lets through, from now on."""
        stream = Stream(self, accepts, maxsize)
        self._streams.add(stream)
        return stream

    @property
    def streams(self) -> int:
        return len(self._streams)

    def queue_depths(self) -> list[int]:
        return [s.queue.qsize() for s in self._streams]

    def since(self, last_id: str) -> Iterator[Event] | None:
        """The kept events after ``last_id``; None when they cannot all be given (another
        epoch, or older than the ring): the client must resynchronise instead."""
        epoch, _, number_text = last_id.partition("-")
        if epoch != self.epoch or not number_text.isdigit():
            return None
        number = int(number_text)
        self._expire(time.monotonic())
        oldest_kept = self._ring[0][0] if self._ring else self._issued + 1
        if number > self._issued or number < oldest_kept - 1:
            return None  # an id we never gave, or events after it are gone
        return (event for n, _, event in list(self._ring) if n > number)
