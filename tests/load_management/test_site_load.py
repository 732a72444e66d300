"""Site load management holds a site's grid limit in simulation (issue 7, item 3).

Six simulated stations on one 63 A site start and stop charging at random (hypothesis draws
the order, the cars' phases and powers). The simulated draw, sampled at every meter value,
every profile answer and every start and stop, never exceeds 63 A on any phase; once the
manager has settled, every session has at least its minimum (6 A x 6 sessions fit in 63 A).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from load_management.sitekit import LIMIT, MIN_A, STATIONS, Site, managed_site, start

from support.server import running_server


async def toggle(site: Site, n: int, phases: int, power_w: float) -> None:
    sim = site.sims[n]
    if sim.transaction_id(1) is not None:
        await sim.unplug(1)  # stops the transaction (StopTransactionOnEVSideDisconnect)
    else:
        await start(site, n, phases=phases, power_w=power_w)


def check_settled(site: Site) -> None:
    latest = site.allocations[-1]
    assert all(float(latest["load_a"][p]) <= LIMIT for p in ("l1", "l2", "l3")), latest
    for share in latest["sessions"]:
        assert not share["paused"] and not share["fixed"], share
        assert Decimal(share["current_a"]) >= MIN_A, share
    # nobody is held below what the site could give: the limit is used up, or every session
    # has its maximum
    if latest["sessions"]:
        full = any(float(latest["load_a"][p]) > LIMIT - 1 for p in ("l1", "l2", "l3"))
        capped = all(
            Decimal(share["current_a"]) == Decimal(share["max_a"]) for share in latest["sessions"]
        )
        assert full or capped, (latest["load_a"], latest["sessions"])


# Cars that take all they are given (a 22 kW three-phase car, a 7.4 kW single-phase car: 32 A
# per phase), so that the draw presses on the limit whenever the shares do.
PLANS = st.lists(
    st.tuples(
        st.integers(0, STATIONS - 1),
        st.sampled_from(((3, 22_000.0), (1, 7_400.0))),
    ),
    min_size=6,
    max_size=12,
)


@settings(
    max_examples=4,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking would rerun whole sites
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=PLANS)
async def test_a_63_a_site_never_exceeds_its_limit_and_everyone_gets_the_minimum(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    plan: list[tuple[int, tuple[int, float]]],
) -> None:
    data_dir = tmp_path_factory.mktemp("load")
    async with running_server(database_url, data_dir) as server, managed_site(server) as site:
        for n, (phases, power) in plan:
            await toggle(site, n, phases, power)
            await site.until(site.settled)
            site.sample()
            check_settled(site)
        for n, sim in enumerate(site.sims):
            if sim.transaction_id(1) is not None:
                await toggle(site, n, 3, 0.0)
        await site.until(site.settled)
    assert site.samples > len(plan)
    assert max(site.peak.values()) <= LIMIT, site.peak
