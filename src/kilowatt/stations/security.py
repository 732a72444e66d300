"""Station security profiles (OCPP 1.6 security whitepaper, edition 3) and AuthorizationKey rotation.

A station is bound to its ``security_profile``: an upgrade that offers less than the profile asks
for is refused (A00.FR.002), and nothing sent over OCPP lowers it (A00.FR.005). Profiles:

* 0: no authentication (only while ``KILOWATT_ALLOW_UNSECURED_STATIONS`` is on);
* 1: HTTP Basic, username = charge point id, password = the AuthorizationKey (A00.FR.202-205);
* 2: as 1, over TLS (A00.FR.301-312);
* 3: TLS with a client certificate whose CN is the charge point id (A00.FR.401-407).

Keys are stored as argon2 hashes only; a key being rotated is kept as a pending hash and both
keys authenticate until the station confirms the new one. Key values never reach the message log,
the command records or the configuration as last read (``redact``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.commands.models import Command
from kilowatt.config import Settings
from kilowatt.stations import repository
from kilowatt.stations.models import Station

if TYPE_CHECKING:  # the command service imports this module (through the stations service)
    from kilowatt.commands.service import CommandService

PROFILES = (0, 1, 2, 3)
AUTHORIZATION_KEY = "AuthorizationKey"
SECURITY_PROFILE_KEY = "SecurityProfile"
REDACTED = "***"
# A00.FR.205: at least 16 bytes; the configuration key holds at most 40 (20 bytes in hex).
KEY_MIN_BYTES = 16
KEY_MAX_BYTES = 40


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """The subject of the (already chain-verified) TLS client certificate of a connection."""

    common_name: str | None
    organization: str | None


@dataclass(frozen=True, slots=True)
class TransportSecurity:
    """What the transport of an upgrade offers: TLS or not, and its client certificate."""

    tls: bool = False
    client_certificate: ClientCertificate | None = None


PLAIN = TransportSecurity()

Hasher = Callable[[str], str]
Verifier = Callable[[str, str], bool]  # (hash, key) -> whether the key matches


class Refused(Exception):
    """The upgrade does not meet the station's profile: HTTP ``status`` with ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def generate_key() -> str:
    """A fresh AuthorizationKey: 20 random bytes in hex (the whitepaper's maximum)."""
    return secrets.token_hex(20)


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an AuthorizationKey, or None if it can."""
    if not key.isascii() or not key.isprintable():
        return "the key must be printable ASCII"
    if not KEY_MIN_BYTES <= len(key) <= KEY_MAX_BYTES:
        return f"the key must be {KEY_MIN_BYTES} to {KEY_MAX_BYTES} bytes"
    return None


def check(
    station: Station,
    settings: Settings,
    charge_point_id: str,
    authorization: tuple[str, str] | None,
    transport: TransportSecurity,
    verify: Verifier,
) -> bool:
    """Raise ``Refused`` unless the upgrade meets the station's profile.

    ``verify(hash, password) -> bool`` checks a key. Returns True when the station
    authenticated with its pending key (the caller makes that key the current one).
    """
    profile = station.security_profile
    if profile == 0:
        if not settings.allow_unsecured_stations:
            raise Refused(401, "unsecured stations are not accepted")
        return False
    if profile >= 2 and not transport.tls:
        raise Refused(403, f"security profile {profile} requires TLS")
    if profile == 3:
        _check_certificate(settings, charge_point_id, transport.client_certificate)
        return False
    return _check_basic(station, charge_point_id, authorization, verify)


def _check_basic(
    station: Station, charge_point_id: str, authorization: tuple[str, str] | None, verify: Verifier
) -> bool:
    if authorization is None:
        raise Refused(401, "authentication required")
    username, password = authorization
    # A00.FR.204: the username is the charge point id.
    if username != charge_point_id:
        raise Refused(401, "invalid credentials")
    if station.auth_password_hash is not None and verify(station.auth_password_hash, password):
        return False
    if station.auth_key_pending_hash is not None and verify(
        station.auth_key_pending_hash, password
    ):
        return True
    raise Refused(401, "invalid credentials")


def _check_certificate(
    settings: Settings, charge_point_id: str, certificate: ClientCertificate | None
) -> None:
    # The chain (trusted CA, validity period) was verified by the TLS handshake (A00.FR.403).
    if certificate is None:
        raise Refused(403, "security profile 3 requires a client certificate")
    if certificate.common_name != charge_point_id:  # A00.FR.405
        raise Refused(403, "the client certificate belongs to another station")
    if settings.tls_client_org and certificate.organization != settings.tls_client_org:
        raise Refused(403, "the client certificate is not the operator's")  # A00.FR.404


def raise_problem(station: Station, settings: Settings, profile: int) -> str | None:
    """Why ``station`` cannot move to ``profile`` (the server side), or None if it can."""
    if profile not in PROFILES:
        return "the security profile must be 0, 1, 2 or 3"
    if profile in (1, 2) and station.auth_password_hash is None:
        return f"security profile {profile} needs an AuthorizationKey: set or rotate one first"
    if profile >= 2 and not settings.tls_cert:
        return f"security profile {profile} needs TLS: set KILOWATT_TLS_CERT"
    if profile == 3 and not settings.tls_client_ca:
        return "security profile 3 needs client certificates: set KILOWATT_TLS_CLIENT_CA"
    return None


# ---- rotation ---------------------------------------------------------------------------------


def begin_rotation(station: Station, key: str, hasher: Hasher) -> None:
    """Keep ``key`` as the pending key: it authenticates alongside the current one."""
    station.auth_key_pending_hash = hasher(key)


def promote_pending(station: Station) -> None:
    """The station proved it holds the pending key: it becomes the only one."""
    if station.auth_key_pending_hash is not None:
        station.auth_password_hash = station.auth_key_pending_hash
        station.auth_key_pending_hash = None


def drop_pending(station: Station) -> None:
    """The station refused the new key: the current one stays, the pending one is forgotten."""
    station.auth_key_pending_hash = None


async def configuration_accepted(
    db: AsyncSession, station_id: int, key: str, value: str, hasher: Hasher, verify: Verifier
) -> bool:
    """Apply a ChangeConfiguration of ``AuthorizationKey`` or ``SecurityProfile`` the station
    accepted; True if ``key`` was one of them (its value must then not be stored)."""
    if key not in (AUTHORIZATION_KEY, SECURITY_PROFILE_KEY):
        return False
    station = await repository.by_id(db, station_id)
    if station is None:
        return True
    if key == AUTHORIZATION_KEY:
        pending = station.auth_key_pending_hash
        if pending is not None and verify(pending, value):
            promote_pending(station)
        else:  # sent as a plain command, not through rotate-key: it is the key now
            station.auth_password_hash, station.auth_key_pending_hash = hasher(value), None
        return True
    try:
        profile = int(value)
    except ValueError:
        return True
    # Only ever up (A00.FR.005, A05.FR.01): the station refuses lower values itself.
    if profile in PROFILES and profile > station.security_profile:
        station.security_profile = profile
    return False


# ---- redaction --------------------------------------------------------------------------------


def _redact_value(item: Any) -> bool:
    changed = False
    if isinstance(item, dict):
        if item.get("key") == AUTHORIZATION_KEY and item.get("value") not in (None, REDACTED):
            item["value"] = REDACTED
            changed = True
        for value in item.values():
            changed = _redact_value(value) or changed
    elif isinstance(item, list):
        for value in item:
            changed = _redact_value(value) or changed
    return changed


def redact_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with every AuthorizationKey value replaced (a copy; the input is kept)."""
    if AUTHORIZATION_KEY not in orjson.dumps(payload).decode():
        return payload
    copy = orjson.loads(orjson.dumps(payload))
    _redact_value(copy)
    return dict(copy)


