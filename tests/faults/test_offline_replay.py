"""Offline replay over real WebSockets: a station that was offline for hours delivers its queue
at once (issue 8, item 5).

OCPP 1.6 §4.8 (transaction-related messages) and §5.x: a station queues StartTransaction,
MeterValues (with transactionId) and StopTransaction while offline and delivers them in order
when back, with their original timestamps. The session's times, energy and bill come from
those timestamps, not from when the messages arrived. A StopTransaction that comes before its
StartTransaction (the station lost the start's answer and stopped with transactionId -1, or
delivers the start later) is kept and applied when the start arrives; billed once.

The tariff is the worked example of tests/billing/test_billing_flows.py:
    FLAT 1.00; ENERGY 0.40/kWh; TIME 1.20/h; PARKING_TIME 6.00/h after 10 min grace; VAT 19 %.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from faults.test_transaction_faults import (
    LONG,
    assert_nothing_lost,
    count,
    iso,
    raw_station,
    rows,
    start_payload,
)
from kilowatt.billing.models import Payment, Tariff, TariffAssignment
from kilowatt.billing.service import scope_key
from kilowatt.sessions.models import ChargingSession
from kilowatt.tenants import service as tenants
from kilowatt.transactions.models import MeterValueRecord, Transaction, UnmatchedStop

from support.accounts import make_account
from support.server import RunningServer, running_server

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 10,
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00"},
                {"type": "ENERGY", "price": "0.40", "step_size": 1},
                {"type": "TIME", "price": "1.20", "step_size": 1},
                {"type": "PARKING_TIME", "price": "6.00", "step_size": 1},
            ]
        }
    ],
}


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path) as running:
        yield running


async def add_tariff(server: RunningServer) -> None:
    async with server.node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        tariff = Tariff(tenant_id=tenant.id, name="Worked", currency="EUR", spec=TARIFF)
        db.add(tariff)
        await db.flush()
        db.add(TariffAssignment(tenant_id=tenant.id, tariff_id=tariff.id, scope_key=scope_key()))
        await db.commit()


def meter_values(
    tx_id: int, at: datetime, wh: int, connector: int = 1
) -> tuple[str, dict[str, Any]]:
    return (
        "MeterValues",
        {
            "connectorId": connector,
            "transactionId": tx_id,
            "meterValue": [
                {
                    "timestamp": iso(at),
                    "sampledValue": [
                        {"value": str(wh), "context": "Sample.Periodic", "unit": "Wh"},
                        {"value": "6000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        },
    )


def replay_queue(tx_id: int, t0: datetime, connector: int = 1) -> list[tuple[str, dict[str, Any]]]:
    """What the station queued after its start: 6 kW for 2 h (a value every 5 min, 1000 →
    13000 Wh), then 30 min plugged in, not charging; the stop at T0+150 min with its data."""
    queue = [
        meter_values(tx_id, t0 + timedelta(minutes=5 * i), 1000 + 500 * i, connector)
        for i in range(1, 25)
    ]
    queue += [
        meter_values(tx_id, t0 + timedelta(minutes=120 + 5 * i), 13000, connector)
        for i in range(1, 7)
    ]
    end = t0 + timedelta(minutes=150)
    queue.append(
        (
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 13000,
                "timestamp": iso(end),
                "reason": "EVDisconnected",
                "transactionData": [
                    {
                        "timestamp": iso(end),
                        "sampledValue": [{"value": "13000", "context": "Transaction.End"}],
                    }
                ],
            },
        )
    )
    return queue


# energy 12 kWh x 0.40 = 4.80; time 2 h x 1.20 = 2.40; idle (30 - 10) min x 6.00/h = 2.00;
# fee 1.00; subtotal 10.20; VAT 19 % = 1.938 → 1.94; total 12.14
REPLAY_BILL = {
    "energy": "4.80",
    "time": "2.40",
    "parking": "2.00",
    "flat": "1.00",
    "total": "12.14",
}


async def test_hours_of_queued_messages_are_billed_from_the_station_clock(
    server: RunningServer,
) -> None:
    """A start from 6 h ago, then 30 MeterValues and the stop (all hours old) arriving at once:
    the session runs T0 … T0+150 min by the station's clock, 12000 Wh, billed once (12.14)."""
    await add_tariff(server)
    await make_account(server, "replay@example.com", cards=("REPLAY-1",))
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    async with raw_station(server, "REPLAY1") as station:
        tx_id = (await station.result("StartTransaction", start_payload("REPLAY-1", t0)))[
            "transactionId"
        ]
        queue = replay_queue(tx_id, t0)
        answers = await station.pipelined(queue)
    assert [frame[0] for frame in answers] == [3] * len(queue), answers
    figures = await assert_nothing_lost(server)
    assert figures["meter_values"] == 30 * 2 + 1 and figures["payments"] == 1
    (tx,) = await rows(server, Transaction)
    assert (tx.start_timestamp, tx.stop_timestamp) == (t0, t0 + timedelta(minutes=150))
    assert (tx.meter_start, tx.meter_stop, tx.review_reason) == (1000, 13000, None)
    (session,) = await rows(server, ChargingSession)
    assert (session.requested_at, session.started_at, session.ended_at) == (
        t0,
        t0,
        t0 + timedelta(minutes=150),
    )
    assert (session.energy_wh, session.cost_status) == (12000, "final")
    breakdown = session.cost_breakdown or {}
    assert {key: breakdown[key] for key in REPLAY_BILL} == REPLAY_BILL
    assert session.cost_total == Decimal("12.14")


