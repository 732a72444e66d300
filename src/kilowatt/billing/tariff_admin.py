"""An operator's administration of tariffs: a tenant's tariffs, where they apply, and which one
applies on a connector.

Services never commit; a refused operation is a ``TariffAdminError`` carrying the HTTP status of
the answer (and, for a tariff that does not parse, every error found in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing.models import Tariff, TariffAssignment
from kilowatt.billing.service import applicable_tariff, candidate_keys, scope_key
from kilowatt.billing.tariffs import TariffError, parse_tariff, tariff_to_json
from kilowatt.db import utcnow
from kilowatt.sites import repository as sites
from kilowatt.stations import repository as stations
from kilowatt.stations.models import Station
from kilowatt.tokens.models import Token

Scope = Literal["tenant", "site", "station", "connector"]


class TariffAdminError(Exception):
    def __init__(
        self, status: int, title: str, detail: str = "", errors: Sequence[str] = ()
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, list(errors)


def _not_found(tariff_id: int) -> TariffAdminError:
    return TariffAdminError(404, "Tariff not found", f"no tariff {tariff_id}")


def _canonical(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The tariff's canonical JSON form and its currency; 422 listing every error."""
    try:
        spec = parse_tariff(data)
    except TariffError as exc:
        raise TariffAdminError(
            422, "Invalid tariff", f"{len(exc.errors)} error(s) in the tariff", exc.errors
        ) from None
    return tariff_to_json(spec), spec.currency


# ---- tariffs ------------------------------------------------------------------------------------
async def tariffs_page(
    db: AsyncSession, tenant_id: int | None, *, limit: int, offset: int
) -> tuple[Sequence[Tariff], int]:
    """One page of a tenant's tariffs (None: every tenant's) by id, and the total."""
    query = select(Tariff)
    if tenant_id is not None:
        query = query.where(Tariff.tenant_id == tenant_id)
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    rows = await db.scalars(query.order_by(Tariff.id).limit(limit).offset(offset))
    return rows.all(), total or 0


async def visible_tariff(db: AsyncSession, tariff_id: int, tenant_id: int | None) -> Tariff:
    """The tariff if the caller's tenant (None: every tenant) holds it; 404 otherwise."""
    query = select(Tariff).where(Tariff.id == tariff_id)
    if tenant_id is not None:
        query = query.where(Tariff.tenant_id == tenant_id)
    tariff = await db.scalar(query)
    if tariff is None:
        raise _not_found(tariff_id)
    return tariff


async def create_tariff(
    db: AsyncSession, tenant_id: int, *, name: str, data: dict[str, Any]
) -> Tariff:
    spec, currency = _canonical(data)
    now = utcnow()
    tariff = Tariff(
        tenant_id=tenant_id,
        name=name,
        currency=currency,
        spec=spec,
        created_at=now,
        updated_at=now,
    )
    db.add(tariff)
    await db.flush()
    return tariff


async def replace_tariff(
    db: AsyncSession, tariff: Tariff, *, name: str, data: dict[str, Any]
) -> Tariff:
    """A new version of the tariff; sessions that started on an older one keep their snapshot."""
    spec, currency = _canonical(data)
    tariff.name, tariff.spec, tariff.currency = name, spec, currency
    # In SQL, so that two concurrent changes make two versions, not one.
    tariff.version = Tariff.version + 1
    tariff.updated_at = utcnow()
    await db.flush()
    await db.refresh(tariff)
    return tariff


async def delete_tariff(db: AsyncSession, tariff: Tariff, *, force: bool = False) -> None:
    """Delete a tariff; 409 while it is assigned anywhere, unless ``force`` unassigns it too.
    Sessions that paid it keep their snapshot."""
    assigned = await db.scalar(
        select(func.count())
        .select_from(TariffAssignment)
        .where(TariffAssignment.tariff_id == tariff.id)
    )
    if assigned and not force:
        raise TariffAdminError(
            409, "Tariff in use", f"assigned at {assigned} place(s): unassign it, or force"
        )
    await db.execute(delete(TariffAssignment).where(TariffAssignment.tariff_id == tariff.id))
    await db.delete(tariff)
    await db.flush()


# ---- where a tariff applies --------------------------------------------------------------------
def scope_of(assignment: TariffAssignment) -> Scope:
    if assignment.connector_id is not None:
        return "connector"
    if assignment.station_id is not None:
        return "station"
    if assignment.site_id is not None:
        return "site"
    return "tenant"


async def assignments_page(
    db: AsyncSession, tariff_id: int, *, limit: int, offset: int
) -> tuple[list[tuple[TariffAssignment, str | None]], int]:
    """One page of the tariff's assignments, each with its station's charge point id."""
    query = (
        select(TariffAssignment, Station.charge_point_id)
        .outerjoin(Station, Station.id == TariffAssignment.station_id)
        .where(TariffAssignment.tariff_id == tariff_id)
    )
    total = await db.scalar(
        select(func.count())
        .select_from(TariffAssignment)
        .where(TariffAssignment.tariff_id == tariff_id)
    )
    rows = await db.execute(query.order_by(TariffAssignment.id).limit(limit).offset(offset))
    return [(assignment, cp) for assignment, cp in rows], total or 0


