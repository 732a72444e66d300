"""Site load management when things go wrong, and its settings at work (docs/load-management.md):
an offline or refusing station is counted at its last draw, windows lower and restore the
limit, token-group priorities weight the shares, a single-phase car is given one phase, and
turning management off takes the profiles away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kilowatt.load_management.manager import DEFAULT_PROFILE_ID, tx_profile_id
from load_management.sitekit import (
    Site,
    call,
    managed_site,
    shares,
    start,
)

from support.server import running_server


def amps(share: dict[str, Any]) -> Decimal:
    return Decimal(share["current_a"])


def holds(site: Site, n: int, profile_id: int) -> bool:
    return any(h.profile.charging_profile_id == profile_id for h in site.sims[n].profiles.held)


async def test_an_offline_station_counts_at_its_last_draw(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(server, limit=32, stations=2) as site:
            await start(site, 0)
            await start(site, 1)
            await site.until(site.settled)
            assert {cp: amps(s) for cp, s in shares(site).items()} == {
                site.sims[0].station_id: Decimal(16),
                site.sims[1].station_id: Decimal(16),
            }
            # let station 1 meter its 16 A, then lose it (a charger losing its link)
            await site.until(lambda: site.sims[1].draw_a(1) > 15)
            await site.until(lambda: site.sims[1].stats.calls_sent.get("MeterValues", 0) > 3)
            lost = site.sims[1].station_id
            await site.sims[1].close()
            await site.until(lambda: shares(site)[lost]["fixed"])
            gone = shares(site)[lost]
            assert gone["why"] == "offline"
            assert Decimal(15) < amps(gone) <= Decimal(16)  # its last metered current
            # the other one gets what is left, never the whole limit
            kept = shares(site)[site.sims[0].station_id]
            assert not kept["fixed"]
            assert amps(kept) == (Decimal(32) - amps(gone)).quantize(Decimal("0.1"), "ROUND_FLOOR")
            assert site.sims[0].draw_a(1) <= 32 - float(amps(gone))


async def test_a_station_that_rejects_its_profile_is_counted_not_steered(
    database_url: str, tmp_path: Path
) -> None:
    # room for the 0 A default, none for a TxProfile on top of it: every share is Rejected
    refusing = {1: {"MaxChargingProfilesInstalled": "1"}}
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(server, limit=32, stations=2, station_keys=refusing) as site:
            await start(site, 1)  # the refusing station charges first, at the 0 A default
            await start(site, 0)
            refused = site.sims[1].station_id
            await site.until(
                lambda: bool(site.allocations) and shares(site).get(refused, {}).get("fixed", False)
            )
            assert shares(site)[refused]["why"] == "Rejected"
            assert not holds(site, 1, tx_profile_id(1))
            steered = shares(site)[site.sims[0].station_id]
            # counted at what it last accepted (0 A: it started under the default)
            assert amps(shares(site)[refused]) == 0
            assert amps(steered) == Decimal(32)
            await site.until(site.settled)


async def test_a_window_lowers_the_limit_and_its_end_restores_it(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(server, limit=40, stations=2) as site:
            await start(site, 0)
            await start(site, 1)
            await site.until(
                lambda: site.settled() and site.allocations[-1]["limit_a"]["l1"] == "40.0"
            )
            assert sorted(amps(s) for s in shares(site).values()) == [20, 20]
            now = datetime.now(UTC)
            window = await call(
                server,
                "POST",
                f"/api/v1/sites/{site.id}/load/windows",
                {
                    "starts_at": (now - timedelta(minutes=1)).isoformat(),
                    "ends_at": (now + timedelta(hours=1)).isoformat(),
                    "limit": {"unit": "kW", "value": 16.56},  # 24 A per phase at 230 V
                    "source": "grid-operator",
                },
            )
            assert window["limit_a"] == {"l1": "24.0", "l2": "24.0", "l3": "24.0"}
            await site.until(
                lambda: site.settled() and site.allocations[-1]["limit_a"]["l1"] == "24.0"
            )
            assert sorted(amps(s) for s in shares(site).values()) == [12, 12]
            view = await call(server, "GET", f"/api/v1/sites/{site.id}/load")
            assert view["in_force"]["window_ids"] == [window["id"]]
            assert view["in_force"]["limit_a"]["l1"] == "24.0"
            await call(server, "DELETE", f"/api/v1/sites/{site.id}/load/windows/{window['id']}")
            await site.until(
                lambda: site.settled() and site.allocations[-1]["limit_a"]["l1"] == "40.0"
            )
            assert sorted(amps(s) for s in shares(site).values()) == [20, 20]
            history = await call(server, "GET", f"/api/v1/sites/{site.id}/load/allocations")
            limits = [a["limit_a"]["l1"] for a in reversed(history["items"])]
            assert "24.0" in limits and limits[-1] == "40.0"


async def test_priorities_weight_the_shares_and_a_single_phase_car_gets_its_phase(
    database_url: str, tmp_path: Path
) -> None:
    settings = {"priorities": {"fleet": 3}}
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(
            server, limit=32, stations=3, settings=settings, groups={0: "fleet"}
        ) as site:
            fleet, guest = site.sims[0].station_id, site.sims[1].station_id
            await start(site, 0)
            await start(site, 1)
            await site.until(site.settled)
            assert (amps(shares(site)[fleet]), amps(shares(site)[guest])) == (24, 8)
            assert shares(site)[fleet]["priority"] == 3
            # station 2 is wired TRS: a single-phase car loads grid phase L3 only
            single = site.sims[2].station_id
            await start(site, 2, phases=1, power_w=7_400.0)
            await site.until(
                lambda: site.settled() and shares(site).get(single, {}).get("phases") == [3]
            )
            assert shares(site)[single]["phases"] == [3]
            assert site.sims[2].draw_phases()[1] == 0 and site.sims[2].draw_phases()[2] == 0
            latest = site.allocations[-1]
            assert all(float(latest["load_a"][p]) <= 32 for p in ("l1", "l2", "l3"))
            # L3 is shared by all three and full; L1 and L2 carry only what L3 leaves the two
            # three-phase cars (19.2 A + 6.4 A), and nothing of the single-phase car
            assert latest["load_a"] == {"l1": "25.6", "l2": "25.6", "l3": "32.0"}
            assert amps(shares(site)[single]) == Decimal("6.4")


async def test_turning_it_off_takes_the_profiles_away(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(server, limit=32, stations=1) as site:
            await start(site, 0)
            await site.until(site.settled)
            assert holds(site, 0, DEFAULT_PROFILE_ID) and holds(site, 0, tx_profile_id(1))
            await call(
                server,
                "PUT",
                f"/api/v1/sites/{site.id}/load",
                {"enabled": False, "limit": {"unit": "A", "value": 32}},
            )
            await site.until(
                lambda: (
                    not holds(site, 0, DEFAULT_PROFILE_ID) and not holds(site, 0, tx_profile_id(1))
                )
            )
            # and an operator may limit its connectors again
            async with server.api() as api:
                response = await api.post(
                    f"/api/v1/stations/{site.sims[0].station_id}/limit",
                    json={"connector_id": 1, "limit": 10, "unit": "A"},
                )
            assert response.status_code == 200, response.text


async def test_an_operator_limit_on_a_managed_connector_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path) as server:
        async with managed_site(server, limit=32, stations=1) as site:
            cp = site.sims[0].station_id
            async with server.api() as api:
                refused = await api.post(
                    f"/api/v1/stations/{cp}/limit",
                    json={"connector_id": 1, "limit": 10, "unit": "A"},
                )
                whole = await api.post(
                    f"/api/v1/stations/{cp}/limit",
                    json={"connector_id": 0, "limit": 20, "unit": "A"},
                )
            assert refused.status_code == 409, refused.text
            assert refused.json()["title"] == "Load-managed site"
            assert whole.status_code == 200 and whole.json()["status"] == "Accepted"
