"""Transaction faults over real WebSockets: duplicate starts and stops, unknown transaction ids,
integer bounds (issue 8, item 5).

The station side speaks raw OCPP-J frames, so a test chooses every message id and can pipeline
many CALLs at once. Every test ends with "nothing lost": the acknowledged transaction messages
are rows, each session is billed exactly once, and a meter that went backwards is flagged.

OCPP 1.6 §4.8 / §5.x: transaction-related messages are retried by the station until they are
acknowledged, so the central system must take a repeat (under any message id) as the same
message; StopTransaction for an id it does not know is still answered (errata: -1).
KILOWATT_LONG_FAULTS=1 runs a long variant (thousands of messages) that prints its figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from sqlalchemy import func, select

from kilowatt.billing.models import Payment, Tariff, TariffAssignment
from kilowatt.billing.service import scope_key
from kilowatt.sessions.models import ChargingSession
from kilowatt.tenants import service as tenants
from kilowatt.transactions.models import MeterValueRecord, Transaction, UnmatchedStop

from support.accounts import make_account
from support.server import RunningServer, running_server

BOUND = 30
LONG = os.environ.get("KILOWATT_LONG_FAULTS") == "1"
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1}]}],
}
# What a fault may be answered with: never InternalError (nor a dropped connection).
FAULT_CODES = {
    "PropertyConstraintViolation",
    "TypeConstraintViolation",
    "OccurenceConstraintViolation",
    "FormationViolation",
}
_ids = itertools.count(1)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class RawStation:
    """One station connection speaking raw OCPP-J: CALLs with chosen ids, sent without waiting
    for earlier answers; the central system's own CALLs are answered Accepted."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self.commands: list[list[Any]] = []

    async def read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            if frame[0] == 2:
                self.commands.append(frame)
                answer = {"status": "Accepted"} if frame[2].startswith("Remote") else {}
                await self.ws.send(json.dumps([3, frame[1], answer]))
            elif (future := self.waiting.pop(frame[1], None)) is not None:
                future.set_result(frame)

    async def send(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> asyncio.Future[list[Any]]:
        message_id = message_id or f"m{next(_ids)}"
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.waiting[message_id] = future
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        return future

    async def call(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> list[Any]:
        """Send one CALL and return the answering frame ([3, id, payload] or [4, id, code, …])."""
        future = await self.send(action, payload, message_id)
        async with asyncio.timeout(BOUND):
            return await future

    async def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        frame = await self.call(action, payload)
        assert frame[0] == 3, frame
        body: dict[str, Any] = frame[2]
        return body

    async def pipelined(self, calls: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
        """Send every CALL at once, in order; their answers in the same order."""
        futures = [await self.send(action, payload) for action, payload in calls]
        async with asyncio.timeout(BOUND + len(calls) / 20):
            return list(await asyncio.gather(*futures))


@contextlib.asynccontextmanager
async def raw_station(
    server: RunningServer, cp_id: str, *, boot: bool = True
) -> AsyncIterator[RawStation]:
    async with websockets.connect(
        server.ws_url(cp_id),
        subprotocols=["ocpp1.6"],
        open_timeout=BOUND,  # type: ignore[list-item]
    ) as ws:
        station = RawStation(ws)
        reader = asyncio.create_task(station.read())
        try:
            if boot:
                booted = await station.result(
                    "BootNotification", {"chargePointVendor": "Faults", "chargePointModel": "E2"}
                )
                assert booted["status"] == "Accepted", booted
            yield station
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def add_tariff(server: RunningServer) -> None:
    async with server.node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        tariff = Tariff(tenant_id=tenant.id, name="Faults", currency="EUR", spec=TARIFF)
        db.add(tariff)
        await db.flush()
        db.add(TariffAssignment(tenant_id=tenant.id, tariff_id=tariff.id, scope_key=scope_key()))
        await db.commit()


async def count(server: RunningServer, query: Any) -> int:
    async with server.node.sessions() as db:
        return int(await db.scalar(query) or 0)


async def rows(server: RunningServer, model: Any, *where: Any) -> list[Any]:
    async with server.node.sessions() as db:
        return list((await db.scalars(select(model).where(*where).order_by(model.id))).all())


async def assert_nothing_lost(server: RunningServer) -> dict[str, int]:
    """The invariants of every test: stopped sessions are billed once (or held for review),
    a meter that went backwards is flagged, no payment is doubled. Returns the row counts."""
    transactions = await rows(server, Transaction)
    sessions = await rows(server, ChargingSession)
    payments = await rows(server, Payment)
    by_tx = {tx.id: tx for tx in transactions}
    for tx in transactions:
        if tx.meter_stop is not None and tx.meter_stop < tx.meter_start:
            assert tx.review_reason and "backwards" in tx.review_reason, tx.id
    linked = [s.transaction_id for s in sessions if s.transaction_id is not None]
    assert len(linked) == len(set(linked)), "two sessions on one transaction"
    for session in sessions:
        tx = by_tx.get(session.transaction_id) if session.transaction_id else None
        if tx is not None and tx.stop_received_at is not None:
            assert session.state == "completed", (session.id, session.state)
            assert session.cost_status in ("final", "review"), (session.id, session.cost_status)
            if session.cost_status == "final":
                assert session.billed_at is not None and session.cost_total is not None
    paid = [p.session_id for p in payments]
    assert len(paid) == len(set(paid)), "a session paid twice"
    return {
        "transactions": len(transactions),
        "sessions": len(sessions),
        "payments": len(payments),
        "unmatched_stops": await count(server, select(func.count(UnmatchedStop.id))),
        "meter_values": await count(server, select(func.count(MeterValueRecord.id))),
    }


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        yield running


def start_payload(
    id_tag: str, at: datetime, meter_start: int = 1000, connector: int = 1
) -> dict[str, Any]:
    return {
        "connectorId": connector,
        "idTag": id_tag,
        "meterStart": meter_start,
        "timestamp": iso(at),
    }


# ---- 1. the same StartTransaction many times -------------------------------------------------


async def test_the_same_start_50_times_at_once_is_one_transaction(server: RunningServer) -> None:
    """50 copies of one StartTransaction under distinct message ids, pipelined on one
    connection: one transaction, one session, every reply with the same transactionId (OCPP
    1.6 §4.8). Then a second start sent 10 times on each of 4 connections that replace each
    other while copies are still being answered: again one transaction, one id."""
    await add_tariff(server)
    await make_account(server, "dup@example.com", cards=("DUP-1", "DUP-2"))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    payload = start_payload("DUP-1", at)
    async with raw_station(server, "DUP1") as station:
        answers = await station.pipelined([("StartTransaction", payload)] * 50)
    ids = {frame[2]["transactionId"] for frame in answers if frame[0] == 3}
    assert [frame[0] for frame in answers] == [3] * 50, answers
    assert len(ids) == 1
    assert {frame[2]["idTagInfo"]["status"] for frame in answers} == {"Accepted"}
    # A second start, resent over connections that replace each other while copies are still
    # in flight (the station reconnected and resent what had no answer yet).
    second = start_payload("DUP-2", at + timedelta(minutes=1), connector=2)
    in_flight: list[asyncio.Future[list[Any]]] = []
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(4):
            station = await stack.enter_async_context(raw_station(server, "DUP1", boot=False))
            in_flight += [await station.send("StartTransaction", second) for _ in range(10)]
        async with asyncio.timeout(BOUND):
            last = await asyncio.gather(*in_flight[-10:])
        # What the replaced connections answered before they closed (the rest was never read).
        replied = last + [f.result() for f in in_flight[:-10] if f.done()]
        assert {frame[0] for frame in replied} == {3}, replied
        second_ids = {frame[2]["transactionId"] for frame in replied}
        assert len(second_ids) == 1 and second_ids != ids, second_ids
        for tx_id, minutes in ((*ids, 4), (*second_ids, 5)):
            stop = {
                "transactionId": tx_id,
                "meterStop": 3000,
                "timestamp": iso(at + timedelta(minutes=minutes)),
            }
            await station.result("StopTransaction", stop)
    figures = await assert_nothing_lost(server)
    assert (figures["transactions"], figures["sessions"], figures["payments"]) == (2, 2, 2)
    sessions = await rows(server, ChargingSession)
    assert [(s.transaction_id, s.energy_wh, s.cost_status) for s in sessions] == [
        (*ids, 2000, "final"),
        (*second_ids, 2000, "final"),
    ]


async def test_the_same_start_on_two_nodes_sharing_postgresql(
    database_url: str, db_backend: str, tmp_path: Path
) -> None:
    """Two nodes on one PostgreSQL database, the station's copies racing on both: the unique
    start key decides, the loser answers with the winner's transactionId (no InternalError)."""
    if db_backend != "postgresql":
        pytest.skip("two nodes share one database on PostgreSQL only (SQLite: one node)")
    async with (
        running_server(database_url, tmp_path / "a") as node_a,
        running_server(database_url, tmp_path / "b") as node_b,
    ):
        await add_tariff(node_a)
        await make_account(node_a, "two@example.com", cards=("TWO-1",))
        async with raw_station(node_a, "TWO1") as first, raw_station(node_b, "TWO1") as second:
            for round_ in range(5):  # five distinct starts, each raced 2 x 10 times
                at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, minutes=round_)
                calls = [("StartTransaction", start_payload("TWO-1", at, 100 * round_))] * 10
                a, b = await asyncio.gather(first.pipelined(calls), second.pipelined(calls))
                assert {f[0] for f in a + b} == {3}, a + b
                assert len({f[2]["transactionId"] for f in a + b}) == 1
        figures = await assert_nothing_lost(node_a)
    assert figures["transactions"] == 5


# ---- 2. the same StopTransaction many times --------------------------------------------------


async def test_a_repeated_stop_is_billed_once_with_the_same_reply(server: RunningServer) -> None:
    """StopTransaction repeated under new and reused message ids, before and after the bill
    (and after the driver had already ended the session from the API): one final bill, one
    payment, identical replies; a different second stop is flagged, not billed again."""
    await add_tariff(server)
    driver = await make_account(server, "stop@example.com", cards=("STOP-1",))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    async with raw_station(server, "STOP1") as station:
        tx_id = (await station.result("StartTransaction", start_payload("STOP-1", at)))[
            "transactionId"
        ]
        await station.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [
                    {
                        "timestamp": iso(at + timedelta(minutes=10)),
                        "sampledValue": [{"value": "4000"}],
                    }
                ],
            },
        )
        (session,) = await rows(server, ChargingSession)
        async with driver.client(server) as client:  # the driver ends it first: provisional bill
            ended = await client.post(f"/api/v1/sessions/{session.id}/end")
        assert ended.status_code == 200, ended.text
        (provisional,) = await rows(server, ChargingSession)
        assert provisional.state == "completed"
        stop = {
            "transactionId": tx_id,
            "idTag": "STOP-1",
            "meterStop": 6000,
            "timestamp": iso(at + timedelta(minutes=20)),
            "reason": "Remote",
        }
        concurrent = await station.pipelined([("StopTransaction", stop)] * 5)
        (billed,) = await rows(server, ChargingSession)
        reused = [
            await station.call("StopTransaction", stop, message_id="stop-1") for _ in range(3)
        ]
        later = await station.pipelined([("StopTransaction", stop)] * 5)
        different = await station.result("StopTransaction", {**stop, "meterStop": 9000})
    replies = [frame[2] for frame in concurrent + reused + later]
    assert [frame[0] for frame in concurrent + reused + later] == [3] * 13
    assert all(reply == replies[0] for reply in replies), replies
    assert different == replies[0]
    figures = await assert_nothing_lost(server)
    assert (figures["transactions"], figures["sessions"], figures["payments"]) == (1, 1, 1)
    (final,) = await rows(server, ChargingSession)
    assert (final.cost_status, final.energy_wh, final.reconciled) == ("final", 5000, True)
    assert final.cost_total == billed.cost_total and final.billed_at == billed.billed_at
    (tx,) = await rows(server, Transaction)
    assert tx.meter_stop == 6000 and "second, different StopTransaction" in (tx.review_reason or "")
    (payment,) = await rows(server, Payment)
    assert payment.amount_due == final.cost_total


