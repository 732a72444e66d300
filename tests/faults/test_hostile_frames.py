"""Hostile input over a real WebSocket: thousands of malformed frames derived from the OCPP 1.6
JSON schemas the `ocpp` package ships, oversized messages and deflate bombs.

Every frame gets the CALLERROR the OCPP-J 1.6 specification gives it (§4.2.3 Table 7, read
with docs/ocpp-core.md), or no answer where a CALLERROR may not answer (a response), or the
1009 close for an oversized message; nothing of it is stored, and a well-behaved station on
another connection is answered throughout. ``KILOWATT_LONG_FAULTS=1`` sends ten times as many.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib.resources
import itertools
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from ocpp.v16 import call
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from kilowatt.gateway.dispatch_v16 import SUPPORTED_ACTIONS
from kilowatt.ocpp import v16
from kilowatt.stations.models import (
    Connector,
    DataTransferRecord,
    Station,
    StatusNotificationRecord,
)
from kilowatt.transactions.models import MeterValueRecord, Transaction, UnmatchedStop

from support.ocpp_client import lib_charge_point
from support.server import HANDSHAKE_TIMEOUT, RunningServer, running_server

LONG = os.environ.get("KILOWATT_LONG_FAULTS") == "1"
FRAMES = 50_000 if LONG else 5_000
MAX_MESSAGE = 64 * 1024
HOSTILE_STATIONS = ("HOSTILE1", "HOSTILE2", "HOSTILE3")
OCPP16 = [Subprotocol("ocpp1.6")]
WINDOW = 16  # frames in flight per station (answers come back in order)

FORMATION = "FormationViolation"
PROTOCOL = "ProtocolError"
TYPE = "TypeConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
OCCURENCE = "OccurenceConstraintViolation"  # sic, OCPP-J 1.6 errata §5.1
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
NO_ANSWER = "(no answer)"


@dataclass(frozen=True, slots=True)
class Hostile:
    """One frame and what must come back: a CALLERROR with ``code`` for ``answer_id``."""

    frame: str | bytes
    code: str
    answer_id: str | None  # None: the message id is unreadable, the answer carries "-1"
    what: str


# ---- valid payloads from the schemas, then one fault at a time --------------------------------


def schema_of(action: str) -> dict[str, Any]:
    folder = importlib.resources.files("ocpp.v16") / "schemas"
    schema: dict[str, Any] = orjson.loads((folder / f"{action}.json").read_bytes())
    return schema


def resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` (the security schemas' "#/definitions/...") followed."""
    while "$ref" in node:
        target: Any = root
        for step in node["$ref"].removeprefix("#/").split("/"):
            target = target[step]
        node = target
    return node


def valid_value(node: dict[str, Any], root: dict[str, Any]) -> Any:
    """A value the schema node accepts, every optional property included."""
    node = resolved(node, root)
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if kind == "object":
        return {name: valid_value(sub, root) for name, sub in node.get("properties", {}).items()}
    if kind == "array":
        count = max(1, node.get("minItems", 1))
        return [valid_value(node["items"], root) for _ in range(count)]
    if kind == "string":
        if node.get("format") == "date-time":
            return "2026-11-27T12:00:00Z"
        return "x" * min(3, node.get("maxLength", 3))
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    raise AssertionError(f"schema node without a known type: {node}")


Path_ = tuple[str | int, ...]