def redact_frame(frame: str) -> str:
    """An OCPP-J frame with every AuthorizationKey value replaced; cheap when there is none."""
    if AUTHORIZATION_KEY not in frame:
        return frame
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return f'"frame withheld: it names {AUTHORIZATION_KEY} and is not valid JSON"'
    if not _redact_value(message):
        return frame
    return orjson.dumps(message).decode()


@event.listens_for(Command, "before_insert")
def _redact_command(_mapper: Any, _connection: Any, command: Command) -> None:
    # The command record keeps what was asked, not the key: a new dict, so that the payload
    # object the command service is sending is untouched.
    if command.action == "ChangeConfiguration" and isinstance(command.request, dict):
        command.request = redact_payload(command.request)


# ---- operator actions: rotate the key, raise the profile ----------------------------------------

# A ChangeConfiguration the station took (RebootRequired: it took it, effective after a reboot).
TAKEN = ("Accepted", "RebootRequired")


@dataclass(frozen=True, slots=True)
class SecurityChange:
    """The outcome of a key rotation or a profile raise: the command and where the station is."""

    command: Command
    security_profile: int
    key: str  # "current" (the new key is the only one), "pending" (both work), "unchanged"
    reset: Command | None = None


class NotPossible(Exception):
    """The change conflicts with the station's state (HTTP 409)."""


