"""The node the fuzz run calls: ``security.world`` served on an event loop of its own thread.

Schemathesis' pytest integration is synchronous (it sends with ``requests``), so the node runs in
a background thread: one coroutine enters the database, the server and the world, reports them,
and leaves them again when told to, all in one task.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import update

from kilowatt.users.models import User
from security.world import World, build_world, module_database

T = TypeVar("T")


class BackgroundNode:
    """``with BackgroundNode(...) as node:`` a running node; ``node.world`` as in the matrix."""

    def __init__(self, backend: str, template_url: str, directory: Path, **settings: Any) -> None:
        self._args = (backend, template_url, directory)
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fuzz-node", daemon=True
        )
        self._ready: Future[World] = Future()
        self._stop: asyncio.Event | None = None
        self._main: Future[None] | None = None

    def __enter__(self) -> BackgroundNode:
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        try:
            self.world = self._ready.result(timeout=120)
        except BaseException:
            self._shutdown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._shutdown()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            backend, template_url, directory = self._args
            async with module_database(backend, template_url, directory) as url:
                async with build_world(url, directory, **self._settings) as world:
                    self._ready.set_result(world)
                    await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def _shutdown(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._main is not None:
            try:
                self._main.result(timeout=60)
            except Exception:
                if self._ready.done() and self._ready.exception() is None:
                    raise  # set-up failures were raised by __enter__ already
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the node's loop (e.g. a database fix-up between tests)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def base_url(self) -> str:
        return self.world.server.http_url

    def keep_driver_usable(self, name: str = "driver") -> None:
        """Undo what fuzzing as a platform admin may have done to a driver's account: its access
        token names it, so it must stay enabled and a driver."""
        user_id = self.world.user_ids[name]

        async def restore() -> None:
            async with self.world.node.sessions() as db:
                await db.execute(
                    update(User).where(User.id == user_id).values(disabled_at=None, role="driver")
                )
                await db.commit()

        self.run(restore())