# ---- 3. unknown transaction ids, a meter that went backwards --------------------------------


async def test_unknown_transaction_ids_are_stored_and_answered(server: RunningServer) -> None:
    """MeterValues and StopTransaction for transaction ids we never issued (and for -1, OCPP
    1.6 errata) are answered and stored (unlinked values, unmatched stops), never refused;
    a repeat of such a stop is kept once."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    sample = [
        {
            "timestamp": iso(at),
            "sampledValue": [
                {"value": "1234"},
                {"value": "7", "measurand": "SoC", "unit": "Percent"},
            ],
        }
    ]
    async with raw_station(server, "UNK1") as station:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": sample})
            for tx_id in (-1, 424242, 0)
        ]
        calls += [
            (
                "StopTransaction",
                {
                    "transactionId": tx_id,
                    "meterStop": 5000,
                    "timestamp": iso(at),
                    "transactionData": sample,
                },
            )
            for tx_id in (-1, 424242, -1)
        ]
        answers = await station.pipelined(calls)
    assert [frame[0] for frame in answers] == [3] * 6, answers
    unlinked = await count(
        server,
        select(func.count(MeterValueRecord.id)).where(MeterValueRecord.transaction_id.is_(None)),
    )
    assert unlinked == 3 * 2 + 2 * 2  # three MeterValues, two kept stops (the -1 repeat once)
    stops = await rows(server, UnmatchedStop)
    assert sorted(s.transaction_id for s in stops) == [-1, 424242]
    assert {(s.meter_stop, s.timestamp) for s in stops} == {(5000, at)}
    figures = await assert_nothing_lost(server)
    assert figures["transactions"] == 0


async def test_a_stop_below_the_start_is_flagged_not_refused(server: RunningServer) -> None:
    """meterStop < meterStart is acknowledged and kept, the transaction flagged and its
    session held for billing review (DESIGN.md decision 3): nothing is billed from it."""
    await add_tariff(server)
    await make_account(server, "back@example.com", cards=("BACK-1",))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    async with raw_station(server, "BACK1") as station:
        tx_id = (await station.result("StartTransaction", start_payload("BACK-1", at, 50_000)))[
            "transactionId"
        ]
        stop = {
            "transactionId": tx_id,
            "meterStop": 40_000,
            "timestamp": iso(at + timedelta(minutes=5)),
        }
        reply = await station.call("StopTransaction", stop)
    assert reply[0] == 3, reply
    await assert_nothing_lost(server)
    (tx,) = await rows(server, Transaction)
    assert tx.meter_stop == 40_000 and "went backwards" in (tx.review_reason or "")
    (session,) = await rows(server, ChargingSession)
    assert (session.state, session.cost_status, session.cost_total) == ("completed", "review", None)
    assert await rows(server, Payment) == []


# ---- 5. integer bounds -----------------------------------------------------------------------

BIG = (2**31, 2**63, 2**64 + 1, -(2**31) - 1)


def bound_cases(at: datetime) -> list[tuple[str, dict[str, Any]]]:
    start = start_payload("BOUND-1", at)
    stop = {"transactionId": 1, "meterStop": 2000, "timestamp": iso(at)}
    values = {
        "connectorId": 1,
        "meterValue": [{"timestamp": iso(at), "sampledValue": [{"value": "1"}]}],
    }
    cases: list[tuple[str, dict[str, Any]]] = []
    for big in BIG:
        cases += [
            ("StartTransaction", {**start, "connectorId": big}),
            ("StartTransaction", {**start, "meterStart": big}),
            ("StartTransaction", {**start, "reservationId": big}),
            ("StopTransaction", {**stop, "meterStop": big}),
            ("StopTransaction", {**stop, "transactionId": big}),
            ("MeterValues", {**values, "connectorId": big}),
            ("MeterValues", {**values, "transactionId": big}),
        ]
    cases.append(("StartTransaction", {**start, "connectorId": -1}))
    cases.append(("MeterValues", {**values, "connectorId": -1}))
    return cases


async def test_integers_beyond_the_columns_get_a_callerror_not_internal_error(
    server: RunningServer,
) -> None:
    """connectorId, meterStart, meterStop, reservationId, transactionId beyond 32 bits (and
    beyond 2**63, 2**64) or a negative connectorId: PropertyConstraintViolation before any
    write, never InternalError or a database overflow; the connection goes on, and a register
    value too large for its column is kept raw. Negative meter values are stored and flagged."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    cases = bound_cases(at)
    async with raw_station(server, "BOUND1") as station:
        answers = await station.pipelined(cases)
        huge = {
            "timestamp": iso(at),
            "sampledValue": [{"value": "1e40"}, {"value": "99999999999999999999"}],
        }
        kept = await station.call("MeterValues", {"connectorId": 1, "meterValue": [huge]})
        negative = await station.result("StartTransaction", start_payload("BOUND-1", at, -5))
        below = await station.call(
            "StopTransaction",
            {"transactionId": negative["transactionId"], "meterStop": -9, "timestamp": iso(at)},
        )
        alive = await station.call("Heartbeat", {})
    for (action, payload), frame in zip(cases, answers, strict=True):
        assert frame[0] == 4 and frame[2] in FAULT_CODES, (action, payload, frame)
    assert kept[0] == 3 and below[0] == 3 and alive[0] == 3, (kept, below, alive)
    raw = await rows(server, MeterValueRecord, MeterValueRecord.transaction_id.is_(None))
    assert sorted(r.raw_value for r in raw) == ["1e40", "99999999999999999999"]
    assert {r.value for r in raw} == {None}
    await assert_nothing_lost(server)
    (tx,) = await rows(server, Transaction)
    assert "negative meterStart" in (tx.review_reason or "") and "backwards" in (
        tx.review_reason or ""
    )


