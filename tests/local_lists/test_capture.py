"""``token.changed``: a token row's committed change becomes an event (the local list worker's
trigger); a rolled-back or empty change does not."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

import kilowatt.local_lists.capture  # noqa: F401  (registers the listeners, as the node does)
from kilowatt.db import session_factory
from kilowatt.events import Event, EventBus
from kilowatt.live.capture import EventSession, session_info
from kilowatt.tenants import service as tenants
from kilowatt.tokens import service as tokens


async def test_token_changes_are_published_once_committed(engine: AsyncEngine) -> None:
    bus, got = EventBus(), list[Event]()
    bus.subscribe(got.append)
    sessions = session_factory(engine, sync_session_class=EventSession, info=session_info(bus, {}))

    def changes() -> list[tuple[int | None, list[str]]]:
        return [(e.tenant_id, e.data["idTags"]) for e in got if e.type == "token.changed"]

    async with sessions() as db:
        tenant = await tenants.default_tenant(db)
        await tokens.create(db, tenant.id, "CAP-1")
        await tokens.create(db, tenant.id, "CAP-2")
        assert changes() == []  # flushed, not committed
        await db.commit()
    assert changes() == [(tenant.id, ["CAP-1", "CAP-2"])]

    async with sessions() as db:
        token = await tokens.find(db, tenant.id, "CAP-1")
        assert token is not None
        token.status = "Blocked"
        await db.flush()
        await db.rollback()
        token = await tokens.find(db, tenant.id, "CAP-2")
        assert token is not None
        token.status = token.status  # no change at all
        await db.commit()
    assert len(changes()) == 1

    async with sessions() as db:
        token = await tokens.find(db, tenant.id, "CAP-2")
        assert token is not None
        await tokens.block_own(db, token)
        await db.commit()
    assert changes()[-1] == (tenant.id, ["CAP-2"])
