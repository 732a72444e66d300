"""The simulated station answers CSMS commands as an OCPP 1.6 charger does."""

from __future__ import annotations

import pytest
from sim_csms import CallRejected, MockCsms
from simkit import booted, statuses, within

from kilowatt.ocpp.v16 import CENTRAL_SYSTEM_TO_CHARGE_POINT
from kilowatt.ocpp.v16.enums import (
    AvailabilityType,
    ChargePointStatus,
    MessageTrigger,
    ReadingContext,
    Reason,
    ResetType,
)
from kilowatt.ocpp.v16.messages import (
    CertificateSignedRequest,
    ChangeAvailabilityRequest,
    ChangeConfigurationRequest,
    ClearCacheRequest,
    DataTransferRequest,
    GetConfigurationRequest,
    GetLocalListVersionRequest,
    RemoteStartTransactionRequest,
    RemoteStopTransactionRequest,
    ReserveNowRequest,
    ResetRequest,
    SetChargingProfileRequest,
    TriggerMessageRequest,
    UnlockConnectorRequest,
)
from kilowatt.simulator.commands import HANDLERS

Status = ChargePointStatus


def test_every_central_system_action_has_a_deliberate_answer() -> None:
    assert set(HANDLERS) == CENTRAL_SYSTEM_TO_CHARGE_POINT


async def test_remote_start_plugs_in_authorizes_and_starts() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        request = RemoteStartTransactionRequest(connector_id=1, id_tag="APP1")
        answer = await within(csms.call("CP1", "RemoteStartTransaction", request))
        assert answer.status == "Accepted"
        await within(csms.wait_for(lambda: statuses(csms, "CP1", 1)[-1] == "Charging"))
        assert station.status(1) is Status.CHARGING
        assert csms.actions("CP1")[4:] == [
            "StatusNotification",
            "Authorize",
            "StartTransaction",
            "StatusNotification",
        ]
        assert statuses(csms, "CP1", 1)[-2:] == ["Preparing", "Charging"]
        assert station.received[0].action == "RemoteStartTransaction"
        assert station.received[0].response == answer

        # Occupied, unknown, or station-wide connector 0: Rejected.
        for connector_id in (1, 3, 0):
            busy = RemoteStartTransactionRequest(connector_id=connector_id, id_tag="APP2")
            answer = await within(csms.call("CP1", "RemoteStartTransaction", busy))
            assert answer.status == "Rejected"


async def test_remote_start_without_connector_picks_a_free_one_and_may_skip_authorize() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        await within(station.plug_in(1))
        await within(station.swipe(1, "TAG1"))
        change = ChangeConfigurationRequest(key="AuthorizeRemoteTxRequests", value="false")
        assert (await within(csms.call("CP1", "ChangeConfiguration", change))).status == "Accepted"
        request = RemoteStartTransactionRequest(id_tag="APP1")
        assert (
            await within(csms.call("CP1", "RemoteStartTransaction", request))
        ).status == "Accepted"
        await within(station.wait_until(lambda: station.status(2) is Status.CHARGING))
        assert [r.payload.id_tag for r in csms.calls("CP1", "Authorize")] == ["TAG1"]


async def test_remote_stop_stops_only_its_own_transaction() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        await within(station.plug_in(1))
        result = await within(station.start_transaction(1, "TAG1"))
        assert result.transaction_id is not None
        wrong = RemoteStopTransactionRequest(transaction_id=result.transaction_id + 100)
        assert (await within(csms.call("CP1", "RemoteStopTransaction", wrong))).status == "Rejected"
        right = RemoteStopTransactionRequest(transaction_id=result.transaction_id)
        assert (await within(csms.call("CP1", "RemoteStopTransaction", right))).status == "Accepted"
        await within(station.wait_until(lambda: station.status(1) is Status.FINISHING))
        stop = csms.calls("CP1", "StopTransaction")[0].payload
        assert (stop.transaction_id, stop.reason) == (result.transaction_id, Reason.REMOTE)


async def test_unlock_stops_the_transaction_first() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        await within(station.plug_in(2))
        await within(station.start_transaction(2, "TAG1"))
        answer = await within(
            csms.call("CP1", "UnlockConnector", UnlockConnectorRequest(connector_id=2))
        )
        assert answer.status == "Unlocked"
        # The StopTransaction was answered before the Unlocked answer came back.
        stop = csms.calls("CP1", "StopTransaction")[0].payload
        assert stop.reason is Reason.UNLOCK_COMMAND
        assert station.transaction_id(2) is None
        unknown = await within(
            csms.call("CP1", "UnlockConnector", UnlockConnectorRequest(connector_id=9))
        )
        assert unknown.status == "NotSupported"


@pytest.mark.parametrize(
    ("kind", "reason"), [(ResetType.SOFT, Reason.SOFT_RESET), (ResetType.HARD, Reason.HARD_RESET)]
)
async def test_reset_stops_transactions_reconnects_and_boots_again(
    kind: ResetType, reason: Reason
) -> None:
    async with MockCsms() as csms, booted(csms) as station:
        await within(station.plug_in(1))
        await within(station.start_transaction(1, "TAG1"))
        answer = await within(csms.call("CP1", "Reset", ResetRequest(type=kind)))
        assert answer.status == "Accepted"
        await within(station.wait_until(lambda: station.boot_count == 2 and station.accepted))
        await within(csms.wait_for(lambda: len([r for r in csms.log if r.connection == 2]) >= 4))
        assert csms.calls("CP1", "StopTransaction")[0].payload.reason is reason
        assert csms.connects["CP1"] == 2
        second = [r.action for r in csms.log if r.connection == 2]
        assert second[:4] == ["BootNotification"] + ["StatusNotification"] * 3
        # The car is still plugged in after the reboot, without a transaction.
        assert statuses(csms, "CP1", 1)[-1] == "Preparing"


async def test_change_availability_now_or_after_the_transaction() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        await within(station.plug_in(2))
        await within(station.start_transaction(2, "TAG1"))
        off = ChangeAvailabilityRequest(connector_id=0, type=AvailabilityType.INOPERATIVE)
        assert (await within(csms.call("CP1", "ChangeAvailability", off))).status == "Scheduled"
        await within(station.wait_until(lambda: station.status(1) is Status.UNAVAILABLE))
        assert station.status(0) is Status.UNAVAILABLE
        assert station.status(2) is Status.CHARGING
        await within(station.stop_transaction(2))
        assert station.status(2) is Status.UNAVAILABLE
        on = ChangeAvailabilityRequest(connector_id=2, type=AvailabilityType.OPERATIVE)
        assert (await within(csms.call("CP1", "ChangeAvailability", on))).status == "Accepted"
        await within(station.wait_until(lambda: station.status(2) is Status.PREPARING))
        bad = ChangeAvailabilityRequest(connector_id=7, type=AvailabilityType.OPERATIVE)
        assert (await within(csms.call("CP1", "ChangeAvailability", bad))).status == "Rejected"
        assert statuses(csms, "CP1", 1)[-1] == "Unavailable"


async def test_change_configuration_checks_values_and_takes_effect() -> None:
    async with MockCsms() as csms, booted(csms, meter_interval=3600) as station:

        async def change(key: str, value: str) -> str:
            request = ChangeConfigurationRequest(key=key, value=value)
            return str((await within(csms.call("CP1", "ChangeConfiguration", request))).status)

        assert await change("MeterValueSampleInterval", "ten") == "Rejected"
        assert await change("MeterValueSampleInterval", "1.5") == "Rejected"
        assert await change("HeartbeatInterval", "-3") == "Rejected"
        assert await change("StopTransactionOnInvalidId", "maybe") == "Rejected"
        assert (
            await change("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus")
            == "Rejected"
        )
        assert await change("NumberOfConnectors", "4") == "Rejected"  # read-only
        assert await change("NoSuchKey", "1") == "NotSupported"

        await within(station.plug_in(1))
        await within(station.start_transaction(1, "TAG1"))
        assert await change("metervaluesampleinterval", "1") == "Accepted"  # keys: CiString
        await within(csms.wait_for(lambda: bool(csms.calls("CP1", "MeterValues"))))
        assert (
            await change("MeterValuesSampledData", "Energy.Active.Import.Register,SoC")
            == "Accepted"
        )
        await within(
            csms.wait_for(
                lambda: (
                    len(csms.calls("CP1", "MeterValues")[-1].payload.meter_value[0].sampled_value)
                    == 2
                )
            )
        )
        assert await change("HeartbeatInterval", "1") == "Accepted"
        count = len(csms.calls("CP1", "Heartbeat"))
        await within(csms.wait_for(lambda: len(csms.calls("CP1", "Heartbeat")) > count), 3)