# ---- the long variant ------------------------------------------------------------------------


@pytest.mark.skipif(not LONG, reason="long fault run: set KILOWATT_LONG_FAULTS=1")
@pytest.mark.timeout(900)
async def test_long_duplicates_from_many_stations(server: RunningServer) -> None:
    """Thousands of messages: 10 stations x 20 sessions, each start sent 5 times, 10 meter
    values, each stop sent 3 times, all pipelined per station; prints the figures."""
    await add_tariff(server)
    stations, per_station = 10, 20
    cards = tuple(f"LONG-{n}" for n in range(stations))
    await make_account(server, "long@example.com", cards=cards, max_concurrent_transactions=1000)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    sent = 0

    async def run(n: int) -> int:
        messages = 0
        async with raw_station(server, f"LONG{n}") as station:
            for k in range(per_station):
                at = base + timedelta(hours=k)
                starts = await station.pipelined(
                    [("StartTransaction", start_payload(cards[n], at))] * 5
                )
                messages += 5
                assert len({f[2]["transactionId"] for f in starts}) == 1, starts
                tx_id = starts[0][2]["transactionId"]
                calls: list[tuple[str, dict[str, Any]]] = [
                    (
                        "MeterValues",
                        {
                            "connectorId": 1,
                            "transactionId": tx_id,
                            "meterValue": [
                                {
                                    "timestamp": iso(at + timedelta(minutes=5 * i)),
                                    "sampledValue": [{"value": str(1000 + 100 * i)}],
                                }
                            ],
                        },
                    )
                    for i in range(1, 11)
                ]
                stop = {
                    "transactionId": tx_id,
                    "meterStop": 2100,
                    "timestamp": iso(at + timedelta(minutes=55)),
                }
                calls += [("StopTransaction", stop)] * 3
                answers = await station.pipelined(calls)
                messages += len(calls)
                assert {f[0] for f in answers} == {3}
        return messages

    began = time.perf_counter()
    sent = sum(await asyncio.gather(*(run(n) for n in range(stations))))
    elapsed = time.perf_counter() - began
    figures = await assert_nothing_lost(server)
    expected = stations * per_station
    lost = expected - figures["transactions"] + (expected * 10 - figures["meter_values"])
    print(
        f"\nlong duplicates: messages sent {sent} in {elapsed:.1f} s ({sent / elapsed:.0f}/s),"
        f" transactions {figures['transactions']}, sessions {figures['sessions']},"
        f" payments {figures['payments']}, meter rows {figures['meter_values']}, lost {lost}"
    )
    assert figures["transactions"] == figures["sessions"] == figures["payments"] == expected
    assert lost == 0
