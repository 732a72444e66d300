"""``token.changed`` events from the token rows themselves: whichever code path adds, changes
or deletes a token (operator API, driver API, CLI on a node session), the change is published
once committed, and the local list worker resynchronises the tenant's stations.

The same mechanism as ``live/capture.py``: the node's sessions carry the bus in ``info``.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from kilowatt.events import Event, EventBus
from kilowatt.live.capture import BUS, EventSession
from kilowatt.tokens.models import Token

CHANGED = "kilowatt.local_lists.changed"  # tenant id -> changed id tags, until the commit


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if BUS not in session.info:
        return
    changed: defaultdict[int, set[str]] = session.info.setdefault(CHANGED, defaultdict(set))
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Token) and (obj not in session.dirty or session.is_modified(obj)):
            changed[obj.tenant_id].add(obj.id_tag)


def _after_commit(session: Session) -> None:
    changed: dict[int, set[str]] = session.info.pop(CHANGED, {})
    bus: EventBus | None = session.info.get(BUS)
    if bus is None:
        return
    for tenant_id, id_tags in changed.items():
        bus.publish(Event("token.changed", {"idTags": sorted(id_tags)}, tenant_id=tenant_id))


def _after_soft_rollback(session: Session, _previous: object) -> None:
    session.info.pop(CHANGED, None)


event.listen(EventSession, "after_flush", _after_flush)
event.listen(EventSession, "after_commit", _after_commit)
event.listen(EventSession, "after_soft_rollback", _after_soft_rollback)
