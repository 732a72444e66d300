"""Kilowatt and a reference central system side by side, in the same run, on this machine.

    .venv/bin/python bench/compare.py [--stations 100] [--seconds 20] [--runs 3] [--no-postgres]

The reference (``bench/reference_csms.py``) is built the way Python CSMSs usually are: the
``ocpp`` library's ChargePoint per connection with its default validation, one SQLAlchemy
commit per message. Each target is a server process of its own on a fresh database (a SQLite
file, or a PostgreSQL database created for the run and dropped after); this process is the load
generator (``kilowatt.bench``: N stations sending the realistic mix back to back, each message
answered only once stored, latency measured here at the client). The targets take turns within
each run, so a noisy neighbour hurts them alike; the table shows the median of the runs and each
Kilowatt figure's ratio to the reference on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from kilowatt.bench import free_port, kilowatt_env, measure

REFERENCE = Path(__file__).with_name("reference_csms.py")
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class Target:
    system: str  # "kilowatt" | "reference"
    database: str  # "sqlite" | "postgresql"

    @property
    def label(self) -> str:
        return f"{self.system} / {self.database}"


async def _admin(statement: str, server: str) -> None:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def run_target(target: Target, stations: int, seconds: float, postgres: str) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kilowatt-compare-") as tmp:
        database = f"bench_{target.system}_{secrets.token_hex(4)}"
        if target.database == "postgresql":
            asyncio.run(_admin(f'CREATE DATABASE "{database}"', postgres))
            url = f"{postgres.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"
        else:
            url = f"sqlite+aiosqlite:///{tmp}/{target.system}.db"
        try:
            if target.system == "kilowatt":
                command = [sys.executable, "-m", "kilowatt", "serve"]
                env = kilowatt_env(tmp, port, url)
            else:
                command = [sys.executable, str(REFERENCE), "--port", str(port)]
                command += ["--database-url", url]
                env = dict(os.environ)
            figures: dict[str, Any] = measure(command, env, port, stations, seconds)
            return figures
        finally:
            if target.database == "postgresql":
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', postgres))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def table(results: dict[Target, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for target, runs in results.items():
        reference = results.get(Target("reference", target.database))
        row: dict[str, Any] = {
            "target": target.label,
            "messages_per_second": _median(runs, "messages_per_second"),
            "latency_ms_p50": _median(runs, "latency_ms_p50"),
            "latency_ms_p99": _median(runs, "latency_ms_p99"),
            "errors": sum(run["errors"] for run in runs),
            "runs": [run["messages_per_second"] for run in runs],
        }
        if reference and target.system != "reference":
            row["throughput_vs_reference"] = round(
                row["messages_per_second"] / _median(reference, "messages_per_second"), 2
            )
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], stations: int, seconds: float) -> None:
    print(f"\n{stations} stations, closed loop, {seconds:g} s a run; medians of the runs")
    print(f"{'target':<26}{'msg/s':>8}{'x ref':>7}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  runs")
    for row in rows:
        ratio = row.get("throughput_vs_reference")
        print(
            f"{row['target']:<26}{row['messages_per_second']:>8.0f}"
            f"{(f'{ratio:.2f}' if ratio else '-'):>7}"
            f"{row['latency_ms_p50']:>9.1f}{row['latency_ms_p99']:>9.1f}{row['errors']:>8}"
            f"  {row['runs']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite targets only")
    parser.add_argument("--postgres", default=POSTGRES, help="server for the PostgreSQL targets")
    args = parser.parse_args(argv)
    databases = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    targets = [Target(system, db) for db in databases for system in ("kilowatt", "reference")]
    results: dict[Target, list[dict[str, Any]]] = {target: [] for target in targets}
    for run in range(args.runs):
        for target in targets:
            figures = run_target(target, args.stations, args.seconds, args.postgres)
            results[target].append(figures)
            print(
                f"run {run + 1}/{args.runs} {target.label}: {figures['messages_per_second']} msg/s,"
                f" p50 {figures['latency_ms_p50']} ms, p99 {figures['latency_ms_p99']} ms,"
                f" errors {figures['errors']}",
                flush=True,
            )
    rows = table(results)
    print_table(rows, args.stations, args.seconds)
    print(json.dumps(rows, indent=2))
    return 0 if all(row["errors"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
