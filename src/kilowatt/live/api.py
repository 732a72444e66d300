"""Live push: the domain events a caller may see, over Server-Sent Events and a WebSocket.

``GET /api/v1/events`` (``text/event-stream``) and ``WS /api/v1/events``: authenticated like the
API; a driver sees their own sessions (and the connectors they ask to watch), an operator their
tenant's events by permission, a platform admin everything. A client resumes after a reconnect
with ``Last-Event-ID`` (SSE header, or ``last_event_id=``) and gets what it missed within the
bus's retention; when that is not possible, or when it fell behind, it gets a ``resync`` event
and should re-read the state it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from kilowatt.api.problems import Problem
from kilowatt.auth.deps import CurrentPrincipal, connection_principal, principal_for
from kilowatt.auth.principal import Principal
from kilowatt.events import Event, EventBus, Stream

router = APIRouter(prefix="/api/v1", tags=["events"])

KEEPALIVE = 15.0  # seconds between SSE comments / WebSocket pings when nothing happens
STREAM_QUEUE = 1000  # events kept for a slow client before it must resynchronise
AUTH_TIMEOUT = 10.0  # seconds a WebSocket client has to send its token

# Which operator permission sees which family of events.
FAMILY_PERMISSIONS = {
    "station": "stations:read",
    "connector": "stations:read",
    "command": "stations:read",
    "charging_profile": "stations:read",
    "meter_values": "stations:read",
    "security": "stations:read",
    "transaction": "transactions:read",
    "session": "sessions:read",
    "token": "tokens:read",
    "payment": "billing:read",
    "firmware": "stations:read",
    "diagnostics": "stations:read",
    "reservation": "stations:read",
    "load": "stations:read",
}
# What a driver sees of a connector they watch (public, like its status page).
WATCHABLE = ("connector.status", "station.connected", "station.disconnected")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the client asked for (``types`` may end in ``.*``)."""

    types: tuple[str, ...] = ()
    session_id: int | None = None
    watch: tuple[tuple[str, int | None], ...] = ()  # (charge point id, connector or None)

    def wants(self, event: Event) -> bool:
        if self.types and not any(_matches(p, event.type) for p in self.types):
            return False
        if self.session_id is not None:
            return event.type.startswith("session.") and (
                event.data.get("sessionId") == self.session_id
            )
        return True

    def watches(self, event: Event) -> bool:
        return any(
            event.station == station and (connector is None or event.connector_id == connector)
            for station, connector in self.watch
        )


def _matches(pattern: str, kind: str) -> bool:
    if pattern.endswith(".*"):
        return kind.startswith(pattern[:-1])
    return pattern == kind


def visible(principal: Principal, filters: Filters) -> Callable[[Event], bool]:
    """The events this caller may see and asked for."""

    def accepts(event: Event) -> bool:
        if not filters.wants(event):
            return False
        if principal.is_platform_admin:
            return True
        if principal.is_driver:
            if event.type.startswith(("session.", "payment.", "reservation.")):
                return event.user_id is not None and event.user_id == principal.user_id
            return (
                event.type in WATCHABLE
                and event.tenant_id == principal.tenant_id
                and filters.watches(event)
            )
        if event.tenant_id is None or event.tenant_id != principal.tenant_id:
            return False
        family = event.type.split(".", 1)[0]
        permission = FAMILY_PERMISSIONS.get(family)
        return permission is not None and principal.can(permission)

    return accepts


def parse_filters(types: str | None, session: int | None, watch: list[str]) -> Filters:
    patterns = tuple(t.strip() for t in (types or "").split(",") if t.strip())
    watched: list[tuple[str, int | None]] = []
    for item in watch:
        station, _, connector = item.rpartition("/")
        if station and connector.isdigit():
            watched.append((station, int(connector)))
        else:
            watched.append((item, None))
    return Filters(patterns, session, tuple(watched))


# ---- one subscription, transport-neutral ----------------------------------------------------------


class Feed:
    """Replays what a resuming client missed, then live events, then resync notices."""

    def __init__(
        self, bus: EventBus, accepts: Callable[[Event], bool], last_event_id: str | None
    ) -> None:
        self.bus = bus
        self.accepts = accepts
        # Subscribe first, then replay: nothing published in between is lost.
        self.stream: Stream = bus.stream(accepts, maxsize=STREAM_QUEUE)
        self.backlog: list[Event] = []
        self.resync_first = False
        self.last_sent = 0
        if last_event_id:
            missed = bus.since(last_event_id)
            if missed is None:
                self.resync_first = True
            else:
                self.backlog = [e for e in missed if accepts(e)]

    def close(self) -> None:
        self.stream.close()

    async def next(self, idle: float) -> Event | str | None:
        """The next event to send, "resync", or None after ``idle`` seconds without one."""
        if self.resync_first:
            self.resync_first = False
            return "resync"
        while self.backlog:
            event = self.backlog.pop(0)
            self.last_sent = _number(event)
            return event
        while True:
            if self.stream.overflowed:
                self.stream.resynchronised()
                return "resync"
            try:
                event = await asyncio.wait_for(self.stream.queue.get(), idle)
            except TimeoutError:
                return None
            if _number(event) > self.last_sent:  # already replayed from the backlog otherwise
                self.last_sent = _number(event)
                return event


