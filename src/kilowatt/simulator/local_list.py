"""The simulated charger's Local Authorization List (OCPP 1.6 §3.5.2, §5.10, §5.15).

It keeps the list and its version (0 when empty), applies Full and Differential updates, and
authorizes from the list: offline when LocalAuthorizeOffline is set, online without waiting for
the Central System when LocalPreAuthorize is set. Without LocalAuthListManagement in
SupportedFeatureProfiles it answers like a charger without the profile (-1, NotSupported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from kilowatt.ocpp.v16.enums import AuthorizationStatus, UpdateStatus, UpdateType
from kilowatt.ocpp.v16.messages import IdTagInfo, SendLocalListRequest

from .configuration import Configuration

__all__ = ["LocalList", "authorize_locally", "supports_local_list"]

PROFILE = "LocalAuthListManagement"


def supports_local_list(configuration: Configuration) -> bool:
    profiles = configuration["SupportedFeatureProfiles"].split(",")
    return PROFILE in {p.strip() for p in profiles} and "LocalAuthListEnabled" in configuration


@dataclass(slots=True)
class LocalList:
    version: int = 0
    entries: dict[str, IdTagInfo] = field(default_factory=dict)
    #: Every SendLocalList.req received, in order (tests read it).
    updates: list[SendLocalListRequest] = field(default_factory=list)

    def apply(self, req: SendLocalListRequest, max_length: int) -> UpdateStatus:
        """SendLocalList.req: VersionMismatch for a Differential not above the current version,
        Failed when the result would exceed LocalAuthListMaxLength (or a Full lacks an
        idTagInfo); the list is unchanged unless Accepted."""
        self.updates.append(req)
        data = req.local_authorization_list or []
        if req.update_type is UpdateType.FULL:
            entries: dict[str, IdTagInfo] = {}
        else:
            if req.list_version <= self.version:
                return UpdateStatus.VERSION_MISMATCH
            entries = dict(self.entries)
        for item in data:
            if item.id_tag_info is not None:
                entries[item.id_tag] = item.id_tag_info
            elif req.update_type is UpdateType.FULL:
                return UpdateStatus.FAILED  # idTagInfo is required in a Full update (§7.1)
            else:
                entries.pop(item.id_tag, None)
        if len(entries) > max_length:
            return UpdateStatus.FAILED
        self.entries = entries
        self.version = req.list_version if entries else 0  # 0: the list is empty (§5.10)
        return UpdateStatus.ACCEPTED

    def lookup(self, id_tag: str, now: datetime | None = None) -> AuthorizationStatus | None:
        """The list's verdict on ``id_tag`` (None: not on the list); an Accepted entry past its
        expiryDate is Expired (§3.5.4)."""
        info = self.entries.get(id_tag)
        if info is None:
            return None
        now = now or datetime.now(UTC)
        expired = info.expiry_date is not None and info.expiry_date <= now
        if info.status is AuthorizationStatus.ACCEPTED and expired:
            return AuthorizationStatus.EXPIRED
        return info.status


class _Station(Protocol):
    configuration: Configuration
    local_list: LocalList

    @property
    def online(self) -> bool: ...

    @property
    def accepted(self) -> bool: ...


def authorize_locally(station: _Station, id_tag: str) -> AuthorizationStatus | None:
    """The list's answer when the station decides locally, None when it asks the CSMS:
    offline (or not yet accepted) with LocalAuthorizeOffline, any entry counts (an entry that
    is not Accepted is refused, §3.5.4); online with LocalPreAuthorize, only Accepted entries
    start at once."""
    config = station.configuration
    if not supports_local_list(config) or not config.get_bool("LocalAuthListEnabled"):
        return None
    status = station.local_list.lookup(id_tag)
    if status is None:
        return None
    if not (station.online and station.accepted):
        return status if config.get_bool("LocalAuthorizeOffline") else None
    if config.get_bool("LocalPreAuthorize") and status is AuthorizationStatus.ACCEPTED:
        return status
    return None
