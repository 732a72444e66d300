"""The live connections of this node, by charge point id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

from kilowatt.gateway.connection import StationConnection


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, StationConnection] = {}
        self._changed = asyncio.Condition()

    def get(self, charge_point_id: str) -> StationConnection | None:
        return self._by_id.get(charge_point_id)

    def __contains__(self, charge_point_id: str) -> bool:
        return charge_point_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[StationConnection]:
        return iter(list(self._by_id.values()))

    async def add(self, connection: StationConnection) -> StationConnection | None:
        """Register ``connection``; return the one it replaced, if any."""
        previous = self._by_id.get(connection.charge_point_id)
        self._by_id[connection.charge_point_id] = connection
        async with self._changed:
            self._changed.notify_all()
        return previous

    async def remove(
        self,
        connection: StationConnection,
        *,
        before_notify: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Unregister ``connection`` unless a newer one has already taken its place.

        ``before_notify`` runs before waiters learn of the removal (e.g. recording it).
        """
        if self._by_id.get(connection.charge_point_id) is not connection:
            return False
        del self._by_id[connection.charge_point_id]
        if before_notify is not None:
            await before_notify()
        async with self._changed:
            self._changed.notify_all()
        return True

    async def wait_for(self, charge_point_id: str, *, present: bool = True) -> None:
        """Wait until a station is (or is no longer) connected; callers bound it with a timeout."""
        async with self._changed:
            await self._changed.wait_for(lambda: (charge_point_id in self._by_id) == present)