def _number(event: Event) -> int:
    return int(event.id.rpartition("-")[2] or 0)


def _resync_data(bus: EventBus) -> dict[str, str]:
    return {"reason": "events were missed: re-read the state you show", "epoch": bus.epoch}


# ---- Server-Sent Events ----------------------------------------------------------------------


@router.get("/events", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    principal: CurrentPrincipal,
    types: str | None = Query(
        None, description="comma-separated types, e.g. session.*,connector.status"
    ),
    session: int | None = Query(None, ge=1, description="only this session's events"),
    watch: list[str] = Query(
        [], description="charge point id (or id/connector) whose public events to follow"
    ),
    last_event_id: str | None = Header(None, max_length=64),
    last_event_id_query: str | None = Query(None, alias="last_event_id", max_length=64),
) -> StreamingResponse:
    """Server-Sent Events: ``id``, ``event`` (the type) and ``data`` (JSON) per event."""
    bus: EventBus = request.app.state.kilowatt.bus
    accepts = visible(principal, parse_filters(types, session, watch))
    feed = Feed(bus, accepts, last_event_id or last_event_id_query)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                item = await feed.next(KEEPALIVE)
                if item is None:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                elif item == "resync":
                    data = json.dumps(_resync_data(bus))
                    yield f"event: resync\ndata: {data}\n\n".encode()
                else:
                    assert isinstance(item, Event)
                    data = json.dumps(item.as_json(), default=str)
                    yield f"id: {item.id}\nevent: {item.type}\ndata: {data}\n\n".encode()
        finally:
            feed.close()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# ---- WebSocket -----------------------------------------------------------------------------------


@router.websocket("/events")
async def event_socket(websocket: WebSocket) -> None:
    """The same events as JSON messages. Authenticate with the API's headers or, from a browser,
    with a first message ``{"token": "<access token or API key>"}``. Query parameters as for SSE."""
    await websocket.accept()
    try:
        principal = await _authenticate(websocket)
    except Problem as problem:
        await websocket.close(1008, str(problem.detail)[:120])
        return
    if principal is None:
        return
    params = websocket.query_params
    session = params.get("session")
    filters = parse_filters(
        params.get("types"),
        int(session) if session and session.isdigit() else None,
        params.getlist("watch"),
    )
    bus: EventBus = websocket.app.state.kilowatt.bus
    feed = Feed(bus, visible(principal, filters), params.get("last_event_id"))
    try:
        await websocket.send_json({"type": "ready", "epoch": bus.epoch})
        reader = asyncio.create_task(_drain(websocket))
        try:
            while True:
                upcoming = asyncio.create_task(feed.next(KEEPALIVE))
                await asyncio.wait({upcoming, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader.done():  # the client left
                    upcoming.cancel()
                    break
                item = upcoming.result()
                if item is None:
                    await websocket.send_json({"type": "keep-alive"})
                elif item == "resync":
                    await websocket.send_json({"type": "resync", "data": _resync_data(bus)})
                else:
                    assert isinstance(item, Event)
                    await websocket.send_text(json.dumps(item.as_json(), default=str))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await reader
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.close()


async def _authenticate(websocket: WebSocket) -> Principal | None:
    principal = await connection_principal(websocket)
    if principal is not None:
        return principal
    # Each refusal says why, so that a client (or a failing test) can tell them apart.
    try:
        first = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT)
    except TimeoutError:
        await _close_quietly(websocket, 1008, f"authentication required within {AUTH_TIMEOUT:g} s")
        return None
    except ValueError:
        await _close_quietly(websocket, 1008, "authentication required: the first message is JSON")
        return None
    except WebSocketDisconnect:
        return None
    token = first.get("token") if isinstance(first, dict) else None
    if not isinstance(token, str) or not token:
        await _close_quietly(websocket, 1008, 'authentication required: send {"token": ...} first')
        return None
    return await principal_for(websocket, "bearer", token)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so that its close is noticed."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code, reason)
