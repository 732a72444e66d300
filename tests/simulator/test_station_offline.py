"""Losing the connection: back-off, reconnect, and transaction messages replayed in order."""

from __future__ import annotations

import asyncio

from sim_csms import MockCsms
from simkit import booted, sim_config, within

from kilowatt.ocpp.v16.enums import Reason
from kilowatt.simulator import SimulatedStation


async def test_reconnects_and_replays_queued_transaction_messages_in_order() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=0.05) as station:
        await within(station.plug_in(1))
        started = await within(station.start_transaction(1, "TAG1"))
        await within(csms.wait_for(lambda: len(csms.calls("CP1", "MeterValues")) >= 2))

        csms.refuse = True
        csms.drop("CP1")
        await within(station.wait_until(lambda: not station.online))
        dropped_at = asyncio.get_running_loop().time()
        await within(station.wait_until(lambda: station.queued_messages >= 5))
        # Offline the stop is queued too: no answer to wait for.
        assert await within(station.stop_transaction(1, Reason.LOCAL)) is None
        queued = station.txq.pending_actions()
        assert queued[-1] == "StopTransaction" and set(queued[:-1]) == {"MeterValues"}

        csms.refuse = False
        await within(station.wait_until(lambda: station.queued_messages == 0), 10)
        assert csms.connects["CP1"] == 2 and station.stats.reconnects == 1

        replayed = [r for r in csms.log if r.connection == 2 and r.action != "StatusNotification"]
        assert [r.action for r in replayed] == ["MeterValues"] * len(queued[:-1]) + [
            "StopTransaction"
        ]
        assert all(r.payload.transaction_id == started.transaction_id for r in replayed)
        # Original timestamps, in order, all from while the station was offline.
        stamps = [r.payload.meter_value[0].timestamp for r in replayed[:-1]]
        stamps.append(replayed[-1].payload.timestamp)
        assert stamps == sorted(stamps)
        all_meter = [r.payload.meter_value[0] for r in csms.calls("CP1", "MeterValues")]
        registers = [int(v.sampled_value[0].value) for v in all_meter]
        assert registers == sorted(registers)
        # Not booted again: a dropped connection is no reboot.
        assert station.boot_count == 1 and len(csms.calls("CP1", "BootNotification")) == 1
        assert replayed[0].at > dropped_at


async def test_transaction_started_offline_gets_its_id_on_replay() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=0.05) as station:
        csms.refuse = True
        csms.drop("CP1")
        await within(station.wait_until(lambda: not station.online))
        await within(station.plug_in(1))
        result = await within(station.start_transaction(1, "TAG1"))
        assert result.transaction_id is None
        await within(station.wait_until(lambda: station.queued_messages >= 3))
        csms.refuse = False
        await within(station.wait_until(lambda: station.transaction_id(1) is not None), 10)
        transaction_id = station.transaction_id(1)
        await within(csms.wait_for(lambda: len(csms.calls("CP1", "MeterValues")) >= 2))
        actions = [
            r.action for r in csms.log if r.connection == 2 and r.action != "StatusNotification"
        ]
        assert actions[0] == "StartTransaction"
        assert {r.payload.transaction_id for r in csms.calls("CP1", "MeterValues")} == {
            transaction_id
        }


async def test_keeps_retrying_with_back_off_until_the_csms_is_back() -> None:
    async with MockCsms() as csms:
        station = SimulatedStation(
            sim_config(csms.url, reconnect_min=0.02, reconnect_max=0.1), "CP1"
        )
        async with station:
            await within(station.connect())
            await within(station.boot())
            csms.refuse = True
            station.drop_connection()
            await within(station.wait_until(lambda: station.connect_failures >= 4))
            assert not station.online
            csms.refuse = False
            await within(station.wait_until(lambda: station.online))
            await within(csms.wait_for(lambda: len(csms.calls("CP1", "StatusNotification")) >= 6))


async def test_transaction_message_answered_with_an_error_is_retried_then_given_up() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        station.configuration.change("TransactionMessageRetryInterval", "0")
        await within(station.plug_in(1))
        csms.fail["StartTransaction"] = 1
        started = await within(station.start_transaction(1, "TAG1"))
        assert started.transaction_id is not None
        assert len(csms.calls("CP1", "StartTransaction")) == 2  # the retry got through

        csms.fail["StopTransaction"] = 3  # TransactionMessageAttempts
        assert await within(station.stop_transaction(1)) is None
        assert len(csms.calls("CP1", "StopTransaction")) == 3
        assert station.queued_messages == 0
