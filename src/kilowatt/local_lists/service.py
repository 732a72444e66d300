"""The rules of local lists that need the database: which tokens a station's list holds, the
station's limits, whether it takes part in automatic synchronisation, and the operator's view.
Services never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.local_lists import lists, repository
from kilowatt.local_lists.lists import Entries
from kilowatt.local_lists.models import LocalAuthList
from kilowatt.stations.models import Station

PROFILE = "LocalAuthListManagement"
LIST_MAX = "LocalAuthListMaxLength"
SEND_MAX = "SendLocalListMaxLength"
PROFILES = "SupportedFeatureProfiles"
ENABLED = "LocalAuthListEnabled"
# What auto-enrolment asks a station it knows nothing about (GetConfiguration.req ``key``).
ENROL_KEYS = (PROFILES, ENABLED, LIST_MAX, SEND_MAX)

UNKNOWN, IN_SYNC, STALE, FAILED, UNSUPPORTED = (
    "unknown",
    "in_sync",
    "stale",
    "failed",
    "unsupported",
)


@dataclass(frozen=True, slots=True)
class Limits:
    """The station's LocalAuthListMaxLength and SendLocalListMaxLength, where known."""

    list_max: int | None = None
    send_max: int | None = None
    advertises_profile: bool = False
    # The station's SupportedFeatureProfiles is stored (it was read or set at least once).
    profiles_known: bool = False


def _int(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


async def limits(db: AsyncSession, station_ids: Sequence[int]) -> dict[int, Limits]:
    """What the stored configuration (GetConfiguration, ChangeConfiguration) says."""
    values = await repository.configuration_values(db, station_ids, (LIST_MAX, SEND_MAX, PROFILES))
    found = {}
    for sid in station_ids:
        profiles = values.get((sid, PROFILES.lower()))
        found[sid] = Limits(
            list_max=_int(values.get((sid, LIST_MAX.lower()))),
            send_max=_int(values.get((sid, SEND_MAX.lower()))),
            advertises_profile=PROFILE in {p.strip() for p in (profiles or "").split(",")},
            profiles_known=profiles is not None,
        )
    return found


async def record(db: AsyncSession, station_id: int, now: datetime) -> LocalAuthList:
    """The station's list record, made on first use."""
    row = await repository.for_station(db, station_id)
    if row is None:
        row = LocalAuthList(station_id=station_id, state=UNKNOWN, version=0, entries={})
        row.updated_at = now
        db.add(row)
        await db.flush()
    return row


async def desired(
    db: AsyncSession, station: Station, token_group: str | None, limit: Limits, now: datetime
) -> tuple[Entries, int]:
    """What the station's list should hold now, and how many tokens did not fit."""
    tokens = await repository.tokens_of(db, station.tenant_id, token_group)
    return lists.build_entries(tokens, now, limit.list_max)


async def enrolled(db: AsyncSession, stations: Sequence[Station]) -> list[Station]:
    """The stations synchronised automatically: those with a list record that is not
    unsupported, and those whose configuration advertises the profile (and never said no)."""
    ids = [s.id for s in stations]
    rows = await repository.for_stations(db, ids)
    known = await limits(db, ids)
    chosen = []
    for station in stations:
        row = rows.get(station.id)
        if row is not None and row.state == UNSUPPORTED:
            continue
        if row is not None or known[station.id].advertises_profile:
            chosen.append(station)
    return chosen


async def to_ask(db: AsyncSession, stations: Sequence[Station]) -> list[Station]:
    """The stations auto-enrolment asks for their profiles: accepted, never synchronised (no
    list record) and whose SupportedFeatureProfiles Kilowatt has not stored."""
    ids = [s.id for s in stations]
    rows = await repository.for_stations(db, ids)
    known = await limits(db, ids)
    return [
        s
        for s in stations
        if s.registration_status == "Accepted"
        and s.id not in rows
        and not known[s.id].profiles_known
    ]


def _supported(row: LocalAuthList | None, limit: Limits) -> bool | None:
    """Whether the station has the profile, as far as Kilowatt knows (None: not known)."""
    if row is not None and row.state != UNKNOWN:
        return row.state != UNSUPPORTED
    if limit.profiles_known:
        return limit.advertises_profile
    return None


def pending_counts(current: Entries, wanted: Entries) -> dict[str, int]:
    changes = lists.diff(current, wanted)
    deletes = sum(1 for c in changes if "idTagInfo" not in c)
    return {"upserts": len(changes) - deletes, "deletes": deletes}


async def view(db: AsyncSession, station: Station, now: datetime) -> dict[str, Any]:
    """The operator's view of a station's list (nothing is stored by reading it)."""
    row = await repository.for_station(db, station.id)
    limit = (await limits(db, [station.id]))[station.id]
    token_group = row.token_group if row is not None else None
    wanted, left_out = await desired(db, station, token_group, limit, now)
    current: Entries = dict(row.entries) if row is not None else {}
    return {
        "charge_point_id": station.charge_point_id,
        "state": row.state if row is not None else UNKNOWN,
        "supported": _supported(row, limit),
        "version": row.version if row is not None else 0,
        "station_version": row.station_version if row is not None else None,
        "entries": len(current),
        "desired_entries": len(wanted),
        "left_out": left_out,
        "pending": pending_counts(current, wanted),
        "token_group": token_group,
        "local_auth_list_max_length": limit.list_max,
        "send_local_list_max_length": limit.send_max,
        "last_attempt_at": row.last_attempt_at if row is not None else None,
        "last_sync_at": row.last_sync_at if row is not None else None,
        "last_outcome": row.last_outcome if row is not None else None,
        "last_error": row.last_error if row is not None else None,
    }


async def entries_view(db: AsyncSession, station: Station, now: datetime) -> list[dict[str, Any]]:
    """Every id tag on the station's list or due to be: its idTagInfo and what is pending."""
    row = await repository.for_station(db, station.id)
    limit = (await limits(db, [station.id]))[station.id]
    wanted, _ = await desired(db, station, row.token_group if row else None, limit, now)
    current: Entries = dict(row.entries) if row is not None else {}
    items = []
    for tag in sorted(set(current) | set(wanted)):
        info = wanted.get(tag) or current[tag]
        if tag not in current:
            pending: str | None = "add"
        elif tag not in wanted:
            pending = "delete"
        else:
            pending = None if current[tag] == wanted[tag] else "update"
        items.append(
            {
                "id_tag": tag,
                "status": info["status"],
                "expiry_date": info.get("expiryDate"),
                "parent_id_tag": info.get("parentIdTag"),
                "on_station": tag in current,
                "pending": pending,
            }
        )
    return items


async def set_token_group(
    db: AsyncSession, station: Station, token_group: str | None, now: datetime
) -> LocalAuthList:
    row = await record(db, station.id, now)
    row.token_group = token_group
    row.updated_at = now
    await db.flush()
    return row
