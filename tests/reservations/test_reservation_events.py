"""Who sees reservation events: the driver it is for, and operators with stations:read."""

from __future__ import annotations

from kilowatt.auth.principal import ROLE_PERMISSIONS, Principal, Role
from kilowatt.events import Event
from kilowatt.live.api import Filters, visible

EVENT = Event(
    "reservation.ended",
    {"reservationId": 7, "state": "expired"},
    tenant_id=1,
    user_id=10,
    station="CP-1",
    connector_id=1,
)


def _sees(principal: Principal) -> bool:
    return visible(principal, Filters(types=("reservation.*",)))(EVENT)


def test_the_driver_it_is_for_sees_it_other_drivers_do_not() -> None:
    assert _sees(Principal("user", Role.DRIVER, 1, user_id=10))
    assert not _sees(Principal("user", Role.DRIVER, 1, user_id=11))


def test_operators_of_the_tenant_with_stations_read_see_it() -> None:
    viewer = Principal("user", Role.VIEWER, 1, 2, permissions=ROLE_PERMISSIONS[Role.VIEWER])
    assert _sees(viewer)
    assert not _sees(Principal("api_key", Role.OPERATOR, 1, api_key_id=3))
    other = Principal("user", Role.ADMIN, 2, 4, permissions=ROLE_PERMISSIONS[Role.ADMIN])
    assert not _sees(other)
