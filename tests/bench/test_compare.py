"""bench/compare.py end to end, shortened: both systems served as their own processes on fresh
SQLite files, driven by the same load, figures and the ratio to the reference reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FAST = ["--no-postgres"]
COMPARE = Path(__file__).resolve().parents[2] / "bench" / "compare.py"


@pytest.mark.timeout(300)
def test_compare_reports_both_systems_and_the_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(COMPARE), "--stations", "3", "--seconds", "2", "--runs", "1", *FAST],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout[done.stdout.index("\n[") :])
    by_target = {row["target"]: row for row in rows}
    assert set(by_target) == {"kilowatt / sqlite", "reference / sqlite"}
    kilowatt, reference = by_target["kilowatt / sqlite"], by_target["reference / sqlite"]
    for row in (kilowatt, reference):
        assert row["errors"] == 0 and row["messages_per_second"] > 0
        assert 0 < row["latency_ms_p50"] <= row["latency_ms_p99"]
    assert kilowatt["throughput_vs_reference"] == pytest.approx(
        kilowatt["messages_per_second"] / reference["messages_per_second"], abs=0.01
    )
    assert "kilowatt / sqlite" in done.stdout.split("\n[")[0]  # the table, before the JSON
