"""Every table, imported in one place so that Alembic and tests see the whole metadata."""

from kilowatt.analytics.models import OutageExclusion
from kilowatt.auth.login_limits import LoginLimit
from kilowatt.billing.models import (
    Payment,
    PaymentAccount,
    PaymentEvent,
    PaymentRefund,
    Tariff,
    TariffAssignment,
)
from kilowatt.commands.models import Command
from kilowatt.db import Base
from kilowatt.firmware.models import (
    DiagnosticsRequest,
    FirmwareCampaign,
    FirmwareFile,
    FirmwareUpdate,
)
from kilowatt.load_management.models import SiteAllocation, SiteLimitWindow, SiteLoadConfig
from kilowatt.local_lists.models import LocalAuthList
from kilowatt.messagelog.models import OcppMessage
from kilowatt.reservations.models import Reservation
from kilowatt.security.models import InstalledCertificate, SecurityEvent, StationCertificate
from kilowatt.sessions.models import ChargingSession
from kilowatt.smart_charging.models import ChargingProfileChange, InstalledChargingProfile
from kilowatt.stations.models import (
    ConfigurationKey,
    ConnectionPeriod,
    Connector,
    DataTransferRecord,
    Station,
    StatusNotificationRecord,
)
from kilowatt.tenants.models import Site, Tenant
from kilowatt.tokens.models import AuthorizeAnswer, Token
from kilowatt.transactions.models import MeterValueRecord, Transaction, UnmatchedStop
from kilowatt.users.models import ApiKey, RefreshToken, User
from kilowatt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "AuthorizeAnswer",
    "Base",
    "ChargingProfileChange",
    "ChargingSession",
    "Command",
    "ConfigurationKey",
    "ConnectionPeriod",
    "Connector",
    "DataTransferRecord",
    "DiagnosticsRequest",
    "FirmwareCampaign",
    "FirmwareFile",
    "FirmwareUpdate",
    "InstalledCertificate",
    "InstalledChargingProfile",
    "LocalAuthList",
    "LoginLimit",
    "MeterValueRecord",
    "OcppMessage",
    "OutageExclusion",
    "Payment",
    "PaymentAccount",
    "PaymentEvent",
    "PaymentRefund",
    "RefreshToken",
    "Reservation",
    "SecurityEvent",
    "Site",
    "SiteAllocation",
    "SiteLimitWindow",
    "SiteLoadConfig",
    "Station",
    "StationCertificate",
    "StatusNotificationRecord",
    "Tariff",
    "TariffAssignment",
    "Tenant",
    "Token",
    "Transaction",
    "UnmatchedStop",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
