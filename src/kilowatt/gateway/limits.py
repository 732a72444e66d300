"""Connection limits of the OCPP endpoint: handshake rates, the connection cap, message rates.

Token buckets throughout (``rate`` tokens a second, at most ``burst`` kept). Time comes in as
``now`` (monotonic seconds) so the rules are tested without a clock; the gateway passes
``time.monotonic()``. What each limit does to a station is in docs/connection-limits.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kilowatt.config import Settings

__all__ = [
    "QUEUED_PER_SLOT",
    "REFUSAL_REPORT_WINDOW",
    "ConnectionLimits",
    "KeyedBuckets",
    "MessageThrottle",
    "Refusal",
    "RefusalReports",
    "TokenBucket",
]

#: A refused handshake is reported (``security.connection_refused``) at most once per window
#: and key, with the number of refusals since the last report: a flood is one event a minute.
REFUSAL_REPORT_WINDOW = 60.0

#: Handshakes that may wait for each of the node's ``max_pending_handshakes`` slots (each holds a
#: socket and a coroutine, no database work); beyond, new ones are refused at once.
QUEUED_PER_SLOT = 16


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` kept; starts full."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is (none taken)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


class KeyedBuckets:
    """One token bucket per key (source address, charge point id). Buckets that have refilled
    are forgotten once ``max_keys`` is passed, so memory stays bounded under a flood of keys."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """As TokenBucket.take for ``key``'s bucket."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            # Every bucket is in use: drop the oldest half (a flood of distinct keys; each
            # forgotten key merely gets a fresh burst, which the address limit still caps).
            for key in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[key]


class RefusalReports:
    """Say when a refusal for a key is to be reported: the first, then at most once a window."""

    def __init__(self, window: float = REFUSAL_REPORT_WINDOW, *, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}  # key -> (reported at, refused since)

    def refused(self, key: str, now: float) -> int | None:
        """Count a refusal; return how many it stands for if it is to be reported now, else None."""
        last = self._last.get(key)
        if last is not None and now - last[0] < self.window:
            self._last[key] = (last[0], last[1] + 1)
            return None
        if last is None and len(self._last) >= self.max_keys:
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self.window}
        self._last[key] = (now, 0)
        return 1 + (last[1] if last is not None else 0)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A WebSocket upgrade refused by a limit: the HTTP status, why, and when to come back."""

    status: int
    reason: str
    retry_after: int  # whole seconds, >= 1
    key: str  # what the limit counts, e.g. "address:10.0.0.7", for the refusal report

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class ConnectionLimits:
    """The node's handshake rate limits and connection cap (one per Gateway)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_address = KeyedBuckets(
            settings.handshake_rate_per_address, settings.handshake_burst_per_address
        )
        self.by_id = KeyedBuckets(settings.handshake_rate_per_id, settings.handshake_burst_per_id)
        self.reports = RefusalReports()
        self.refused = 0  # handshakes refused by a limit since start (metrics, tests)

    def admit(
        self,
        address: str | None,
        charge_point_id: str,
        connected: int,
        replaces: bool,
        now: float,
        *,
        pending: int = 0,
    ) -> Refusal | None:
        """Whether an upgrade may go on to authentication; ``connected`` is the node's current
        station count, ``replaces`` whether the id is connected (a reconnect never adds one),
        ``pending`` how many handshakes are authenticating or waiting for their turn to."""
        if pending >= QUEUED_PER_SLOT * self.settings.max_pending_handshakes:
            # Checked first and costs no token: the node is busy, not the address or the id.
            self.refused += 1
            return Refusal(503, "too many handshakes in progress on this node", 1, "node:pending")
        refusal = self._check(address, charge_point_id, connected, replaces, now)
        if refusal is not None:
            self.refused += 1
        return refusal

    def _check(
        self, address: str | None, charge_point_id: str, connected: int, replaces: bool, now: float
    ) -> Refusal | None:
        if address is not None:
            wait = self.by_address.take(address, now)
            if wait > 0:
                return Refusal(
                    429, "too many connection attempts from this address", _seconds(wait),
                    f"address:{address}",
                )  # fmt: skip
        wait = self.by_id.take(charge_point_id, now)
        if wait > 0:
            return Refusal(
                429, "too many connection attempts for this charge point", _seconds(wait),
                f"id:{charge_point_id}",
            )  # fmt: skip
        if connected >= self.settings.max_station_connections and not replaces:
            # No bucket says when a place frees up: come back in about one handshake interval.
            return Refusal(503, "too many station connections on this node", 10, "node:capacity")
        return None

    def report(self, refusal: Refusal, now: float) -> int | None:
        """How many refusals to report for ``refusal``'s key now, or None (reported recently)."""
        return self.reports.refused(refusal.key, now)

    def message_throttle(self) -> MessageThrottle:
        s = self.settings
        return MessageThrottle(
            s.station_message_rate, s.station_message_burst, s.ws_flood_close_after
        )


class MessageThrottle:
    """Messages a second one station may send. Above the rate the reader waits for a token
    (the socket is not read meanwhile, so TCP slows the station); a station that keeps the
    reader waiting, with the bucket never back to half full, for ``flood_after`` seconds is
    flooding. (Messages are handled one at a time, so a station never gets more than the
    server's handling speed; the rate matters for the cheap ones: invalid frames, strays.)"""

    __slots__ = ("_bucket", "burst", "flood_after", "rate", "throttled", "throttled_since")

    def __init__(self, rate: float, burst: int, flood_after: float) -> None:
        self.rate = rate
        self.burst = burst
        self.flood_after = flood_after
        self._bucket: TokenBucket | None = None
        self.throttled_since: float | None = None
        self.throttled = 0  # messages that had to wait

    def delay(self, now: float) -> float:
        """Seconds to wait before handling the message just read (0.0: at once)."""
        if self._bucket is None:
            self._bucket = TokenBucket(self.rate, self.burst, now)
        wait = self._bucket.take(now)
        if wait <= 0:
            # A break only counts once the bucket has half refilled: a station that stays
            # just at the limit keeps its throttled streak.
            if self._bucket.tokens >= self.burst / 2:
                self.throttled_since = None
            return 0.0
        self.throttled += 1
        if self.throttled_since is None:
            self.throttled_since = now
        # The wait is paid now: take the token it waits for (the bucket goes into debt).
        self._bucket.tokens -= 1.0
        return wait

    def flooding(self, now: float) -> bool:
        since = self.throttled_since
        return since is not None and now - since >= self.flood_after
