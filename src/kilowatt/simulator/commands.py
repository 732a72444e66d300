"""How the simulated charger answers each CSMS→charge point call: one explicit table.

Every OCPP 1.6 action a Central System can send is in HANDLERS: handled, answered the way a
charger without that feature profile answers (Rejected / NotSupported statuses), or -- for the
security-whitepaper messages -- a CALLERROR NotSupported. A handler returns the answer and,
optionally, what to do once the answer is on the wire (e.g. TriggerMessage: answer first,
then send the message, OCPP 1.6 §5.17).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from kilowatt.ocpp import ErrorCode
from kilowatt.ocpp.v16 import CENTRAL_SYSTEM_TO_CHARGE_POINT
from kilowatt.ocpp.v16.enums import (
    AvailabilityStatus,
    AvailabilityType,
    CancelReservationStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    MessageTrigger,
    ReadingContext,
    Reason,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
    UpdateStatus,
)
from kilowatt.ocpp.v16.messages import (
    CancelReservationRequest,
    CancelReservationResponse,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ClearCacheResponse,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    DataTransferResponse,
    DiagnosticsStatusNotificationRequest,
    FirmwareStatusNotificationRequest,
    GetCompositeScheduleRequest,
    GetConfigurationRequest,
    GetConfigurationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    GetLocalListVersionResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    ReserveNowRequest,
    ReserveNowResponse,
    ResetRequest,
    ResetResponse,
    SendLocalListRequest,
    SendLocalListResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)

from . import firmware, reservations, smart_charging
from .charging import utcnow
from .local_list import supports_local_list

if TYPE_CHECKING:
    from .station import SimulatedStation

__all__ = ["HANDLERS", "SUPPORTED", "Reply"]

FollowUp = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reply:
    response: msgspec.Struct | None = None
    #: Answer with a CALLERROR of this code instead.
    error: ErrorCode | None = None
    #: Run after the answer has been sent.
    then: FollowUp | None = None


Handler = Callable[["SimulatedStation", Any], Awaitable[Reply]]


async def change_availability(st: SimulatedStation, req: ChangeAvailabilityRequest) -> Reply:
    operative = req.type is AvailabilityType.OPERATIVE
    status = await st.change_availability(req.connector_id, operative)
    if status is AvailabilityStatus.REJECTED:
        return Reply(ChangeAvailabilityResponse(status=status))

    async def report() -> None:
        await st.report_availability(req.connector_id)

    return Reply(ChangeAvailabilityResponse(status=status), then=report)


async def change_configuration(st: SimulatedStation, req: ChangeConfigurationRequest) -> Reply:
    status = st.configuration.change(req.key, req.value)
    if status is ConfigurationStatus.ACCEPTED:
        st.refresh_settings()
    return Reply(ChangeConfigurationResponse(status=status))


async def get_configuration(st: SimulatedStation, req: GetConfigurationRequest) -> Reply:
    found, unknown = st.configuration.key_values(req.key or None)
    return Reply(
        GetConfigurationResponse(configuration_key=found or None, unknown_key=unknown or None)
    )


async def clear_cache(st: SimulatedStation, req: Any) -> Reply:
    return Reply(ClearCacheResponse(status=ClearCacheStatus.ACCEPTED))


async def data_transfer(st: SimulatedStation, req: Any) -> Reply:
    return Reply(DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID))


async def remote_start(st: SimulatedStation, req: RemoteStartTransactionRequest) -> Reply:
    rejected = Reply(RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED))
    if not st.accepted:
        return rejected
    if req.connector_id is None:
        free = [c for c in st.connectors.values() if reservations.startable(st, c, req.id_tag)]
        if not free:
            return rejected
        connector = free[0]
    else:
        found = st.connectors.get(req.connector_id)
        if found is None or not reservations.startable(st, found, req.id_tag):
            return rejected
        connector = found
    held = None
    if req.charging_profile is not None:  # the new transaction's TxProfile (OCPP 1.6 §5.16.2)
        held = smart_charging.remote_start_profile(st, connector, req.charging_profile)
        if held is None:
            return rejected
    connector.remote_start_pending = True  # claimed until the start is done or has failed

    async def start() -> None:
        await st.remote_start(connector, req.id_tag)
        if held is not None and connector.transaction is None:
            st.profiles.remove(held)  # no transaction came of it

    return Reply(RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), then=start)


async def remote_stop(st: SimulatedStation, req: RemoteStopTransactionRequest) -> Reply:
    for connector in st.connectors.values():
        if connector.transaction is not None and connector.transaction_id == req.transaction_id:

            async def stop(connector_id: int = connector.connector_id) -> None:
                await st.stop_transaction(connector_id, Reason.REMOTE)

            return Reply(
                RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), then=stop
            )
    return Reply(RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED))


async def unlock_connector(st: SimulatedStation, req: UnlockConnectorRequest) -> Reply:
    connector = st.connectors.get(req.connector_id)
    if connector is None:
        return Reply(UnlockConnectorResponse(status=UnlockStatus.NOT_SUPPORTED))
    if connector.transaction is not None:
        # OCPP 1.6 §5.18: stop the transaction first, then unlock.
        await st.stop_transaction(req.connector_id, Reason.UNLOCK_COMMAND)
    return Reply(UnlockConnectorResponse(status=UnlockStatus.UNLOCKED))


async def reset(st: SimulatedStation, req: ResetRequest) -> Reply:
    async def reboot() -> None:
        await st.reset(req.type)

    return Reply(ResetResponse(status=ResetStatus.ACCEPTED), then=reboot)


_TRIGGERABLE = frozenset(
    {
        MessageTrigger.BOOT_NOTIFICATION,
        MessageTrigger.HEARTBEAT,
        MessageTrigger.STATUS_NOTIFICATION,
        MessageTrigger.METER_VALUES,
        MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION,
        MessageTrigger.FIRMWARE_STATUS_NOTIFICATION,
    }
)


async def trigger_message(st: SimulatedStation, req: TriggerMessageRequest) -> Reply:
    what, connector_id = req.requested_message, req.connector_id
    if what not in _TRIGGERABLE:
        return Reply(TriggerMessageResponse(status=TriggerMessageStatus.NOT_IMPLEMENTED))
    if connector_id not in (None, 0) and connector_id not in st.connectors:
        return Reply(TriggerMessageResponse(status=TriggerMessageStatus.REJECTED))
    targets = list(st.connectors) if connector_id in (None, 0) else [connector_id]

    async def send() -> None:
        if what is MessageTrigger.BOOT_NOTIFICATION:
            await st.triggered_boot()
        elif what is MessageTrigger.HEARTBEAT:
            await st.heartbeat(triggered=True)
        elif what is MessageTrigger.STATUS_NOTIFICATION:
            for cid in [0, *targets] if connector_id is None else [connector_id]:
                await st.send_status(cid, triggered=True)
        elif what is MessageTrigger.METER_VALUES:
            for cid in targets:
                await st.send_meter_values(cid, ReadingContext.TRIGGER)
        elif what is MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION:
            await st.call(
                "DiagnosticsStatusNotification",
                DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.IDLE),
                triggered=True,
            )
        else:
            await st.call(
                "FirmwareStatusNotification",
                FirmwareStatusNotificationRequest(status=st.firmware_status),
                triggered=True,
            )

    return Reply(TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED), then=send)


async def get_diagnostics(st: SimulatedStation, req: GetDiagnosticsRequest) -> Reply:
    """Answer the file name, then upload it (firmware.py)."""
    name = firmware.diagnostics_file_name(st.station_id, utcnow())

    async def upload() -> None:
        st.spawn(firmware.get_diagnostics(st, req, name))

    return Reply(GetDiagnosticsResponse(file_name=name), then=upload)


async def update_firmware(st: SimulatedStation, req: UpdateFirmwareRequest) -> Reply:
    """Accept, then download at the retrieve date, install and reboot (firmware.py)."""

    async def install() -> None:
        st.spawn(firmware.update_firmware(st, req))

    return Reply(UpdateFirmwareResponse(), then=install)


async def reserve_now(st: SimulatedStation, req: ReserveNowRequest) -> Reply:
    status = await reservations.reserve(st, req)
    if status is not ReservationStatus.ACCEPTED:
        return Reply(ReserveNowResponse(status=status))

    async def reserved() -> None:
        await reservations.mark_reserved(st, req.reservation_id)

    return Reply(ReserveNowResponse(status=status), then=reserved)


async def cancel_reservation(st: SimulatedStation, req: CancelReservationRequest) -> Reply:
    r = st.reservations.cancel(req)
    if r is None:
        return Reply(CancelReservationResponse(status=CancelReservationStatus.REJECTED))

    async def released() -> None:
        await reservations.release(st, r)

    return Reply(CancelReservationResponse(status=CancelReservationStatus.ACCEPTED), then=released)


# -- Smart Charging (smart_charging.py) ---------------------------------------------------------
async def set_charging_profile(st: SimulatedStation, req: SetChargingProfileRequest) -> Reply:
    """Hold the profile as a charger would (smart_charging.py); Rejected if it breaks a rule."""
    return Reply(SetChargingProfileResponse(status=smart_charging.set_profile(st, req)))


async def clear_charging_profile(st: SimulatedStation, req: ClearChargingProfileRequest) -> Reply:
    return Reply(ClearChargingProfileResponse(status=smart_charging.clear_profiles(st, req)))


async def get_composite_schedule(st: SimulatedStation, req: GetCompositeScheduleRequest) -> Reply:
    return Reply(smart_charging.composite_answer(st, req))


async def send_local_list(st: SimulatedStation, req: SendLocalListRequest) -> Reply:
    if not supports_local_list(st.configuration):
        return Reply(SendLocalListResponse(status=UpdateStatus.NOT_SUPPORTED))
    max_length = int(st.configuration["LocalAuthListMaxLength"])
    return Reply(SendLocalListResponse(status=st.local_list.apply(req, max_length)))


async def get_local_list_version(st: SimulatedStation, req: Any) -> Reply:
    if not supports_local_list(st.configuration):
        # -1: "the Charge Point does not support Local Authorization Lists" (OCPP 1.6 §5.10).
        return Reply(GetLocalListVersionResponse(list_version=-1))
    return Reply(GetLocalListVersionResponse(list_version=st.local_list.version))


async def not_supported(st: SimulatedStation, req: Any) -> Reply:
    return Reply(error=ErrorCode.NOT_SUPPORTED)


HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "DataTransfer": data_transfer,
    "GetCompositeSchedule": get_composite_schedule,
    "GetConfiguration": get_configuration,
    "GetDiagnostics": get_diagnostics,
    "GetLocalListVersion": get_local_list_version,
    "RemoteStartTransaction": remote_start,
    "RemoteStopTransaction": remote_stop,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "TriggerMessage": trigger_message,
    "UnlockConnector": unlock_connector,
    "UpdateFirmware": update_firmware,
    # security whitepaper (edition 3): not implemented by this charger
    "CertificateSigned": not_supported,
    "DeleteCertificate": not_supported,
    "ExtendedTriggerMessage": not_supported,
    "GetInstalledCertificateIds": not_supported,
    "GetLog": not_supported,
    "InstallCertificate": not_supported,
    "SignedUpdateFirmware": not_supported,
}

#: Actions the session hands to us (all of them: HANDLERS answers every one).
SUPPORTED: frozenset[str] = frozenset(HANDLERS) & CENTRAL_SYSTEM_TO_CHARGE_POINT
