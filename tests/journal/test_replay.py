"""A node restarted with a non-empty journal replays it, in order and once, before it serves."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from journal.raw_station import RawStation, now_iso
from kilowatt.gateway import replies
from kilowatt.journal.file import Entry, JournalFile
from kilowatt.transactions.models import MeterValueRecord, OcppReply, Transaction

from support.server import running_server


def _entry(
    seq: int, station_id: int, action: str, payload: dict[str, object], reply: dict[str, object]
) -> Entry:
    return Entry(
        seq=seq,
        station_id=station_id,
        tenant_id=1,
        charge_point_id="RP1",
        message_id=f"j{seq}",
        action=action,
        payload=payload,
        reply=reply,
        request_hash=replies.request_hash(payload),
        received_at=datetime.now(UTC).isoformat(),
    )


def _tear(path: Path) -> None:
    with open(path, "ab") as out:
        out.write(b'0badc0de {"seq":55,"station_id"')  # a line torn by the crash


def _meter(tx: int, wh: int) -> dict[str, object]:
    return {
        "connectorId": 1,
        "transactionId": tx,
        "meterValue": [
            {
                "timestamp": now_iso(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ],
    }


async def test_a_journal_left_by_a_crash_is_replayed_at_start_in_order_and_once(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        station = RawStation(server.ws_url("RP1"), "RP1")
        await station.connect()
        await station.boot()
        online_tx = await station.start(1, "TAGA", 1000)
        await station.close()
        async with server.node.sessions() as db:
            row = await db.get(Transaction, online_tx)
            assert row is not None
            station_id = row.station_id
        offline_tx = server.node.gateway.durability.ids.take()  # type: ignore[attr-defined]
    assert offline_tx is not None and offline_tx > online_tx

    # What a node killed during an outage leaves: a stop of an online transaction, a whole
    # offline one (start with an id of the block, meter values, stop), and a torn last line.
    entries = [
        _entry(1, station_id, "MeterValues", _meter(online_tx, 1500), {}),
        _entry(
            2,
            station_id,
            "StopTransaction",
            {"transactionId": online_tx, "meterStop": 1800, "timestamp": now_iso()},
            {},
        ),
        _entry(
            3,
            station_id,
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAGB", "meterStart": 1800, "timestamp": now_iso()},
            {"transactionId": offline_tx, "idTagInfo": {"status": "Accepted"}},
        ),
        *(
            _entry(seq, station_id, "MeterValues", _meter(offline_tx, 1800 + 100 * seq), {})
            for seq in range(4, 54)
        ),
        _entry(
            54,
            station_id,
            "StopTransaction",
            {"transactionId": offline_tx, "meterStop": 9000, "timestamp": now_iso()},
            {},
        ),
    ]
    journal = JournalFile(tmp_path / "journal" / "transactions.jsonl")
    journal.load()
    for entry in entries:
        journal.append(entry)
    journal.close()
    _tear(journal.path)

    started = time.perf_counter()
    async with running_server(database_url, tmp_path) as server:
        durability = server.node.gateway.durability  # type: ignore[attr-defined]
        print(
            f"\nreplayed {durability.last_replay.applied} entries in "
            f"{durability.last_replay.seconds:.2f} s (node up in {time.perf_counter() - started:.2f} s)"
        )
        assert durability.depth == 0  # replayed before the node served anyone
        assert durability.last_replay.applied == len(entries)
        assert journal.path.stat().st_size == 0
        async with server.node.sessions() as db:
            online = await db.get(Transaction, online_tx)
            offline = await db.get(Transaction, offline_tx)
            assert online is not None and online.meter_stop == 1800
            assert offline is not None and offline.meter_start == 1800
            assert offline.meter_stop == 9000 and offline.last_meter_wh == 9000
            assert offline.review_reason and "database was down" in offline.review_reason
            samples = await db.scalar(
                select(func.count())
                .select_from(MeterValueRecord)
                .where(MeterValueRecord.transaction_id == offline_tx)
            )
            assert samples == 50
            assert await db.scalar(select(func.count()).select_from(OcppReply)) == len(entries) + 1
        # The station retries a journaled message after the restart: the stored reply, no row.
        station = RawStation(server.ws_url("RP1"), "RP1")
        await station.connect()
        start = entries[2]
        assert (
            await station.call(start.action, start.payload, message_id=start.message_id)
            == start.reply
        )
        assert await station.call("MeterValues", entries[5].payload, message_id="j6") == {}
        async with server.node.sessions() as db:
            assert await db.scalar(select(func.count()).select_from(Transaction)) == 2
            assert (
                await db.scalar(
                    select(func.count())
                    .select_from(MeterValueRecord)
                    .where(MeterValueRecord.transaction_id == offline_tx)
                )
                == 50
            )
        await station.close()
