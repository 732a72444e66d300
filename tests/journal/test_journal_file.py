"""The journal file: append with fsync, order, removal of applied entries, a torn tail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kilowatt.journal import file as journal_file
from kilowatt.journal.file import Entry, JournalFile, encode_line


def _entry(seq: int, action: str = "MeterValues") -> Entry:
    return Entry(
        seq=seq,
        station_id=1,
        tenant_id=1,
        charge_point_id="CP1",
        message_id=f"m{seq}",
        action=action,
        payload={"connectorId": 1, "meterValue": []},
        reply={},
        request_hash="h",
        received_at="2026-11-27T23:00:00+00:00",
    )


def test_entries_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    journal = JournalFile(tmp_path / "j.jsonl")
    assert journal.load() == []
    for _ in range(1, 6):
        journal.append(_entry(journal.next_seq))
    journal.close()
    again = JournalFile(tmp_path / "j.jsonl")
    assert [e.seq for e in again.load()] == [1, 2, 3, 4, 5]
    assert again.next_seq == 6


def test_append_fsyncs_before_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_file.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    journal = JournalFile(tmp_path / "j.jsonl")
    journal.load()
    synced.clear()
    journal.append(_entry(1))
    assert synced, "append returned without an fsync"
    assert (tmp_path / "j.jsonl").read_bytes() == encode_line(_entry(1))


def test_removing_applied_entries_keeps_the_rest_and_the_sequence(tmp_path: Path) -> None:
    journal = JournalFile(tmp_path / "j.jsonl")
    journal.load()
    for seq in range(1, 5):
        journal.append(_entry(seq))
    journal.remove_through(2)
    assert [e.seq for e in journal.entries] == [3, 4]
    journal.append(_entry(journal.next_seq))
    journal.close()
    assert [e.seq for e in JournalFile(tmp_path / "j.jsonl").load()] == [3, 4, 5]
    journal = JournalFile(tmp_path / "j.jsonl")
    journal.load()
    journal.remove_through(5)
    assert (tmp_path / "j.jsonl").stat().st_size == 0
    assert journal.next_seq == 6


@pytest.mark.parametrize("cut", [1, 9, 40, -1])
def test_a_torn_last_line_is_dropped_and_earlier_entries_kept(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "j.jsonl"
    good = encode_line(_entry(1)) + encode_line(_entry(2))
    torn = encode_line(_entry(3, "StopTransaction"))[:cut]  # a crash in the middle of a write
    path.write_bytes(good + torn)
    journal = JournalFile(path)
    assert [e.seq for e in journal.load()] == [1, 2]
    assert journal.dropped_tail == len(torn)
    assert path.read_bytes() == good  # cut off on disk too: the next append starts clean
    journal.append(_entry(3))
    journal.close()
    assert [e.seq for e in JournalFile(path).load()] == [1, 2, 3]


def test_a_damaged_line_in_the_middle_is_kept_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    damaged = bytearray(encode_line(_entry(2)))
    damaged[20] ^= 0x01  # a flipped bit: the CRC no longer matches
    path.write_bytes(encode_line(_entry(1)) + bytes(damaged) + encode_line(_entry(3)))
    assert [e.seq for e in JournalFile(path).load()] == [1, 3]
    assert (tmp_path / "j.jsonl.corrupt").read_bytes() == bytes(damaged)
