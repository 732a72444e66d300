"""Rows and checks for the reservation cases of the authorization matrix (issue 7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from kilowatt.reservations.models import Reservation
from kilowatt.tokens.models import Token
from security.callers import Caller
from security.world import A_SPARE, A_STATION, B_STATION, CARDS, World, now


async def _row(world: World, owner: str, station: str, connector: int) -> int:
    """An accepted reservation of ``owner``'s card (written directly: no charger round trip)."""
    user_id = world.user_ids[owner]
    async with world.node.sessions() as db:
        token = await db.scalar(select(Token).where(Token.id_tag == CARDS[owner]))
        assert token is not None
        reservation = Reservation(
            tenant_id=token.tenant_id,
            station_id=world.stations[station],
            connector_id=connector,
            token_id=token.id,
            id_tag=token.id_tag,
            user_id=user_id,
            state="accepted",
            expires_at=now() + timedelta(hours=1),
            created_at=now(),
        )
        db.add(reservation)
        await db.commit()
        return int(reservation.id)


async def ensure_reservations(world: World) -> None:
    """One reservation per tenant, for the reads of the matrix (made on first use)."""
    if "reservation_a" not in world.rows:
        world.rows["reservation_a"] = await _row(world, "driver", A_SPARE, 1)
        world.rows["reservation_b"] = await _row(world, "b_driver", B_STATION, 2)


async def fresh_reservation(world: World) -> int:
    """An active reservation of the owner driver on a free connector of the connected
    SEC-A-CP1 (whose charger accepts CancelReservation)."""
    return await _row(world, "driver", A_STATION, world.free_connector())


async def reservation_body(world: World, caller: Caller) -> dict[str, Any]:
    """A reservation request: a driver with their own new card, anyone else the owner's."""
    id_tag = await world.fresh_card(caller.name if caller.is_driver else "driver")
    return {"station": A_STATION, "connector_number": world.free_connector(), "id_tag": id_tag}


async def check_reservations(world: World, caller: Caller, response: httpx.Response) -> None:
    """A driver sees their own reservations, an operator their tenant's (and some)."""
    rows = response.json()["items"]
    if caller.is_driver:
        mine = world.user_ids[caller.name]
        others = [r["reservationId"] for r in rows if r["userId"] != mine]
        assert not others, f"{caller.name} sees reservations {others} of other users"
        return
    seen = {r["tenantId"] for r in rows}
    if caller.tenant is None:
        assert seen, f"{caller.name} sees no reservations at all"
        return
    own = world.tenants[caller.tenant]
    assert seen == {own}, f"{caller.name} (tenant {own}) sees reservations of tenants {seen}"