def nodes(
    node: dict[str, Any], root: dict[str, Any], path: Path_ = ()
) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Every (path, schema node) under ``node``, the node itself first."""
    node = resolved(node, root)
    yield path, node
    if node.get("type") == "object":
        for name, sub in node.get("properties", {}).items():
            yield from nodes(sub, root, (*path, name))
    elif node.get("type") == "array":
        yield from nodes(node["items"], root, (*path, 0))


def replaced(payload: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def removed(payload: dict[str, Any], path: Path_) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


WRONG_TYPES: dict[str, list[Any]] = {
    "string": [123, 1.5, True, None, ["x"], {"x": 1}],
    "integer": ["1", 1.5, 1.0, True, None, [1], {"n": 1}, 2.0**64],
    "number": ["1.5", True, None, [1.5], {"n": 1}],
    "boolean": ["true", 1, 0, None, [True]],
    "object": [[], "x", 1, True],
    "array": [{}, "x", 1, None],
}


def payload_faults(action: str) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(payload, expected code, description) with exactly one schema violation each."""
    schema = schema_of(action)
    base = valid_value(schema, schema)
    for path, node in nodes(schema, schema):
        where = ".".join(map(str, path)) or "(payload)"
        kind = node.get("type")
        if path:
            for wrong in WRONG_TYPES[str(kind)]:
                yield replaced(base, path, wrong), TYPE, f"{where}: {wrong!r} for {kind}"
        if "enum" in node:
            for wrong in ("NotAValue", str(node["enum"][0]).upper() + "X", ""):
                yield replaced(base, path, wrong), PROPERTY, f"{where}: enum {wrong!r}"
        elif kind == "string" and "maxLength" in node:
            limit = node["maxLength"]
            for size in (limit + 1, limit * 10):
                yield replaced(base, path, "y" * size), PROPERTY, f"{where}: {size} chars"
        elif kind == "string" and node.get("format") == "date-time":
            for wrong in ("yesterday", "2026-13-01T00:00:00Z", "2026-11-27 25:00", "1"):
                yield replaced(base, path, wrong), PROPERTY, f"{where}: date-time {wrong!r}"
        elif kind == "integer":
            big = [2**31, 2**63, 2**63 - 1, -(2**63), -(2**31) - 1]
            if path[-1] == "connectorId":
                big += [-1, -(2**31)]
            for value in big:
                yield replaced(base, path, value), PROPERTY, f"{where}: integer {value}"
        elif kind == "object":
            for name in node.get("required", []):
                yield removed(base, (*path, name)), OCCURENCE, f"{where}: without required {name}"
            if node.get("additionalProperties") is False:
                extra = replaced(base, (*path, "unexpectedField"), 1)
                yield extra, PROPERTY, f"{where}: extra property"
        elif kind == "array" and node.get("minItems", 0) >= 1:
            yield replaced(base, path, []), OCCURENCE, f"{where}: empty array"


