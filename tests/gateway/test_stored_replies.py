"""Stored replies: a transaction message retried with its message id gets the same reply and
changes nothing — on the same connection, after a reconnect, and when the node restarted
(DESIGN.md decision 3; OCPP 1.6 §4.7 transaction message retries)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from journal.raw_station import RawStation, now_iso
from kilowatt.transactions.models import MeterValueRecord, OcppReply, Transaction

from support.server import RunningServer, running_server


async def _count(server: RunningServer, model: type, **where: object) -> int:
    async with server.node.sessions() as db:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await db.scalar(query) or 0)


def _station(server: RunningServer, charge_point_id: str) -> RawStation:
    return RawStation(server.ws_url(charge_point_id), charge_point_id)


def _meter(transaction_id: int, wh: int) -> dict[str, object]:
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": now_iso(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ],
    }


async def test_a_retried_start_gets_the_identical_stored_reply_and_one_row(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        station = _station(server, "SR1")
        await station.connect()
        await station.boot()
        start = {"connectorId": 1, "idTag": "UNKNOWN1", "meterStart": 100, "timestamp": now_iso()}
        first = await station.call("StartTransaction", start, message_id="start-1")
        again = await station.call("StartTransaction", start, message_id="start-1")
        assert first is not None and again == first
        await station.close()
        # A reconnect, and the same message once more.
        await station.connect()
        third = await station.call("StartTransaction", start, message_id="start-1")
        assert third == first
        assert await _count(server, Transaction) == 1
        assert await _count(server, OcppReply, message_id="start-1") == 1
        assert server.node.metrics.replies_repeated._value.get() == 2
        await station.close()


async def test_retried_meter_values_and_stop_store_nothing_twice_even_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        station = _station(server, "SR2")
        await station.connect()
        await station.boot()
        tx = await station.start(1, "UNKNOWN2", 0)
        meter = _meter(tx, 500)
        assert await station.call("MeterValues", meter, message_id="mv-1") == {}
        assert await station.call("MeterValues", meter, message_id="mv-1") == {}
        assert await _count(server, MeterValueRecord, transaction_id=tx) == 1
        stop = {"transactionId": tx, "meterStop": 900, "timestamp": now_iso(), "idTag": "UNKNOWN2"}
        stopped = await station.call("StopTransaction", stop, message_id="stop-1")
        await station.close()
    # Another node life (the stored replies are in the database, not in memory).
    async with running_server(database_url, tmp_path) as server:
        station = _station(server, "SR2")
        await station.connect()
        assert await station.call("StopTransaction", stop, message_id="stop-1") == stopped
        assert await station.call("MeterValues", meter, message_id="mv-1") == {}
        assert await _count(server, MeterValueRecord, transaction_id=tx) == 1
        async with server.node.sessions() as db:
            row = await db.get(Transaction, tx)
            assert row is not None and row.meter_stop == 900 and row.review_reason is None
        await station.close()


async def test_a_reused_message_id_with_another_payload_is_a_new_message(
    database_url: str, tmp_path: Path
) -> None:
    """A station whose message counter restarted reuses ids: the payload tells them apart."""
    async with running_server(database_url, tmp_path) as server:
        station = _station(server, "SR3")
        await station.connect()
        await station.boot()
        tx = await station.start(1, "UNKNOWN3", 0)
        await station.call("MeterValues", _meter(tx, 100), message_id="1")
        await station.call("MeterValues", _meter(tx, 200), message_id="1")
        assert await _count(server, MeterValueRecord, transaction_id=tx) == 2
        assert await _count(server, OcppReply, message_id="1") == 1
        await station.close()
