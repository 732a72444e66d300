"""run(): many stations from one process, bounded in time."""

from __future__ import annotations

import asyncio

from sim_csms import MockCsms
from simkit import sim_config, within

from kilowatt.simulator import SimulatorStats, run


async def test_200_stations_connect_boot_and_report_at_once() -> None:
    async with MockCsms(record=False) as csms:
        config = sim_config(csms.url, stations=200, id_prefix="LOAD")
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(run(config, stop=stop))
            await within(csms.wait_for(lambda: csms.counts["StatusNotification"] >= 200 * 3), 30)
            assert len(csms.connections) == 200
            assert set(csms.connections) == {f"LOAD{i:04d}" for i in range(1, 201)}
            stop.set()
        stats = running.result()
        assert csms.counts["BootNotification"] == 200
        assert stats.connects == 200 and stats.reconnects == 0 and stats.errors == 0
        assert stats.calls_sent["StatusNotification"] == 600
        assert stats.messages_sent >= 800 and stats.messages_received >= 800
        assert stats.messages_per_second > 0
        await within(csms.wait_for(lambda: not csms.connections))


async def test_auto_sessions_charge_and_end_on_their_own() -> None:
    async with MockCsms() as csms:
        config = sim_config(
            csms.url,
            stations=3,
            auto_sessions=True,
            time_scale=600.0,
            mean_idle_time=120.0,  # 0.2 s
            mean_session_duration=300.0,  # at least 60 s / 600 = 0.1 s
            meter_interval=0.05,
            id_tags=("AUTO1", "AUTO2"),
        )
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(run(config, stop=stop))
            await within(csms.wait_for(lambda: len(csms.calls(action="StopTransaction")) >= 6), 20)
            stop.set()
        stats: SimulatorStats = running.result()
        assert stats.sessions_started >= 6 and stats.sessions_stopped >= 6
        assert stats.wh_delivered > 0
        assert {r.payload.id_tag for r in csms.calls(action="StartTransaction")} <= {
            "AUTO1",
            "AUTO2",
        }
        reasons = {r.payload.reason for r in csms.calls(action="StopTransaction")}
        assert reasons <= {"Local", "EVDisconnected", "Other"}
        # Every transaction the CSMS saw start was stopped by the end of the run.
        started = {r.payload.id_tag for r in csms.calls(action="StartTransaction")}
        assert started
        await within(csms.wait_for(lambda: not csms.connections))
        assert len(csms.calls(action="StartTransaction")) == len(
            csms.calls(action="StopTransaction")
        )


async def test_duration_bounds_the_run() -> None:
    async with MockCsms(record=False) as csms:
        stats = await within(run(sim_config(csms.url, stations=3, duration=0.3)))
        assert stats.connects == 3
        assert 0.3 <= stats.elapsed < 3