def frame_faults() -> Iterator[tuple[str | bytes, str, str | None, str]]:
    """Frames broken at the RPC level: (frame, code, answer id, description)."""
    good = '[2,"f1","Heartbeat",{}]'
    for cut in range(1, len(good)):
        yield good[:cut], FORMATION, None, f"truncated at {cut}"
    for garbage in ("", " ", "null", "true", "1", '"x"', "{}", '{"a":1}', "[]", "[[]]", "1e400"):
        yield garbage, FORMATION, None, f"not an OCPP frame: {garbage!r}"
    yield b"\xff\xfe\x00", FORMATION, None, "binary, not UTF-8"
    yield "[2, 1e400]", FORMATION, None, "number out of range"
    for mtype in ("0", "1", "5", "9", "-1", "2.0", '"2"', "null", "true", "99999999999999999999"):
        yield f'[{mtype},"t1","Heartbeat",{{}}]', FORMATION, "t1", f"message type {mtype}"
    for message_id in ("1", "null", "{}", "[]", "1.5"):
        yield f'[2,{message_id},"Heartbeat",{{}}]', FORMATION, None, f"message id {message_id}"
    yield f'[2,"{"i" * 37}","Heartbeat",{{}}]', FORMATION, None, "message id of 37 chars"
    for action in ("1", "null", '""', "{}", '["Heartbeat"]'):
        yield f'[2,"a1",{action},{{}}]', FORMATION, "a1", f"action {action}"
    for payload in ("[]", '"x"', "1", "true", "[{}]"):
        yield f'[2,"p1","Heartbeat",{payload}]', FORMATION, "p1", f"payload {payload}"
    for frame in ('[2,"e1"]', '[2,"e2","Heartbeat"]', '[2,"e3","Heartbeat",{},{}]'):
        yield frame, PROTOCOL, frame[4:6], "wrong element count"
    yield '[2,"n1","BootNotification",null]', OCCURENCE, "n1", "null payload, required fields"
    for action in ("NoSuchAction", "heartbeat", "Heartbeat ", "x" * 100):
        yield f'[2,"u1","{action}",{{}}]', NOT_IMPLEMENTED, "u1", f"unknown action {action[:20]}"
    for action in ("Reset", "RemoteStartTransaction", "GetConfiguration", "TriggerMessage"):
        yield f'[2,"s1","{action}",{{}}]', NOT_SUPPORTED, "s1", f"central system action {action}"
    for action in sorted(v16.CHARGE_POINT_TO_CENTRAL_SYSTEM - SUPPORTED_ACTIONS):
        yield f'[2,"s2","{action}",{{}}]', NOT_SUPPORTED, "s2", f"unhandled {action}"
    # Responses nobody asked for, well-formed or not: a CALLERROR never answers a response.
    for frame in (
        '[3,"r1",{}]',
        '[3,"r2",{"status":"Accepted"}]',
        '[3,"r3"]',
        '[3,"r4",[]]',
        '[4,"r5","GenericError","",{}]',
        '[4,"r6","GenericError"]',
        '[4,"r7",1,2,3]',
    ):
        yield frame, NO_ANSWER, None, "stray response"


def hostile_frames() -> list[Hostile]:
    """The distinct hostile frames; message ids are set when sent."""
    out: list[Hostile] = []
    for action in sorted(SUPPORTED_ACTIONS):
        for payload, code, what in payload_faults(action):
            text = orjson.dumps([2, "{id}", action, payload]).decode()
            out.append(Hostile(text, code, "{id}", f"{action} {what}"))
    for frame, code, answer_id, what in frame_faults():
        out.append(Hostile(frame, code, answer_id, what))
    return out


def numbered(template: Hostile, n: int) -> Hostile:
    """A copy with a fresh message id where the frame's id is ours to choose."""
    if template.answer_id != "{id}":
        return template
    message_id = f"h{n}"
    assert isinstance(template.frame, str)
    return Hostile(template.frame.replace('"{id}"', f'"{message_id}"', 1), template.code,
                   message_id, template.what)  # fmt: skip


# ---- sending -----------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    wrong: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    mistakes: list[str] = field(default_factory=list)


async def recv(ws: ClientConnection) -> list[Any]:
    async with asyncio.timeout(20):
        frame: list[Any] = orjson.loads(await ws.recv())
    return frame