async def test_a_stop_before_its_start_is_applied_when_the_start_arrives(
    server: RunningServer,
) -> None:
    """The station lost the start's answer: it sent MeterValues and StopTransaction with
    transactionId -1, then its StartTransaction. The stop is kept (unmatched), applied when the
    start comes, with the values sent for -1; billed once, even when everything is repeated.
    8000 Wh over 1 h: 3.20 + 1.20 + 1.00 = 5.40 + VAT 1.03 = 6.43."""
    await add_tariff(server)
    await make_account(server, "early@example.com", cards=("EARLY-1",))
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    stop = {
        "transactionId": -1,
        "idTag": "EARLY-1",
        "meterStop": 9000,
        "timestamp": iso(t0 + timedelta(hours=1)),
        "reason": "Local",
        "transactionData": [
            {"timestamp": iso(t0 + timedelta(hours=1)), "sampledValue": [{"value": "9000"}]}
        ],
    }
    async with raw_station(server, "EARLY1") as station:
        early = await station.pipelined(
            [meter_values(-1, t0 + timedelta(minutes=30), 5000), ("StopTransaction", stop)]
        )
        assert [frame[0] for frame in early] == [3, 3], early
        (kept,) = await rows(server, UnmatchedStop)
        assert await rows(server, Transaction) == []
        started = await station.result("StartTransaction", start_payload("EARLY-1", t0))
        (billed,) = await rows(server, ChargingSession)
        # The station's retries of everything: nothing new, nothing billed twice.
        again = await station.pipelined(
            [("StopTransaction", stop), ("StartTransaction", start_payload("EARLY-1", t0))]
        )
    assert [frame[0] for frame in again] == [3, 3] and again[1][2] == started, again
    figures = await assert_nothing_lost(server)
    assert (figures["transactions"], figures["sessions"], figures["payments"]) == (1, 1, 1)
    assert figures["unmatched_stops"] == 1  # kept as received, for the audit
    (tx,) = await rows(server, Transaction)
    assert tx.id == started["transactionId"]
    assert (tx.meter_stop, tx.stop_timestamp, tx.stop_received_at) == (
        9000,
        t0 + timedelta(hours=1),
        kept.received_at,
    )
    linked = await count(
        server,
        select(func.count(MeterValueRecord.id)).where(MeterValueRecord.transaction_id == tx.id),
    )
    assert linked == 3  # the -1 MeterValues (energy, power) and the stop's transactionData
    (session,) = await rows(server, ChargingSession)
    assert (session.state, session.energy_wh, session.ended_at) == (
        "completed",
        8000,
        t0 + timedelta(hours=1),
    )
    assert (session.cost_status, session.cost_total) == ("final", Decimal("6.43"))
    assert session.billed_at == billed.billed_at
    assert "came before its start" in (session.warnings or "")


async def test_a_stop_whose_start_never_comes_is_kept_and_left_alone(server: RunningServer) -> None:
    """A StopTransaction for -1 whose start was lost for good stays unmatched (with its data,
    for an operator); a later, live start on that station does not take it."""
    await add_tariff(server)
    await make_account(server, "lost@example.com", cards=("LOST-1",))
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with raw_station(server, "LOST1") as station:
        stop = {"transactionId": -1, "meterStop": 7000, "timestamp": iso(t0), "idTag": "LOST-1"}
        assert (await station.call("StopTransaction", stop))[0] == 3
        live = await station.result(
            "StartTransaction",
            start_payload("LOST-1", datetime.now(UTC).replace(microsecond=0), 7000),
        )
    figures = await assert_nothing_lost(server)
    assert (figures["transactions"], figures["unmatched_stops"], figures["payments"]) == (1, 1, 0)
    (tx,) = await rows(server, Transaction)
    assert tx.id == live["transactionId"] and tx.stop_received_at is None
    (session,) = await rows(server, ChargingSession)
    assert session.state == "active"
    assert await rows(server, Payment) == []


@pytest.mark.skipif(not LONG, reason="long fault run: set KILOWATT_LONG_FAULTS=1")
@pytest.mark.timeout(900)
async def test_long_replay_of_many_stations(server: RunningServer) -> None:
    """10 stations, each replaying 8 sessions of 2.5 h (32 messages each) queued over days,
    all stations at once; every session is billed once with the worked figure. Prints figures."""
    await add_tariff(server)
    stations, per_station = 10, 8
    cards = tuple(f"LREPLAY-{n}" for n in range(stations))
    await make_account(server, "longreplay@example.com", cards=cards)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)

    async def replay(n: int) -> int:
        sent = 0
        async with raw_station(server, f"LREPLAY{n}") as station:
            for k in range(per_station):
                t0 = base + timedelta(hours=3 * k, minutes=n)
                started = await station.result("StartTransaction", start_payload(cards[n], t0))
                answers = await station.pipelined(replay_queue(started["transactionId"], t0))
                assert {frame[0] for frame in answers} == {3}
                sent += 1 + len(answers)
        return sent

    began = time.perf_counter()
    sent = sum(await asyncio.gather(*(replay(n) for n in range(stations))))
    elapsed = time.perf_counter() - began
    figures = await assert_nothing_lost(server)
    sessions = await rows(server, ChargingSession)
    expected = stations * per_station
    wrong = [s.id for s in sessions if s.cost_total != Decimal("12.14") or s.energy_wh != 12000]
    lost = expected - figures["transactions"] + (expected * 61 - figures["meter_values"])
    print(
        f"\nlong replay: messages sent {sent} in {elapsed:.1f} s ({sent / elapsed:.0f}/s),"
        f" sessions {len(sessions)}, payments {figures['payments']},"
        f" meter rows {figures['meter_values']}, wrong bills {len(wrong)}, lost {lost}"
    )
    assert len(sessions) == figures["payments"] == expected
    assert wrong == [] and lost == 0
