"""The one dispatch table of OCPP 1.6: every action a charge point may send, and who handles it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kilowatt.firmware import ocpp_handlers as firmware
from kilowatt.gateway.context import OcppContext
from kilowatt.security import ocpp_handlers as security
from kilowatt.stations import ocpp_handlers as stations
from kilowatt.tokens import ocpp_handlers as tokens
from kilowatt.transactions import ocpp_handlers as transactions

Handler = Callable[[OcppContext, Any], Awaitable[Any]]

# Core profile plus the Firmware Management messages a station sends, and the security
# whitepaper's (SecurityEventNotification and SignCertificate: kilowatt.security). An action
# missing here is answered NotSupported by the session (see tests/gateway/test_dispatch.py).
HANDLERS: dict[str, Handler] = {
    "Authorize": tokens.authorize,
    "BootNotification": stations.boot_notification,
    "DataTransfer": stations.data_transfer,
    "DiagnosticsStatusNotification": firmware.diagnostics_status_notification,
    "FirmwareStatusNotification": firmware.firmware_status_notification,
    "Heartbeat": stations.heartbeat,
    "LogStatusNotification": firmware.log_status_notification,
    "MeterValues": transactions.meter_values,
    "SecurityEventNotification": security.security_event_notification,
    "SignCertificate": security.sign_certificate,
    "SignedFirmwareStatusNotification": firmware.signed_firmware_status_notification,
    "StartTransaction": transactions.start_transaction,
    "StatusNotification": stations.status_notification,
    "StopTransaction": transactions.stop_transaction,
}

SUPPORTED_ACTIONS = frozenset(HANDLERS)