async def hostile_station(
    server: RunningServer, name: str, frames: list[Hostile], tally: Tally
) -> None:
    async with websockets.connect(
        server.ws_url(name),
        subprotocols=OCPP16,
        max_size=None,
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        for start in range(0, len(frames), WINDOW):
            chunk = frames[start : start + WINDOW]
            for hostile in chunk:
                await ws.send(hostile.frame)
            tally.sent += len(chunk)
            for hostile in chunk:
                if hostile.code == NO_ANSWER:
                    tally.codes[NO_ANSWER] += 1
                    continue
                answer = await recv(ws)
                expected_id = hostile.answer_id or "-1"
                if answer[:3] != [4, expected_id, hostile.code]:
                    tally.wrong += 1
                    tally.mistakes.append(f"{hostile.what}: {hostile.frame!r} -> {answer}")
                tally.codes[str(answer[2]) if answer[0] == 4 else "CALLRESULT"] += 1
        # Nothing owed after the last frame: the next answer is this probe's.
        await ws.send('[2,"probe","Heartbeat",{"probe":1}]')
        assert (await recv(ws))[:3] == [4, "probe", PROPERTY]


async def well_behaved(server: RunningServer, stop: asyncio.Event) -> tuple[int, float]:
    """Heartbeats and status reports from the `ocpp` library's charge point until ``stop``;
    returns (answers, slowest answer in seconds). Any failure fails the test."""
    answered, slowest = 0, 0.0
    async with lib_charge_point(server.ws_url("GOOD"), "GOOD") as cp:
        # Flooders and server share this process's one event loop on a small machine: the
        # database-bound answers of the good station slow down by seconds (printed), so wait
        # longer than the support client's 10 s before calling an answer missing.
        cp._response_timeout = 60
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        while not stop.is_set() or answered < 3:
            started = time.monotonic()
            if answered % 2:
                await cp.call(call.Heartbeat())
            else:
                await cp.call(
                    call.StatusNotification(
                        connector_id=1, error_code="NoError", status="Available"
                    )
                )
            slowest = max(slowest, time.monotonic() - started)
            answered += 1
    return answered, slowest


async def nothing_stored(server: RunningServer) -> None:
    async with server.node.sessions() as db:
        ids = select(Station.id).where(Station.charge_point_id.in_(HOSTILE_STATIONS))
        for model in (
            Connector,
            StatusNotificationRecord,
            DataTransferRecord,
            Transaction,
            MeterValueRecord,
            UnmatchedStop,
        ):
            count = await db.scalar(
                select(func.count()).select_from(model).where(model.station_id.in_(ids))
            )
            assert count == 0, model.__name__
        stations = (
            await db.scalars(select(Station).where(Station.charge_point_id.in_(HOSTILE_STATIONS)))
        ).all()
        assert len(stations) == len(HOSTILE_STATIONS)
        for station in stations:
            assert (station.vendor, station.last_boot_at, station.last_heartbeat_at) == (
                None, None, None,
            )  # fmt: skip


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> Any:
    async with running_server(
        database_url,
        tmp_path,
        station_message_rate=1_000_000.0,  # this test measures answers, not the rate limit
        station_message_burst=1_000_000,
        handshake_burst_per_id=50,
        ws_max_message_bytes=MAX_MESSAGE,
    ) as running:
        yield running


def test_the_generated_frames_cover_every_fault_kind() -> None:
    frames = hostile_frames()
    codes = Counter(f.code for f in frames)
    assert set(codes) == {
        FORMATION, PROTOCOL, TYPE, PROPERTY, OCCURENCE, NOT_IMPLEMENTED, NOT_SUPPORTED, NO_ANSWER,
    }  # fmt: skip
    assert len(frames) >= 500, len(frames)
    assert len({f.frame for f in frames}) == len(frames)  # distinct


@pytest.mark.timeout(3600 if LONG else 120)
async def test_hostile_frames_get_the_right_callerror_and_nothing_is_stored(
    server: RunningServer,
) -> None:
    """OCPP-J 1.6 §4.2.3 (Table 7) and errata §5.1: each malformed frame gets its CALLERROR;
    responses get none; the connection lives; a well-behaved station is answered throughout."""
    distinct = hostile_frames()
    stream = [
        numbered(t, n) for n, t in enumerate(itertools.islice(itertools.cycle(distinct), FRAMES))
    ]
    share = -(-len(stream) // len(HOSTILE_STATIONS))
    tally = Tally()
    stop = asyncio.Event()
    started = time.monotonic()
    good = asyncio.create_task(well_behaved(server, stop))
    try:
        async with asyncio.TaskGroup() as tasks:
            for i, name in enumerate(HOSTILE_STATIONS):
                tasks.create_task(
                    hostile_station(server, name, stream[i * share : (i + 1) * share], tally)
                )
    finally:
        stop.set()
        answered, slowest = await asyncio.wait_for(good, 30)
    duration = time.monotonic() - started
    print(
        f"\nhostile frames: {tally.sent} sent ({len(distinct)} distinct) from"
        f" {len(HOSTILE_STATIONS)} stations in {duration:.1f} s"
        f" ({tally.sent / duration:.0f}/s); wrong answers {tally.wrong}"
    )
    for code, count in sorted(tally.codes.items()):
        print(f"  {code:30} {count}")
    print(f"well-behaved station: {answered} calls answered, slowest {slowest * 1000:.0f} ms")
    assert tally.wrong == 0, "\n".join(tally.mistakes[:20])
    assert tally.sent == FRAMES and "InternalError" not in tally.codes
    assert answered >= 3
    await nothing_stored(server)


# ---- size: oversized messages and deflate bombs -------------------------------------------------


def _closed_with(ws: ClientConnection) -> int | None:
    return ws.close_code


async def test_message_size_limit_1009_exactly_at_the_boundary(server: RunningServer) -> None:
    """A message of the limit is answered; one byte more closes with 1009 (RFC 6455 §7.4.1,
    "message too big"). The station may reconnect at once."""
    head = '[2,"big","Heartbeat",{"x":"'
    tail = '"}]'
    at_limit = head + "a" * (MAX_MESSAGE - len(head) - len(tail)) + tail
    assert len(at_limit) == MAX_MESSAGE
    async with websockets.connect(
        server.ws_url("BIG"),
        subprotocols=OCPP16,
        compression=None,
    ) as ws:
        await ws.send(at_limit)
        assert (await recv(ws))[:3] == [4, "big", PROPERTY]
        await ws.send(at_limit.replace('"a', '"aa', 1))  # one byte over
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
        assert _closed_with(ws) == 1009
    for size in (MAX_MESSAGE * 4, 5 * 1024 * 1024):
        async with websockets.connect(
            server.ws_url("BIG"),
            subprotocols=OCPP16,
            compression=None,
        ) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):  # closed while it sends
                await ws.send(head + "b" * size + tail)
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            assert _closed_with(ws) == 1009
    async with websockets.connect(server.ws_url("BIG"), subprotocols=OCPP16) as ws:
        await ws.send('[2,"ok","Heartbeat",{}]')
        assert (await recv(ws))[:2] == [3, "ok"]


def _reset_peak_rss() -> bool:
    """Reset VmHWM (the peak RSS) to the current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


async def test_deflate_bomb_is_cut_at_the_size_limit(server: RunningServer) -> None:
    """permessage-deflate (RFC 7692): a 48 MiB message compressed into a frame well under the
    limit is closed with 1009 once inflating passes the limit, never inflated whole: the peak
    memory of the process (server and client share it) grows by far less than the bomb."""
    bomb = b" " * (48 * 1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -12)
    wire = len(packer.compress(bomb) + packer.flush(zlib.Z_SYNC_FLUSH))
    assert wire < MAX_MESSAGE, wire  # the frame itself passes the size check
    peak_resettable = _reset_peak_rss()
    before = _rss_kib("VmRSS")
    for _ in range(3):
        async with websockets.connect(server.ws_url("BOMB"), subprotocols=OCPP16) as ws:
            assert ws.response is not None and ws.response.headers.get(
                "Sec-WebSocket-Extensions", ""
            ).startswith("permessage-deflate")
            await ws.send(bomb)
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            assert _closed_with(ws) == 1009
    growth_mib = (_rss_kib("VmHWM") - before) / 1024
    print(
        f"\ndeflate bomb: {len(bomb) >> 20} MiB in a {wire} B frame; peak RSS +{growth_mib:.1f} MiB"
    )
    if peak_resettable:
        assert growth_mib < 24, growth_mib
    async with websockets.connect(server.ws_url("BOMB"), subprotocols=OCPP16) as ws:
        await ws.send('[2,"ok","Heartbeat",{}]')
        assert (await recv(ws))[:2] == [3, "ok"]
