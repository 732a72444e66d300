"""Analytics API: the seed's success metrics and connector uptime, per tenant, site, station.

Scoped like every operator route: a tenant's caller sees their tenant (naming another tenant,
or a site or station of another tenant, is a 404); a platform admin sees every tenant, or the
one named by ``tenant``. The summary needs ``sessions:read`` and ``stations:read``; uptime and
exclusions ``stations:read`` (creating or deleting an exclusion ``stations:write``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.analytics import repository, service
from kilowatt.analytics.models import OutageExclusion
from kilowatt.analytics.repository import Scope
from kilowatt.analytics.schemas import (
    ExclusionCreate,
    ExclusionOut,
    Metric,
    ScopeOut,
    Summary,
    Timeseries,
    UptimePage,
)
from kilowatt.analytics.service import Period
from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    IdPath,
    StationsRead,
    StationsWrite,
    TenantQuery,
    id_query,
    requested_by,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import require_permission
from kilowatt.auth.principal import Principal
from kilowatt.sites import service as sites
from kilowatt.sites.api import site_problems
from kilowatt.stations import repository as stations

router = APIRouter(prefix="/api/v1", tags=["analytics"], responses=GUARDED)

SessionsRead = Annotated[Principal, Depends(require_permission("sessions:read"))]

# A year and a day: the NEVI rule's twelve months, and a leap year's.
MAX_PERIOD = timedelta(days=366)
SUMMARY_DEFAULT = timedelta(days=30)
UPTIME_DEFAULT = timedelta(days=365)

FROM_DESCRIPTION = "the period's start (ISO 8601; UTC when no offset is given)"
TO_DESCRIPTION = "the period's end, excluded (default: now)"
StationQuery = Query(None, min_length=1, max_length=255, description="only this charge point id")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _period(
    start: datetime | None, end: datetime | None, *, default: timedelta, until_now: bool = False
) -> Period:
    """[start, end) from the query (``end`` defaults to now, ``start`` to ``default`` before it);
    ``until_now``: the part that has happened (uptime is not counted ahead)."""
    now = datetime.now(UTC)
    stop = now if end is None else _aware(end)
    if until_now:
        stop = min(stop, now)
    begin = stop - default if start is None else _aware(start)
    if begin >= stop:
        raise Problem(422, "Invalid period", "'from' must be before 'to' (and, here, before now)")
    if stop - begin > MAX_PERIOD:
        raise Problem(422, "Invalid period", f"at most {MAX_PERIOD.days} days at a time")
    return Period(begin, stop)


async def _scope(
    db: AsyncSession,
    principal: Principal,
    tenant: str | None,
    site_id: int | None,
    station: str | None,
) -> tuple[Scope, ScopeOut]:
    """What the caller asks about, checked against what they may see (404 otherwise)."""
    tenant_id = (
        principal.tenant_id if tenant is None else await target_tenant(db, principal, tenant)
    )
    if site_id is not None:
        with site_problems():
            await sites.visible_site(db, site_id, tenant_id)
    station_id = None
    if station is not None:
        row = await stations.visible_station(db, station, tenant_id)
        if row is None:
            raise Problem(404, "Station not found", f"no station {station!r}")
        station_id = row.id
    return (
        Scope(tenant_id, site_id, station_id),
        ScopeOut(tenant_id=tenant_id, site_id=site_id, station=station),
    )


@router.get("/analytics/summary", responses=NOT_FOUND)
async def analytics_summary(
    request: Request,
    principal: StationsRead,
    _sessions: SessionsRead,
    start: datetime | None = Query(None, alias="from", description=FROM_DESCRIPTION),
    end: datetime | None = Query(None, alias="to", description=TO_DESCRIPTION),
    site_id: int | None = id_query("only the stations at this site"),
    station: str | None = StationQuery,
    tenant: str | None = TenantQuery,
) -> Summary:
    """The seed's success metrics over the period (default: the last 30 days): OCPP command
    success, session completion, duration and energy, unlock requests, errors by type."""
    period = _period(start, end, default=SUMMARY_DEFAULT)
    async with request.app.state.kilowatt.sessions() as db:
        scope, scope_out = await _scope(db, principal, tenant, site_id, station)
        return await service.summary(db, scope, period, scope_out)


@router.get("/analytics/timeseries", responses=NOT_FOUND)
async def analytics_timeseries(
    request: Request,
    principal: StationsRead,
    _sessions: SessionsRead,
    metric: Metric = Query(description="what each point counts (docs/analytics.md)"),
    bucket: Literal["hour", "day"] = Query("day", description="UTC hours or days"),
    start: datetime | None = Query(None, alias="from", description=FROM_DESCRIPTION),
    end: datetime | None = Query(None, alias="to", description=TO_DESCRIPTION),
    site_id: int | None = id_query("only the stations at this site"),
    station: str | None = StationQuery,
    tenant: str | None = TenantQuery,
) -> Timeseries:
    """One metric of the summary per hour or day (default: the last 30 days), empty buckets
    included (0, or null for a percentage of nothing)."""
    period = _period(start, end, default=SUMMARY_DEFAULT)
    async with request.app.state.kilowatt.sessions() as db:
        scope, scope_out = await _scope(db, principal, tenant, site_id, station)
        try:
            points = await service.timeseries(db, scope, period, metric, bucket)
        except service.TooManyBuckets as exc:
            raise Problem(422, "Too many buckets", str(exc)) from None
        return Timeseries(
            metric=metric,
            bucket=bucket,
            from_=period.start,
            to=period.end,
            scope=scope_out,
            points=points,
        )


@router.get("/analytics/uptime", responses=NOT_FOUND)
async def analytics_uptime(
    request: Request,
    principal: StationsRead,
    page: PageParams,
    start: datetime | None = Query(None, alias="from", description=FROM_DESCRIPTION),
    end: datetime | None = Query(None, alias="to", description=TO_DESCRIPTION),
    site_id: int | None = id_query("only the stations at this site"),
    station: str | None = StationQuery,
    tenant: str | None = TenantQuery,
    silence_minutes: float | None = Query(
        None,
        ge=0,
        le=7 * 24 * 60,
        description="before a station's first recorded connection, a silence longer than this "
        "counts as offline (default: two heartbeat intervals; 0: not inferred)",
    ),
) -> UptimePage:
    """Each connector's uptime over the period (default: the last 365 days, up to now), as
    23 CFR 680.116(b) (``nevi``) and the CEC (``cec``) count it, with the outage and excluded
    minutes behind it."""
    period = _period(start, end, default=UPTIME_DEFAULT, until_now=True)
    node = request.app.state.kilowatt
    if silence_minutes is None:
        silence_minutes = 2 * node.settings.heartbeat_interval / 60
    async with node.sessions() as db:
        scope, _ = await _scope(db, principal, tenant, site_id, station)
    await node.message_log.flush()  # the silences are read from the message log
    async with node.sessions() as db:
        items, total = await service.connector_uptime(
            db,
            scope,
            period,
            silence=timedelta(minutes=silence_minutes),
            now=datetime.now(UTC),
            limit=page.limit,
            offset=page.offset,
        )
        return UptimePage(
            from_=period.start,
            to=period.end,
            silence_minutes=silence_minutes,
            items=items,
            total=total,
            limit=page.limit,
            offset=page.offset,
        )


# ---- exclusions ---------------------------------------------------------------------------------
def _exclusion_out(exclusion: OutageExclusion, charge_point_id: str) -> ExclusionOut:
    return ExclusionOut(
        id=exclusion.id,
        station=charge_point_id,
        connector_id=exclusion.connector_id,
        from_=exclusion.starts_at,
        to=exclusion.ends_at,
        reason=exclusion.reason,
        note=exclusion.note,
        created_by=exclusion.created_by,
        created_at=exclusion.created_at,
    )


@router.post("/analytics/exclusions", status_code=201, responses=NOT_FOUND)
async def create_exclusion(
    request: Request, principal: StationsWrite, body: ExclusionCreate
) -> ExclusionOut:
    """Declare a time outside the operator's control (its outage is excluded from uptime)."""
    starts_at, ends_at = _aware(body.from_), _aware(body.to)
    if starts_at >= ends_at:
        raise Problem(422, "Invalid period", "'from' must be before 'to'")
    async with request.app.state.kilowatt.sessions() as db:
        station = await stations.visible_station(db, body.station, principal.tenant_id)
        if station is None:
            raise Problem(404, "Station not found", f"no station {body.station!r}")
        if body.connector_id is not None and (
            await stations.connector(db, station.id, body.connector_id) is None
        ):
            raise Problem(
                404,
                "Connector not found",
                f"no connector {body.connector_id} on {body.station!r}",
            )
        exclusion = OutageExclusion(
            station_id=station.id,
            connector_id=body.connector_id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=body.reason,
            note=body.note,
            created_by=requested_by(principal),
            created_at=datetime.now(UTC),
        )
        db.add(exclusion)
        await db.commit()
        return _exclusion_out(exclusion, station.charge_point_id)


