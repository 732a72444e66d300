"""Domain events and the in-process bus (DESIGN.md decision 6).

An event is published only after the data it describes is committed, so a subscriber that
reads the database sees it. Subscribers are plain callbacks that must not block: they hand
work to their own tasks (e.g. set an ``asyncio.Event``). The live-push issue grows this into
the full event stream; the cluster issue puts the same interface on Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # e.g. "transaction.stopped", "session.closed", "payment.updated"
    data: Mapping[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # one broken subscriber must not stop the others (or the caller)
                log.exception("event subscriber failed on %s", event.type)
