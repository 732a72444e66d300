"""Campaign pacing: how many of a campaign's stations may be updating at once (``batch_size``)
and when new ones may start (a daily maintenance window in the operator's time zone).

A station is *updating* from the moment its UpdateFirmware is claimed (``sending``) until a
final state (Installed, DownloadFailed, InstallationFailed, error, cancelled) or ``offline``
(not connected, or no answer in time: it waits for its reconnection and takes no slot meanwhile).
``advance`` starts the waiting stations that fit; the worker calls it when a campaign starts,
when one of its stations finishes or goes offline, when a waiting station reconnects and when
the window opens. Outside the window no new station starts; those updating carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.firmware import repository
from kilowatt.firmware.models import FirmwareCampaign


class InvalidWindow(ValueError):
    """A maintenance window that cannot be used (unknown time zone, empty window)."""


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window of wall-clock times in ``zone``; ``end`` before ``start`` crosses
    midnight (22:00 to 04:00). Times are local: across a DST change the window keeps its hours."""

    start: time
    end: time
    zone: ZoneInfo

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_opening(self, now: datetime) -> datetime:
        """``now`` if the window is open, else when it next opens (UTC)."""
        if self.is_open(now):
            return now
        today = now.astimezone(self.zone).date()
        for day in (today, today + timedelta(days=1)):
            opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
            if opens > now:
                return opens
        raise AssertionError("a daily window opens within a day")  # pragma: no cover


def window(start: time | None, end: time | None, timezone: str | None) -> Window | None:
    """The window of these settings (None: no window); InvalidWindow if unusable."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidWindow("give both window_start and window_end")
    if start == end:
        raise InvalidWindow("window_start and window_end must differ")
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidWindow(f"unknown time zone {timezone!r}") from None
    return Window(start, end, zone)


def window_of(campaign: FirmwareCampaign) -> Window | None:
    return window(campaign.window_start, campaign.window_end, campaign.window_timezone)


def is_paced(campaign: FirmwareCampaign) -> bool:
    return campaign.batch_size is not None or campaign.window_start is not None


@dataclass(slots=True)
class Advance:
    """What one ``advance`` did: updates claimed (to send), updates found offline (moved to
    ``offline``, to publish) and, when the window is closed, when it opens."""

    claimed: list[int] = field(default_factory=list)
    offline: list[int] = field(default_factory=list)
    opens_at: datetime | None = None


async def advance(
    db: AsyncSession,
    campaign_id: int,
    now: datetime,
    connected: Callable[[str], bool],
) -> Advance:
    """Claim as many waiting stations of a paced, open campaign as its batch and window allow
    (in charge point id order). A waiting station that is not connected is moved to
    ``offline`` instead: it takes no slot and is started when it comes back. The caller
    commits, then sends the claimed updates."""
    done = Advance()
    campaign = await repository.lock_campaign(db, campaign_id)
    if campaign is None or campaign.state != "open" or not is_paced(campaign):
        return done
    open_window = window_of(campaign)
    if open_window is not None and not open_window.is_open(now):
        done.opens_at = open_window.next_opening(now)
        return done
    free = None
    if campaign.batch_size is not None:
        free = campaign.batch_size - await repository.updating_count(db, campaign_id)
    for update_id, state, charge_point_id in await repository.waiting(db, campaign_id):
        if free is not None and len(done.claimed) >= free:
            break
        if not connected(charge_point_id):
            if state == "scheduled":
                await repository.move(
                    db, update_id, ("scheduled",), "offline", now, detail="waiting for the station"
                )
                done.offline.append(update_id)
        elif await repository.claim(db, update_id, now):
            done.claimed.append(update_id)
    return done


def waiting_counts(
    campaign: FirmwareCampaign, progress: dict[str, int], now: datetime
) -> tuple[int, int]:
    """(queued, waiting_for_window): stations of a paced open campaign not started yet, waiting
    for a free slot of the batch or for the window to open."""
    if campaign.state != "open" or not is_paced(campaign):
        return 0, 0
    open_window = window_of(campaign)
    if open_window is not None and not open_window.is_open(now):
        return 0, progress.get("scheduled", 0) + progress.get("offline", 0)
    return progress.get("scheduled", 0), 0