async def _station_of(db: AsyncSession, ref: int | str, tenant_id: int) -> Station:
    """A station of ``tenant_id`` by its id (a number) or its charge point id (a string)."""
    if isinstance(ref, int):
        station = await stations.by_id(db, ref)
        if station is not None and station.tenant_id != tenant_id:
            station = None
    else:
        station = await stations.visible_station(db, ref, tenant_id)
    if station is None:
        raise TariffAdminError(404, "Station not found", f"no station {ref!r}")
    return station


async def _place(
    db: AsyncSession,
    tenant_id: int,
    site_id: int | None,
    station_ref: int | str | None,
    connector_id: int | None,
) -> Station | None:
    """Check that the place is one of ``tenant_id`` (404 if not); its station, if it has one."""
    if site_id is not None and station_ref is not None:
        raise TariffAdminError(422, "Two places", "name a site or a station, not both")
    if connector_id is not None and station_ref is None:
        raise TariffAdminError(422, "Connector without a station", "name the connector's station")
    if site_id is not None and await sites.site_in(db, site_id, tenant_id) is None:
        raise TariffAdminError(404, "Site not found", f"no site {site_id}")
    if station_ref is None:
        return None
    station = await _station_of(db, station_ref, tenant_id)
    if connector_id is not None and await stations.connector(db, station.id, connector_id) is None:
        raise TariffAdminError(
            404,
            "Connector not found",
            f"no connector {connector_id} on {station.charge_point_id!r}",
        )
    return station


async def assign(
    db: AsyncSession,
    tariff: Tariff,
    *,
    site_id: int | None = None,
    station_ref: int | str | None = None,
    connector_id: int | None = None,
    token_group: str | None = None,
    replace: bool = False,
) -> tuple[TariffAssignment, str | None, bool]:
    """Apply ``tariff`` at a place of its tenant (none: everywhere), for ``token_group`` only
    if given. The assignment, its station's charge point id, and whether it is new: a place
    taken already is a 409, unless ``replace`` moves its assignment to this tariff."""
    station = await _place(db, tariff.tenant_id, site_id, station_ref, connector_id)
    key = scope_key(
        site_id=site_id,
        station_id=station.id if station else None,
        connector_id=connector_id,
        token_group=token_group,
    )
    charge_point_id = station.charge_point_id if station else None
    taken = await db.scalar(
        select(TariffAssignment).where(
            TariffAssignment.tenant_id == tariff.tenant_id, TariffAssignment.scope_key == key
        )
    )
    if taken is not None:
        if not replace:
            raise TariffAdminError(
                409,
                "Place taken",
                f"tariff {taken.tariff_id} applies at {key!r} already: send replace to move it",
            )
        taken.tariff_id = tariff.id
        await db.flush()
        return taken, charge_point_id, False
    assignment = TariffAssignment(
        tenant_id=tariff.tenant_id,
        tariff_id=tariff.id,
        site_id=site_id,
        station_id=station.id if station else None,
        connector_id=connector_id,
        token_group=token_group,
        scope_key=key,
    )
    try:
        async with db.begin_nested():  # a concurrent assignment of the same place loses here
            db.add(assignment)
    except IntegrityError:
        raise TariffAdminError(409, "Place taken", f"a tariff applies at {key!r} already") from None
    return assignment, charge_point_id, True


async def visible_assignment(
    db: AsyncSession, assignment_id: int, tenant_id: int | None
) -> TariffAssignment:
    query = select(TariffAssignment).where(TariffAssignment.id == assignment_id)
    if tenant_id is not None:
        query = query.where(TariffAssignment.tenant_id == tenant_id)
    assignment = await db.scalar(query)
    if assignment is None:
        raise TariffAdminError(404, "Assignment not found", f"no tariff assignment {assignment_id}")
    return assignment


async def unassign(db: AsyncSession, assignment: TariffAssignment) -> None:
    await db.delete(assignment)
    await db.flush()


async def connector_tariff(
    db: AsyncSession, station: Station, connector_id: int, token_group: str | None
) -> tuple[Tariff, TariffAssignment]:
    """The tariff a session on the connector with a token of ``token_group`` would pay now, and
    the assignment that makes it apply; 404 if the connector does not exist or none applies."""
    if await stations.connector(db, station.id, connector_id) is None:
        raise TariffAdminError(
            404,
            "Connector not found",
            f"no connector {connector_id} on {station.charge_point_id!r}",
        )
    token = Token(token_group=token_group) if token_group else None
    tariff = await applicable_tariff(db, station, connector_id, token)
    if tariff is not None:
        keys = candidate_keys(station, connector_id, token_group)
        found = await db.scalars(
            select(TariffAssignment).where(
                TariffAssignment.tenant_id == station.tenant_id,
                TariffAssignment.tariff_id == tariff.id,
                TariffAssignment.scope_key.in_(keys),
            )
        )
        by_key = {a.scope_key: a for a in found}
        # The most specific key present is the one applicable_tariff chose.
        winner = next((by_key[k] for k in keys if k in by_key), None)
        if winner is not None:
            return tariff, winner
    raise TariffAdminError(404, "No tariff applies", "charging on this connector is free")