@router.get("/analytics/exclusions", responses=NOT_FOUND)
async def list_exclusions(
    request: Request,
    principal: StationsRead,
    page: PageParams,
    start: datetime | None = Query(None, alias="from", description="overlapping from"),
    end: datetime | None = Query(None, alias="to", description="overlapping until"),
    site_id: int | None = id_query("only the stations at this site"),
    station: str | None = StationQuery,
    tenant: str | None = TenantQuery,
) -> Page[ExclusionOut]:
    """The exclusions of the scope, latest first."""
    async with request.app.state.kilowatt.sessions() as db:
        scope, _ = await _scope(db, principal, tenant, site_id, station)
        rows, total = await repository.exclusions_page(
            db,
            scope,
            start=None if start is None else _aware(start),
            end=None if end is None else _aware(end),
            limit=page.limit,
            offset=page.offset,
        )
        return Page[ExclusionOut].of([_exclusion_out(e, cp) for e, cp in rows], total, page)


@router.delete("/analytics/exclusions/{exclusion_id}", status_code=204, responses=NOT_FOUND)
async def delete_exclusion(
    request: Request, principal: StationsWrite, exclusion_id: IdPath
) -> Response:
    async with request.app.state.kilowatt.sessions() as db:
        if await repository.visible_exclusion(db, exclusion_id, principal.tenant_id) is None:
            raise Problem(404, "Exclusion not found", f"no exclusion {exclusion_id}")
        await repository.delete_exclusion(db, exclusion_id)
        await db.commit()
    return Response(status_code=204)
