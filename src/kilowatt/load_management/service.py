"""The rules of a site's load-management settings and windows (the division is the manager's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.load_management import repository
from kilowatt.load_management.limits import amperes_from_kw, limit_at
from kilowatt.load_management.models import SiteAllocation, SiteLimitWindow, SiteLoadConfig
from kilowatt.load_management.schemas import (
    AllocationOut,
    InForce,
    LimitIn,
    PhaseAmps,
    ShareOut,
    SiteLoadOut,
    SiteLoadSet,
    WindowOut,
    WindowSet,
)
from kilowatt.sites.service import SiteError
from kilowatt.tenants.models import Site


def per_phase_amps(limit: LimitIn, voltage: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """The limit in A on L1, L2, L3 (kW: at ``voltage`` phase to neutral, rounded down)."""
    if limit.value is not None:
        if limit.unit == "A":
            return limit.value, limit.value, limit.value
        each = amperes_from_kw(limit.value, voltage, phases=3)
        return each, each, each
    phases = (limit.l1, limit.l2, limit.l3)
    assert all(p is not None for p in phases), "checked by LimitIn"
    l1, l2, l3 = (
        Decimal(p) if limit.unit == "A" else amperes_from_kw(p, voltage, phases=1)
        for p in phases
        if p is not None
    )
    return l1, l2, l3


def _kw(limit: LimitIn) -> Decimal | None:
    if limit.unit != "kW":
        return None
    if limit.value is not None:
        return limit.value
    return sum((p for p in (limit.l1, limit.l2, limit.l3) if p is not None), Decimal(0))


async def configure(
    db: AsyncSession, site: Site, body: SiteLoadSet, now: datetime
) -> SiteLoadConfig:
    l1, l2, l3 = per_phase_amps(body.limit, body.voltage)
    config = await repository.config(db, site.id)
    if config is None:
        config = SiteLoadConfig(site_id=site.id)
        db.add(config)
    config.enabled = body.enabled
    config.limit_l1_a, config.limit_l2_a, config.limit_l3_a = l1, l2, l3
    config.limit_kw = _kw(body.limit)
    config.voltage = body.voltage
    config.min_current_a = body.min_current_a
    config.max_current_a = body.max_current_a
    config.priorities = dict(body.priorities)
    config.updated_at = now
    await db.flush()
    return config


async def configured(db: AsyncSession, site: Site) -> SiteLoadConfig:
    config = await repository.config(db, site.id)
    if config is None:
        raise SiteError(
            404, "Not load-managed", f"site {site.id} has no load management settings yet"
        )
    return config


async def add_window(
    db: AsyncSession, site: Site, body: WindowSet, by: str, now: datetime
) -> SiteLimitWindow:
    config = await configured(db, site)
    if body.ends_at <= now:
        raise SiteError(422, "Window over", "ends_at is in the past")
    l1, l2, l3 = per_phase_amps(body.limit, config.voltage)
    window = SiteLimitWindow(
        site_id=site.id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        limit_l1_a=l1,
        limit_l2_a=l2,
        limit_l3_a=l3,
        limit_kw=_kw(body.limit),
        source=body.source,
        created_by=by,
        created_at=now,
    )
    db.add(window)
    await db.flush()
    return window


async def remove_window(db: AsyncSession, site: Site, window_id: int) -> None:
    window = await repository.window(db, site.id, window_id)
    if window is None:
        raise SiteError(404, "Not found", f"site {site.id} has no window {window_id}")
    await db.delete(window)
    await db.flush()


def _amps(l1: Decimal, l2: Decimal, l3: Decimal) -> PhaseAmps:
    return PhaseAmps(l1=l1, l2=l2, l3=l3)


def window_out(w: SiteLimitWindow) -> WindowOut:
    return WindowOut(
        id=w.id,
        site_id=w.site_id,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        limit_a=_amps(w.limit_l1_a, w.limit_l2_a, w.limit_l3_a),
        limit_kw=w.limit_kw,
        source=w.source,
        created_by=w.created_by,
        created_at=w.created_at,
    )


def allocation_out(row: SiteAllocation) -> AllocationOut:
    return AllocationOut(
        id=row.id,
        site_id=row.site_id,
        at=row.at,
        reason=row.reason,
        limit_a=_amps(row.limit_l1_a, row.limit_l2_a, row.limit_l3_a),
        load_a=_amps(row.load_l1_a, row.load_l2_a, row.load_l3_a),
        sessions=[ShareOut.model_validate(s) for s in row.sessions],
    )


def view(
    config: SiteLoadConfig,
    windows: Sequence[SiteLimitWindow],
    latest: SiteAllocation | None,
    now: datetime,
) -> SiteLoadOut:
    limit, next_change = limit_at(config, windows, now)
    return SiteLoadOut(
        site_id=config.site_id,
        enabled=config.enabled,
        limit_a=_amps(config.limit_l1_a, config.limit_l2_a, config.limit_l3_a),
        limit_kw=config.limit_kw,
        voltage=config.voltage,
        min_current_a=config.min_current_a,
        max_current_a=config.max_current_a,
        priorities=dict(config.priorities or {}),
        updated_at=config.updated_at,
        in_force=InForce(
            limit_a=_amps(limit.l1, limit.l2, limit.l3),
            window_ids=[w.id for w in windows if w.starts_at <= now < w.ends_at],
            next_change_at=next_change,
        ),
        allocation=None if latest is None else allocation_out(latest),
    )
