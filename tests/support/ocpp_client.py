"""An independent OCPP 1.6 charge point: the ``ocpp`` library's ``ChargePoint`` (client role).

It answers every Core command and TriggerMessage; a test sets ``answers[action]`` to choose the
status a command gets, and reads what arrived from ``received``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from support.server import HANDSHAKE_TIMEOUT


class LibChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.answers: dict[str, Any] = {}
        self.received: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.configuration: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": ("300", False),
            "MeterValueSampleInterval": ("60", False),
            "SupportedFeatureProfiles": ("Core,FirmwareManagement,RemoteTrigger", True),
            "NumberOfConnectors": ("2", True),
        }

    def _got(self, action: str, **fields: Any) -> str:
        self.received.put_nowait((action, fields))
        answer: str = self.answers.get(action, "Accepted")
        return answer

    async def next_command(self) -> tuple[str, dict[str, Any]]:
        """The next command the central system sent (bounded: a missing one fails the test)."""
        async with asyncio.timeout(10):
            return await self.received.get()

    @on(Action.remote_start_transaction)
    def _remote_start(self, **fields: Any) -> Any:
        return call_result.RemoteStartTransaction(
            status=self._got("RemoteStartTransaction", **fields)
        )

    @on(Action.remote_stop_transaction)
    def _remote_stop(self, **fields: Any) -> Any:
        return call_result.RemoteStopTransaction(
            status=self._got("RemoteStopTransaction", **fields)
        )

    @on(Action.unlock_connector)
    def _unlock(self, **fields: Any) -> Any:
        self.answers.setdefault("UnlockConnector", "Unlocked")
        return call_result.UnlockConnector(status=self._got("UnlockConnector", **fields))

    @on(Action.reset)
    def _reset(self, **fields: Any) -> Any:
        return call_result.Reset(status=self._got("Reset", **fields))

    @on(Action.change_availability)
    def _availability(self, **fields: Any) -> Any:
        return call_result.ChangeAvailability(status=self._got("ChangeAvailability", **fields))

    @on(Action.change_configuration)
    def _change_configuration(self, key: str, value: str, **fields: Any) -> Any:
        status = self._got("ChangeConfiguration", key=key, value=value, **fields)
        if key not in self.configuration:
            status = "NotSupported"
        elif key == "MeterValueSampleInterval" and not value.isdigit():
            status = "Rejected"
        elif status == "Accepted":
            self.configuration[key] = (value, self.configuration[key][1])
        return call_result.ChangeConfiguration(status=status)

    @on(Action.get_configuration)
    def _get_configuration(self, key: list[str] | None = None, **fields: Any) -> Any:
        self._got("GetConfiguration", key=key, **fields)
        wanted = key or list(self.configuration)
        known = [
            {"key": k, "value": self.configuration[k][0], "readonly": self.configuration[k][1]}
            for k in wanted
            if k in self.configuration
        ]
        unknown = [k for k in wanted if k not in self.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.clear_cache)
    def _clear_cache(self, **fields: Any) -> Any:
        return call_result.ClearCache(status=self._got("ClearCache", **fields))

    @on(Action.data_transfer)
    def _data_transfer(self, **fields: Any) -> Any:
        self.answers.setdefault("DataTransfer", "UnknownVendorId")
        return call_result.DataTransfer(status=self._got("DataTransfer", **fields))

    @on(Action.reserve_now)
    def _reserve_now(self, **fields: Any) -> Any:
        return call_result.ReserveNow(status=self._got("ReserveNow", **fields))

    @on(Action.cancel_reservation)
    def _cancel_reservation(self, **fields: Any) -> Any:
        return call_result.CancelReservation(status=self._got("CancelReservation", **fields))

    @on(Action.trigger_message)
    def _trigger(self, **fields: Any) -> Any:
        return call_result.TriggerMessage(status=self._got("TriggerMessage", **fields))

    @on(Action.update_firmware)
    def _update_firmware(self, **fields: Any) -> Any:
        self._got("UpdateFirmware", **fields)
        return call_result.UpdateFirmware()

    @on(Action.get_diagnostics)
    def _get_diagnostics(self, **fields: Any) -> Any:
        # answers["GetDiagnostics"]: the file name to announce ("" for none).
        self._got("GetDiagnostics", **fields)
        return call_result.GetDiagnostics(
            file_name=self.answers.get("GetDiagnostics", "diagnostics.log") or None
        )


@contextlib.asynccontextmanager
async def lib_charge_point(
    url: str,
    charge_point_id: str,
    *,
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[LibChargePoint]:
    """Connect an ``ocpp``-library charge point and run its receive loop for the block."""
    async with websockets.connect(
        url,
        subprotocols=subprotocols if subprotocols is not None else ["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=HANDSHAKE_TIMEOUT,
    ) as ws:
        cp = LibChargePoint(charge_point_id, ws)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