async def test_get_configuration_all_or_some_keys() -> None:
    async with MockCsms() as csms, booted(csms):
        everything = await within(csms.call("CP1", "GetConfiguration", GetConfigurationRequest()))
        keys = {kv.key: kv for kv in everything.configuration_key}
        assert {"HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors"} <= set(keys)
        assert keys["NumberOfConnectors"].readonly and not keys["HeartbeatInterval"].readonly
        assert everything.unknown_key is None
        some = await within(
            csms.call(
                "CP1",
                "GetConfiguration",
                GetConfigurationRequest(key=["heartbeatinterval", "Nope"]),
            )
        )
        assert [kv.key for kv in some.configuration_key] == ["HeartbeatInterval"]
        assert some.unknown_key == ["Nope"]


@pytest.mark.parametrize(
    ("message", "action"),
    [
        (MessageTrigger.BOOT_NOTIFICATION, "BootNotification"),
        (MessageTrigger.HEARTBEAT, "Heartbeat"),
        (MessageTrigger.STATUS_NOTIFICATION, "StatusNotification"),
        (MessageTrigger.METER_VALUES, "MeterValues"),
        (MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION, "DiagnosticsStatusNotification"),
        (MessageTrigger.FIRMWARE_STATUS_NOTIFICATION, "FirmwareStatusNotification"),
    ],
)
async def test_trigger_message_answers_then_sends(message: MessageTrigger, action: str) -> None:
    async with MockCsms() as csms, booted(csms):
        before = len(csms.calls("CP1", action))
        request = TriggerMessageRequest(requested_message=message, connector_id=1)
        assert (await within(csms.call("CP1", "TriggerMessage", request))).status == "Accepted"
        await within(csms.wait_for(lambda: len(csms.calls("CP1", action)) > before))
        if action == "MeterValues":
            value = csms.calls("CP1", action)[-1].payload.meter_value[0]
            assert value.sampled_value[0].context is ReadingContext.TRIGGER
        unknown = TriggerMessageRequest(requested_message=message, connector_id=5)
        assert (await within(csms.call("CP1", "TriggerMessage", unknown))).status == "Rejected"


async def test_answers_for_profiles_it_does_not_have() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        from datetime import UTC, datetime

        from kilowatt.ocpp.v16.messages import (
            ChargingProfile,
            ChargingSchedule,
            ChargingSchedulePeriod,
        )

        # Reservation is supported (tests/conformance/test_reservation.py): no connector 9
        reserve = ReserveNowRequest(
            connector_id=9, expiry_date=datetime.now(UTC), id_tag="T", reservation_id=1
        )
        assert (await within(csms.call("CP1", "ReserveNow", reserve))).status == "Rejected"
        profile = ChargingProfile(
            charging_profile_id=1,
            stack_level=0,
            charging_profile_purpose="TxDefaultProfile",  # type: ignore[arg-type]
            charging_profile_kind="Absolute",  # type: ignore[arg-type]
            charging_schedule=ChargingSchedule(
                charging_rate_unit="W",  # type: ignore[arg-type]
                charging_schedule_period=[ChargingSchedulePeriod(start_period=0, limit=11000)],  # type: ignore[arg-type]
            ),
        )
        answer = await within(
            csms.call(
                "CP1",
                "SetChargingProfile",
                SetChargingProfileRequest(connector_id=1, cs_charging_profiles=profile),
            )
        )
        # Smart Charging is supported; this Absolute profile lacks its startSchedule
        assert answer.status == "Rejected"
        # Local Auth List Management is supported (tests/simulator/test_local_list.py): empty
        assert (
            await within(csms.call("CP1", "GetLocalListVersion", GetLocalListVersionRequest()))
        ).list_version == 0
        assert (
            await within(csms.call("CP1", "ClearCache", ClearCacheRequest()))
        ).status == "Accepted"
        transfer = DataTransferRequest(vendor_id="com.example")
        assert (
            await within(csms.call("CP1", "DataTransfer", transfer))
        ).status == "UnknownVendorId"
        with pytest.raises(CallRejected) as caught:
            await within(
                csms.call(
                    "CP1", "CertificateSigned", CertificateSignedRequest(certificate_chain="x")
                )
            )
        assert caught.value.error_code == "NotSupported"
        assert [c.action for c in station.received][-1] == "CertificateSigned"
        assert station.received[-1].error == "NotSupported"
