"""How many OCPP messages per second one simulator process generates.

    .venv/bin/python tests/simulator/bench_simulator.py --stations 1000 --interval 1 --seconds 20

The minimal CSMS of the tests (sim_csms.MockCsms, not recording) runs in a child process so the
two don't share a CPU; every connector starts a session within a second or two and stays in it,
so the load is MeterValues (8 sampled values) every `interval` seconds per connector, plus the
CSMS's answers. Reported over the steady part (after --warmup seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE))

from kilowatt.simulator import SimulatorConfig, SimulatorStats, run  # noqa: E402


def _cpu(pid: int) -> float:
    """CPU seconds used by process `pid` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def serve() -> None:
    from sim_csms import MockCsms

    async with MockCsms(record=False, heartbeat_interval=3600) as csms:
        print(csms.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def bench(args: argparse.Namespace, url: str, server_pid: int) -> None:
    config = SimulatorConfig(
        url=url,
        stations=args.stations,
        connectors=args.connectors,
        meter_interval=args.interval,
        mean_idle_time=1.0,
        mean_session_duration=1e9,
        connect_stagger=args.stagger,
        heartbeat_interval=3600,
        seed=1,
    )
    stats = SimulatorStats()
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(run(config, stop=stop, stats=stats))
        await asyncio.sleep(args.warmup)
        t0, cpu0, scpu0 = time.monotonic(), time.process_time(), _cpu(server_pid)
        n0 = stats.messages_sent + stats.messages_received
        mv0 = stats.calls_sent["MeterValues"]
        await asyncio.sleep(args.seconds)
        t1, cpu1, scpu1 = time.monotonic(), time.process_time(), _cpu(server_pid)
        n1 = stats.messages_sent + stats.messages_received
        mv1 = stats.calls_sent["MeterValues"]
        stop.set()
    await running
    wall = t1 - t0
    expected = args.stations * args.connectors / args.interval
    print(
        f"{args.stations} stations x {args.connectors} connectors, sample interval"
        f" {args.interval} s: {(n1 - n0) / wall:,.0f} messages/s sent+received,"
        f" {(mv1 - mv0) / wall:,.0f} MeterValues/s (expected {expected:,.0f}),"
        f" simulator CPU {100 * (cpu1 - cpu0) / wall:.0f} %,"
        f" test CSMS CPU {100 * (scpu1 - scpu0) / wall:.0f} %"
    )
    print(stats.summary())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"simulator peak RSS {peak_mib:.0f} MiB ({peak_mib * 1024 / args.stations:.0f} KiB per station)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--stagger", type=float, default=2.0)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        asyncio.run(bench(args, server.stdout.readline().strip(), server.pid))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
