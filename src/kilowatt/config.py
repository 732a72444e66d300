"""Settings from ``KILOWATT_*`` environment variables, with embedded defaults.

The defaults run everything embedded (SQLite file in the data directory, in-process bus) with
no set-up. Secrets are never shipped: the first run generates them into the data directory.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any


class UnknownStationPolicy(StrEnum):
    """What the gateway does with a charge point id it has never seen."""

    REJECT = "reject"  # refuse the WebSocket upgrade (production default)
    PENDING = "pending"  # register it, answer its BootNotification with Pending
    AUTO_REGISTER = "auto"  # register it and accept it (demo default)


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".kilowatt")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8180
    unknown_station_policy: UnknownStationPolicy = UnknownStationPolicy.REJECT
    heartbeat_interval: int = 300  # seconds, sent in BootNotification.conf
    pending_retry_interval: int = 60  # seconds, the interval of a Pending/Rejected boot
    call_timeout: float = 30.0  # seconds a station has to answer a CALL
    ws_ping_interval: float = 20.0  # WebSocket ping; a station that misses it goes offline
    ws_ping_timeout: float = 20.0
    # Connection limits (docs/connection-limits.md): WebSocket upgrades per source address and
    # per charge point id (token buckets: per second, burst), concurrent station connections of
    # this node, the largest message (bytes, after permessage-deflate), and messages per second
    # a station may send (above it its reader is slowed; throttled without a break for
    # ws_flood_close_after seconds, it is closed with 1008).
    handshake_rate_per_address: float = 20.0
    handshake_burst_per_address: int = 40
    handshake_rate_per_id: float = 1.0
    handshake_burst_per_id: int = 5
    max_station_connections: int = 25_000
    max_pending_handshakes: int = 64
    # Writer tasks of the receive loop's group commit (0: 1 on SQLite, none on PostgreSQL).
    db_writers: int = 0
    handshake_queue_seconds: float = 20.0
    ws_max_message_bytes: int = 64 * 1024
    station_message_rate: float = 20.0
    station_message_burst: int = 100
    ws_flood_close_after: float = 60.0
    message_log_retention_days: int = 30
    admin_api_key: str = field(default="", repr=False)
    # Driver API: how long a start waits for the charger's answer (the seed's 15 s), and how
    # long an accepted start may stay pending before it expires (the charger's ConnectionTimeOut).
    start_timeout: float = 15.0
    connection_timeout: float = 180.0
    # Connectors' public codes: "<evse_operator_id>*E<station>*<connector>", e.g. DE*KWT*E12*1.
    evse_operator_id: str = "DE*KWT"
    # Where the driver web app lives; QR codes encode "<public_url>/app/start?evse=<EVSE id>".
    public_url: str = "http://127.0.0.1:8180"
    log_level: str = "info"
    log_format: str = "text"  # "text" (readable) or "json" (one object per line, production)
    # HS256 key of the access tokens (JWT); empty = the data directory's generated one.
    jwt_secret: str = field(default="", repr=False)
    access_token_ttl: int = 900  # seconds an access token is valid
    refresh_token_ttl: int = 30 * 24 * 3600  # seconds a refresh token is valid (each rotation)
    # Access tokens carry and require these (docs/auth.md); the algorithm is pinned to one HMAC.
    jwt_issuer: str = "kilowatt"
    jwt_audience: str = "kilowatt-api"
    jwt_algorithm: str = "HS256"
    # Failed logins (docs/auth.md "Login limits"): per account, N in a row lock it for the lock
    # time, doubling with each further lock-out up to the maximum; per source address, N within
    # the window lock the address for the rest of the window. Refreshes count per address.
    login_max_failures: int = 5
    login_lock_seconds: float = 900.0
    login_lock_max_seconds: float = 86_400.0
    login_address_max_failures: int = 20
    login_address_window: float = 600.0
    # Largest request body of the API (bytes); firmware and diagnostics uploads have their own.
    max_body_bytes: int = 1 << 20
    # Payments: "none" (costs are computed and invoiced elsewhere) or "stripe".
    payment_provider: str = "none"
    stripe_api_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    # What a driver's card is pre-authorized for when an app session starts (tariff currency).
    payment_hold_amount: Decimal = Decimal("50")
    # Seconds between capture attempts; after the last one the payment is marked unpaid.
    payment_retry_delays: tuple[float, ...] = (30.0, 120.0, 600.0, 3600.0, 21600.0)
    # Energy faster than this (W) on a connector with no limit of its own is implausible.
    billing_max_power_w: int = 400_000
    # A bill closed from our last reading becomes final this long after, if the charger's own
    # StopTransaction never comes (seconds).
    billing_finalise_after: float = 24 * 3600.0
    # Bearer token Prometheus may scrape GET /metrics with; empty = admins only (the admin key
    # or a platform admin's login).
    metrics_token: str = field(default="", repr=False)
    # Webhooks: seconds between delivery attempts (the first is immediate; after the last
    # retry the delivery is marked failed), the timeout of one attempt, how many deliveries in
    # a row may fail before the subscription is switched off (0: never), how many events may
    # wait to be recorded (more are dropped and counted), and how long finished deliveries are
    # kept in the delivery log (days).
    webhook_retry_delays: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0)
    webhook_timeout: float = 10.0
    webhook_disable_after: int = 20
    webhook_queue_size: int = 10_000
    webhook_retention_days: int = 30
    # Reservations: how long a reservation holds a connector unless the request says (minutes).
    reservation_minutes: int = 15
    # Firmware and diagnostics (docs/firmware.md): upload limits in bytes, how long a firmware
    # download URL stays valid after its retrieve date and a diagnostics upload URL after the
    # request (seconds), and the key signing both (empty: generated into the data directory).
    firmware_max_bytes: int = 512 * 1024 * 1024
    diagnostics_max_bytes: int = 100 * 1024 * 1024
    firmware_url_ttl: float = 7 * 24 * 3600.0
    diagnostics_url_ttl: float = 24 * 3600.0
    file_url_secret: str = field(default="", repr=False)
    # Local lists (docs/local-lists.md): ask a new station whether it has the Local Auth List
    # Management profile (GetConfiguration) and synchronise its list without an operator.
    local_list_auto_enrol: bool = True
    # Security whitepaper (docs/security-messages.md): the CA that signs charge point
    # certificates, PEM files; both empty = a development CA generated into the data directory.
    station_ca_cert: str = ""
    station_ca_key: str = field(default="", repr=False)
    # Station security profiles (docs/security-profiles.md): whether stations of profile 0 (no
    # authentication) may connect, and TLS for profiles 2 and 3: the server's certificate and
    # key (PEM files), the CA bundle client certificates must chain to (profile 3), and the O
    # (organizationName) client certificates must carry, if set.
    allow_unsecured_stations: bool = True
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    tls_client_org: str = ""

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'kilowatt.db').resolve()}"

    @property
    def effective_db_writers(self) -> int:
        """Group-commit writers: as configured, else one on SQLite (a single writer, an fsync
        per commit) and none on PostgreSQL (each message its own transaction, concurrently;
        see gateway/group_commit.py)."""
        if self.db_writers > 0:
            return self.db_writers
        return 1 if self.effective_database_url.startswith("sqlite") else 0

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _flag(value: str, name: str) -> bool:
    word = value.strip().lower()
    if word not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"KILOWATT_{name} must be true or false")
    return word in ("1", "true", "yes", "on")


def load_settings(*, environ: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment (and ``.env``); generate missing dev secrets."""
    env = dict(_read_dotenv(Path(".env")))
    env.update(environ if environ is not None else os.environ)

    def get(name: str, default: str) -> str:
        return env.get(f"KILOWATT_{name}", default)

    data_dir = Path(get("DATA_DIR", ".kilowatt"))
    settings = Settings(
        data_dir=data_dir,
        database_url=get("DATABASE_URL", ""),
        host=get("HOST", "127.0.0.1"),
        port=int(get("PORT", "8180")),
        unknown_station_policy=UnknownStationPolicy(get("UNKNOWN_STATIONS", "reject")),
        heartbeat_interval=int(get("HEARTBEAT_INTERVAL", "300")),
        pending_retry_interval=int(get("PENDING_RETRY_INTERVAL", "60")),
        call_timeout=float(get("CALL_TIMEOUT", "30")),
        ws_ping_interval=float(get("WS_PING_INTERVAL", "20")),
        ws_ping_timeout=float(get("WS_PING_TIMEOUT", "20")),
        handshake_rate_per_address=float(get("HANDSHAKE_RATE_PER_ADDRESS", "20")),
        handshake_burst_per_address=int(get("HANDSHAKE_BURST_PER_ADDRESS", "40")),
        handshake_rate_per_id=float(get("HANDSHAKE_RATE_PER_ID", "1")),
        handshake_burst_per_id=int(get("HANDSHAKE_BURST_PER_ID", "5")),
        max_station_connections=int(get("MAX_STATION_CONNECTIONS", "25000")),
        max_pending_handshakes=int(get("MAX_PENDING_HANDSHAKES", "64")),
        db_writers=int(get("DB_WRITERS", "0")),
        handshake_queue_seconds=float(get("HANDSHAKE_QUEUE_SECONDS", "20")),
        ws_max_message_bytes=int(get("WS_MAX_MESSAGE_BYTES", str(64 * 1024))),
        station_message_rate=float(get("STATION_MESSAGE_RATE", "20")),
        station_message_burst=int(get("STATION_MESSAGE_BURST", "100")),
        ws_flood_close_after=float(get("WS_FLOOD_CLOSE_AFTER", "60")),
        message_log_retention_days=int(get("MESSAGE_LOG_RETENTION_DAYS", "30")),
        admin_api_key=get("ADMIN_API_KEY", ""),
        start_timeout=float(get("START_TIMEOUT", "15")),
        connection_timeout=float(get("CONNECTION_TIMEOUT", "180")),
        evse_operator_id=get("EVSE_OPERATOR_ID", "DE*KWT"),
        public_url=get("PUBLIC_URL", "http://127.0.0.1:8180").rstrip("/"),
        log_level=get("LOG_LEVEL", "info"),
        log_format=get("LOG_FORMAT", "text"),
        jwt_secret=get("JWT_SECRET", ""),
        access_token_ttl=int(get("ACCESS_TOKEN_TTL", "900")),
        refresh_token_ttl=int(get("REFRESH_TOKEN_TTL", str(30 * 24 * 3600))),
        jwt_issuer=get("JWT_ISSUER", "kilowatt"),
        jwt_audience=get("JWT_AUDIENCE", "kilowatt-api"),
        jwt_algorithm=get("JWT_ALGORITHM", "HS256"),
        login_max_failures=int(get("LOGIN_MAX_FAILURES", "5")),
        login_lock_seconds=float(get("LOGIN_LOCK_SECONDS", "900")),
        login_lock_max_seconds=float(get("LOGIN_LOCK_MAX_SECONDS", "86400")),
        login_address_max_failures=int(get("LOGIN_ADDRESS_MAX_FAILURES", "20")),
        login_address_window=float(get("LOGIN_ADDRESS_WINDOW", "600")),
        max_body_bytes=int(get("MAX_BODY_BYTES", str(1 << 20))),
        payment_provider=get("PAYMENT_PROVIDER", "none"),
        stripe_api_key=get("STRIPE_API_KEY", ""),
        stripe_webhook_secret=get("STRIPE_WEBHOOK_SECRET", ""),
        stripe_api_base=get("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/"),
        payment_hold_amount=Decimal(get("PAYMENT_HOLD_AMOUNT", "50")),
        payment_retry_delays=tuple(
            float(x) for x in get("PAYMENT_RETRY_DELAYS", "30,120,600,3600,21600").split(",")
        ),
        billing_max_power_w=int(get("BILLING_MAX_POWER_W", "400000")),
        billing_finalise_after=float(get("BILLING_FINALISE_AFTER", str(24 * 3600))),
        metrics_token=get("METRICS_TOKEN", ""),
        webhook_retry_delays=tuple(  # empty: no retries
            float(x)
            for x in get("WEBHOOK_RETRY_DELAYS", "5,30,120,600,3600,21600").split(",")
            if x.strip()
        ),
        webhook_timeout=float(get("WEBHOOK_TIMEOUT", "10")),
        webhook_disable_after=int(get("WEBHOOK_DISABLE_AFTER", "20")),
        webhook_queue_size=int(get("WEBHOOK_QUEUE_SIZE", "10000")),
        webhook_retention_days=int(get("WEBHOOK_RETENTION_DAYS", "30")),
        reservation_minutes=int(get("RESERVATION_MINUTES", "15")),
        firmware_max_bytes=int(get("FIRMWARE_MAX_BYTES", str(512 * 1024 * 1024))),
        diagnostics_max_bytes=int(get("DIAGNOSTICS_MAX_BYTES", str(100 * 1024 * 1024))),
        firmware_url_ttl=float(get("FIRMWARE_URL_TTL", str(7 * 24 * 3600))),
        diagnostics_url_ttl=float(get("DIAGNOSTICS_URL_TTL", str(24 * 3600))),
        file_url_secret=get("FILE_URL_SECRET", ""),
        local_list_auto_enrol=_flag(get("LOCAL_LIST_AUTO_ENROL", "true"), "LOCAL_LIST_AUTO_ENROL"),
        station_ca_cert=get("STATION_CA_CERT", ""),
        station_ca_key=get("STATION_CA_KEY", ""),
        allow_unsecured_stations=_flag(
            get("ALLOW_UNSECURED_STATIONS", "true"), "ALLOW_UNSECURED_STATIONS"
        ),
        tls_cert=get("TLS_CERT", ""),
        tls_key=get("TLS_KEY", ""),
        tls_client_ca=get("TLS_CLIENT_CA", ""),
        tls_client_org=get("TLS_CLIENT_ORG", ""),
    )
    if (settings.tls_key or settings.tls_client_ca) and not settings.tls_cert:
        raise ValueError("KILOWATT_TLS_KEY and KILOWATT_TLS_CLIENT_CA need KILOWATT_TLS_CERT")
    if any(delay < 0 for delay in settings.webhook_retry_delays):
        raise ValueError("KILOWATT_WEBHOOK_RETRY_DELAYS must be seconds >= 0, comma-separated")
    if settings.db_writers < 0:
        raise ValueError("KILOWATT_DB_WRITERS must be >= 0 (0: 1 on SQLite, none on PostgreSQL)")
    if settings.webhook_timeout <= 0 or settings.webhook_queue_size < 1:
        raise ValueError("KILOWATT_WEBHOOK_TIMEOUT and KILOWATT_WEBHOOK_QUEUE_SIZE must be > 0")
    if (
        min(settings.handshake_rate_per_address, settings.handshake_rate_per_id) <= 0
        or min(settings.handshake_burst_per_address, settings.handshake_burst_per_id) < 1
        or settings.station_message_rate <= 0
        or settings.station_message_burst < 1
        or settings.max_station_connections < 1
        or settings.max_pending_handshakes < 1
        or settings.handshake_queue_seconds <= 0
        or settings.ws_max_message_bytes < 1024
    ):
        raise ValueError(
            "connection limits: rates must be > 0, bursts, KILOWATT_MAX_STATION_CONNECTIONS and"
            " KILOWATT_MAX_PENDING_HANDSHAKES >= 1, KILOWATT_HANDSHAKE_QUEUE_SECONDS > 0,"
            " KILOWATT_WS_MAX_MESSAGE_BYTES >= 1024"
        )
    if not 1 <= settings.reservation_minutes <= 24 * 60:
        raise ValueError("KILOWATT_RESERVATION_MINUTES must be 1 to 1440")
    if settings.log_format not in ("text", "json"):
        raise ValueError("KILOWATT_LOG_FORMAT must be text or json")
    if settings.payment_provider not in ("none", "stripe"):
        raise ValueError("KILOWATT_PAYMENT_PROVIDER must be none or stripe")
    if settings.payment_provider == "stripe" and not settings.stripe_api_key:
        raise ValueError("KILOWATT_PAYMENT_PROVIDER=stripe needs KILOWATT_STRIPE_API_KEY")
    if not settings.admin_api_key:
        settings = replace(settings, admin_api_key=dev_admin_api_key(data_dir))
    if not settings.jwt_secret:
        settings = replace(settings, jwt_secret=dev_jwt_secret(data_dir))
    elif len(settings.jwt_secret.encode()) < 32:
        raise ValueError("KILOWATT_JWT_SECRET must be at least 32 bytes (HS256 key)")
    if settings.jwt_algorithm not in ("HS256", "HS384", "HS512"):
        raise ValueError("KILOWATT_JWT_ALGORITHM must be HS256, HS384 or HS512")
    if not (settings.jwt_issuer and settings.jwt_audience):
        raise ValueError("KILOWATT_JWT_ISSUER and KILOWATT_JWT_AUDIENCE must not be empty")
    if (
        min(settings.login_max_failures, settings.login_address_max_failures) < 1
        or min(settings.login_lock_seconds, settings.login_address_window) <= 0
    ):
        raise ValueError("KILOWATT_LOGIN_* limits must be > 0")
    if settings.max_body_bytes < 1024:
        raise ValueError("KILOWATT_MAX_BODY_BYTES must be at least 1024")
    return settings


def dev_admin_api_key(data_dir: Path) -> str:
    """The admin API key of this data directory, generated on first use (mode 0600)."""
    path = data_dir / "admin-api-key"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "kw_admin_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def dev_jwt_secret(data_dir: Path) -> str:
    """The access-token (HS256) key of this data directory, generated on first use (mode 0600)."""
    path = data_dir / "jwt-secret"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret
