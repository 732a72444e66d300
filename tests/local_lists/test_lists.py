"""The lists without I/O: entries from tokens, differences, chunking within the station's
limits (OCPP 1.6 §5.15, §6.41, errata 3.52: versions 0 and -1 are never sent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kilowatt.local_lists import lists
from kilowatt.local_lists.lists import DIFFERENTIAL, FULL

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class Tok:
    id_tag: str
    status: str = "Accepted"
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


def test_entries_carry_status_expiry_and_parent() -> None:
    tokens = [
        Tok("B", "Blocked"),
        Tok("A", expiry_date=NOW + timedelta(days=1), parent_id_tag="FLEET"),
        Tok("OLD", expiry_date=NOW - timedelta(seconds=1)),
    ]
    entries, left_out = lists.build_entries(tokens, NOW)
    assert left_out == 0
    assert entries == {
        "A": {"status": "Accepted", "expiryDate": "2026-11-28T12:00:00Z", "parentIdTag": "FLEET"},
        "B": {"status": "Blocked"},
        "OLD": {"status": "Expired", "expiryDate": "2026-11-27T11:59:59Z"},
    }


def test_a_list_too_long_for_the_station_keeps_accepted_tokens_first() -> None:
    tokens = [Tok("A", "Blocked"), Tok("B"), Tok("C", "Invalid"), Tok("D")]
    entries, left_out = lists.build_entries(tokens, NOW, max_length=3)
    assert sorted(entries) == ["A", "B", "D"] and left_out == 1


def test_diff_adds_changes_and_deletes_without_id_tag_info() -> None:
    current = {"A": {"status": "Accepted"}, "B": {"status": "Accepted"}}
    desired = {"A": {"status": "Accepted"}, "B": {"status": "Blocked"}, "C": {"status": "Accepted"}}
    assert lists.diff(current, desired) == [
        {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "C", "idTagInfo": {"status": "Accepted"}},
    ]
    assert lists.diff(desired, current) == [
        {"idTag": "B", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "C"},
    ]
    changes = lists.diff(current, desired)
    assert lists.apply(current, DIFFERENTIAL, changes) == desired
    assert lists.apply(desired, DIFFERENTIAL, lists.diff(desired, {})) == {}


def test_a_full_list_beyond_send_local_list_max_length_is_full_then_differentials() -> None:
    desired = {f"T{i:02d}": {"status": "Accepted"} for i in range(45)}
    updates = lists.full_updates(desired, 7, chunk=20)
    assert [(u.update_type, u.version, len(u.data)) for u in updates] == [
        (FULL, 7, 20),
        (DIFFERENTIAL, 8, 20),
        (DIFFERENTIAL, 9, 5),
    ]
    held: lists.Entries = {"STALE": {"status": "Accepted"}}
    for update in updates:
        held = lists.apply(held, update.update_type, update.data)
    assert held == desired
    assert all("idTagInfo" in item for u in updates for item in u.data)
    assert lists.full_updates({}, 1, chunk=20)[0].payload() == {
        "listVersion": 1,
        "updateType": FULL,
        "localAuthorizationList": [],
    }


def test_versions_are_never_zero_or_minus_one() -> None:
    assert lists.next_version(0, -1) == 1
    assert lists.next_version(None, None) == 1
    assert lists.next_version(4, 9) == 10