def _key_state(station: Station) -> str:
    return "pending" if station.auth_key_pending_hash is not None else "current"


def _never_reached(command: Command) -> bool:
    """The station certainly does not hold what the command carried."""
    if command.state == "completed":
        return command.outcome not in TAKEN
    if command.state == "error":
        return True  # a CALLERROR (NotSupported, …): nothing was applied
    # "offline" before sending; a timeout or a disconnect after sending is ambiguous.
    return command.state == "offline" and command.sent_at is None


async def rotate_key(
    sessions: async_sessionmaker[AsyncSession],
    commands: CommandService,
    charge_point_id: str,
    key: str | None,
    hasher: Hasher,
    *,
    wait: float,
    requested_by: str,
) -> SecurityChange:
    """Send a new AuthorizationKey (``key``, or a generated one) with ChangeConfiguration.

    The key is pending until the station accepts it; then the old one stops working. Refused,
    the old key stays and the new one is forgotten; with no answer both keep working.
    """
    key = generate_key() if key is None else key
    problem = key_problem(key)
    if problem is not None:
        raise ValueError(problem)
    async with sessions() as db:
        station = await repository.by_charge_point_id(db, charge_point_id)
        if station is None:
            raise LookupError(charge_point_id)
        begin_rotation(station, key, hasher)
        await db.commit()
    command = await commands.send(
        charge_point_id,
        "ChangeConfiguration",
        {"key": AUTHORIZATION_KEY, "value": key},
        wait=wait,
        requested_by=requested_by,
    )
    async with sessions() as db:
        station = await repository.by_charge_point_id(db, charge_point_id)
        assert station is not None
        if _never_reached(command):
            drop_pending(station)
            await db.commit()
            state = "unchanged"
        else:
            state = _key_state(station)
        return SecurityChange(command, station.security_profile, state)


async def raise_profile(
    sessions: async_sessionmaker[AsyncSession],
    commands: CommandService,
    settings: Settings,
    charge_point_id: str,
    profile: int,
    *,
    reset: bool,
    wait: float,
    requested_by: str,
) -> SecurityChange:
    """Ask the station to move up to ``profile`` (ChangeConfiguration SecurityProfile); when it
    accepts, the new profile is enforced and, with ``reset``, a Hard reset makes it reconnect
    with it (TC_083). Lowering is never done over OCPP (A00.FR.005): ``NotPossible``."""
    async with sessions() as db:
        station = await repository.by_charge_point_id(db, charge_point_id)
        if station is None:
            raise LookupError(charge_point_id)
        if profile <= station.security_profile:
            raise NotPossible(
                f"the station is on security profile {station.security_profile}; OCPP can only"
                " raise it (A00.FR.005)"
            )
        problem = raise_problem(station, settings, profile)
        if problem is not None:
            raise NotPossible(problem)
    command = await commands.send(
        charge_point_id,
        "ChangeConfiguration",
        {"key": SECURITY_PROFILE_KEY, "value": str(profile)},
        wait=wait,
        requested_by=requested_by,
    )
    reset_command = None
    if reset and command.state == "completed" and command.outcome in TAKEN:
        reset_command = await commands.send(
            charge_point_id, "Reset", {"type": "Hard"}, wait=wait, requested_by=requested_by
        )
    async with sessions() as db:
        station = await repository.by_charge_point_id(db, charge_point_id)
        assert station is not None
        return SecurityChange(command, station.security_profile, _key_state(station), reset_command)
