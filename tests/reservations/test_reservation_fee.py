"""The reservation fee end to end (OCPI 2.2.1 ``restrictions.reservation``): a real node, the
simulated station (``kilowatt.simulator``), the driver API, and the payment worker.

Tariff of these tests (VAT 20 %):
    RESERVATION_EXPIRES: FLAT 4.00 (the no-show fee)
    RESERVATION:         FLAT 1.50, TIME 3.00/h billed per 10 min
    charging:            ENERGY 0.30/kWh
A used reservation started within 10 minutes pays 1.50 + 0.50 on the session's bill; one that
expired unused after its 20 minutes pays 4.00 + 20 min x 3.00/h = 5.00, VAT 1.00: 6.00.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kilowatt.billing.models import Tariff, TariffAssignment
from kilowatt.billing.service import scope_key
from kilowatt.events import Event
from kilowatt.reservations import service
from kilowatt.reservations.models import Reservation
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.tenants import service as tenants

from support.accounts import Account, make_account
from support.fake_stripe import FakeStripe, running_fake_stripe
from support.server import RunningServer, running_server

BOUND = 30
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "20",
    "elements": [
        {
            "price_components": [{"type": "FLAT", "price": "4.00"}],
            "restrictions": {"reservation": "RESERVATION_EXPIRES"},
        },
        {
            "price_components": [
                {"type": "FLAT", "price": "1.50"},
                {"type": "TIME", "price": "3.00", "step_size": 600},
            ],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    ],
}
EXPIRED_ITEMS = [
    ("FLAT", "RESERVATION_EXPIRES", "Unused reservation fee", "1", "reservation", "4.00"),
    ("TIME", "RESERVATION", "Reserved time", "0.3333", "h", "1.00"),
]


async def add_tariff(server: RunningServer, spec: dict[str, Any] = TARIFF) -> None:
    async with server.node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        tariff = Tariff(tenant_id=tenant.id, name="Reserve & charge", currency="EUR", spec=spec)
        db.add(tariff)
        await db.flush()
        db.add(TariffAssignment(tenant_id=tenant.id, tariff_id=tariff.id, scope_key=scope_key()))
        await db.commit()


def items(cost: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (x["type"], x["reservation"], x["description"], x["quantity"], x["unit"], x["amount"])
        for x in cost["items"]
    ]


class Watch:
    """The node's events, kept; ``until`` waits (bounded) for one that matches."""

    def __init__(self, server: RunningServer) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Event()
        self._stop = server.node.bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def until(self, match: Callable[[Event], bool]) -> Event:
        async with asyncio.timeout(BOUND):
            while True:
                self._arrived.clear()
                found = next((e for e in self.events if match(e)), None)
                if found is not None:
                    return found
                await self._arrived.wait()

    def close(self) -> None:
        self._stop()


@asynccontextmanager
async def station(server: RunningServer, cp: str) -> AsyncIterator[SimulatedStation]:
    config = SimulatorConfig(
        url=f"ws://127.0.0.1:{server.port}/ocpp",
        auto_sessions=False,
        meter_interval=0.2,
        seed=7,
        max_power_w=150_000.0,  # DC: whole Wh within a second
    )
    async with asyncio.timeout(60), SimulatedStation(config, cp) as sim:
        await sim.connect()
        await sim.boot()
        yield sim


async def reserve(driver: Account, server: RunningServer, cp: str, minutes: int) -> int:
    async with driver.client(server) as client:
        made = await client.post(
            "/api/v1/reservations",
            json={"station": cp, "connector_number": 1, "minutes": minutes},
        )
    assert made.status_code == 201, made.text
    assert made.json()["cost"]["status"] == "pending"
    reservation_id: int = made.json()["reservationId"]
    return reservation_id


async def expire(server: RunningServer, after: timedelta) -> int:
    """The expiry task's step, run now as if ``after`` had passed (no waiting)."""
    async with server.node.sessions() as db:
        count = await service.expire_due(db, datetime.now(UTC) + after)
        await db.commit()
    return count


async def get(who: Account, server: RunningServer, path: str) -> dict[str, Any]:
    async with who.client(server) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---- a used reservation: its fee is a line of the session's bill --------------------------------


async def test_a_used_reservation_is_billed_on_the_session_it_started(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as server:
        await add_tariff(server)
        driver = await make_account(server, "reserver@example.com", cards=("RSV-USE",))
        async with station(server, "RSVUSE1") as sim:
            reservation_id = await reserve(driver, server, "RSVUSE1", 30)
            async with driver.client(server) as client:
                started = await client.post(
                    "/api/v1/sessions", json={"station": "RSVUSE1", "connector_number": 1}
                )
            assert started.status_code == 201, started.text
            session_id = started.json()["sessionId"]
            await sim.wait_until(lambda: sim.transaction_id(1) is not None)
            first = sim.meter_wh(1)
            await sim.wait_until(lambda: sim.meter_wh(1) > first)
            live = await get(driver, server, f"/api/v1/sessions/{session_id}")
            assert live["cost"]["breakdown"]["reservation"] == "2.00"  # in the estimate too
            async with driver.client(server) as client:
                ended = await client.post(f"/api/v1/sessions/{session_id}/end")
            assert ended.status_code == 200, ended.text
            await sim.wait_until(lambda: sim.transaction_id(1) is None)

        cost = (await get(driver, server, f"/api/v1/sessions/{session_id}"))["cost"]
        assert cost["status"] == "final"
        b = cost["breakdown"]
        reservation_lines = [
            (x["type"], x["reservation"], x["description"], x["quantity"], x["amount"])
            for x in b["lines"]
            if x["reservation"]
        ]
        # Started well within the first 10-minute step: one step of reserved time.
        assert reservation_lines == [
            ("FLAT", "RESERVATION", "Reservation fee", "1", "1.50"),
            ("TIME", "RESERVATION", "Reserved time", "0.1667", "0.50"),
        ]
        assert (b["reservation"], b["fee"], b["time"]) == ("2.00", "0.00", "0.00")
        assert b["reservationSeconds"] < 600  # whole seconds: the start came within one
        assert b["energyWh"] > 0
        energy = Decimal(b["energy"])
        subtotal = Decimal("2.00") + energy
        assert (Decimal(b["subtotal"]), Decimal(cost["total"])) == (
            subtotal,
            subtotal + Decimal(b["tax"]),
        )
        receipt = await get(driver, server, f"/api/v1/sessions/{session_id}/receipt")
        assert [x["amount"] for x in receipt["cost"]["lines"] if x["reservation"]] == [
            "1.50",
            "0.50",
        ]
        async with driver.client(server) as client:
            html = (await client.get(f"/api/v1/sessions/{session_id}/receipt.html")).text
        assert "Reservation fee" in html and "Reserved time" in html

        reservation = await get(driver, server, f"/api/v1/reservations/{reservation_id}")
        assert reservation["state"] == "used"
        fee = reservation["cost"]
        assert (fee["status"], fee["sessionId"], fee["currency"]) == ("session", session_id, "EUR")
        assert [x["amount"] for x in fee["items"]] == ["1.50", "0.50"]
        assert fee["payment"] is None  # paid with the session


# ---- an expired reservation: its own bill on the reservation --------------------------------------


async def test_an_expired_reservation_carries_its_own_bill_and_event(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as server:
        await add_tariff(server)
        driver = await make_account(server, "noshow@example.com", cards=("RSV-EXP",))
        watch = Watch(server)
        try:
            async with station(server, "RSVEXP1"):
                reservation_id = await reserve(driver, server, "RSVEXP1", 20)
                assert await expire(server, timedelta(minutes=19)) == 0
                assert await expire(server, timedelta(minutes=21)) == 1
            ended = await watch.until(lambda e: e.type == "reservation.ended")
            assert ended.data["cost"] == {
                "status": "final",
                "currency": "EUR",
                "total": "6.00",
                "payment": "charge_due",
            }
            # The `none` provider answers locally, as for sessions: bookkeeping, not money.
            await watch.until(
                lambda e: (
                    e.type == "reservation.updated" and e.data["cost"]["payment"] == "captured"
                )
            )
        finally:
            watch.close()
        body = await get(driver, server, f"/api/v1/reservations/{reservation_id}")
        assert body["state"] == "expired"
        cost = body["cost"]
        assert (cost["status"], cost["currency"], cost["total"]) == ("final", "EUR", "6.00")
        assert (cost["subtotal"], cost["tax"], cost["vatPercent"]) == ("5.00", "1.00", "20")
        assert items(cost) == EXPIRED_ITEMS
        assert 19 * 60 < cost["reservedSeconds"] <= 20 * 60
        assert cost["payment"]["state"] == "captured"
        assert (cost["payment"]["captured"], cost["payment"]["balanceDue"]) == ("6.00", "0.00")

        async with server.node.sessions() as db:
            row = await db.get(Reservation, reservation_id)
            assert row is not None
            assert (row.cost_status, row.cost_total, row.billed_at is not None) == (
                "final",
                Decimal("6.00"),
                True,
            )


async def test_a_cancelled_reservation_costs_nothing(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as server:
        await add_tariff(server)
        driver = await make_account(server, "cancel@example.com", cards=("RSV-CXL",))
        async with station(server, "RSVCXL1"):
            reservation_id = await reserve(driver, server, "RSVCXL1", 20)
            async with driver.client(server) as client:
                cancelled = await client.delete(f"/api/v1/reservations/{reservation_id}")
            assert cancelled.status_code == 200, cancelled.text
        cost = cancelled.json()["cost"]
        assert (cancelled.json()["state"], cost["status"], cost["total"], cost["items"]) == (
            "cancelled",
            "none",
            None,
            [],
        )
        assert await expire(server, timedelta(minutes=21)) == 0  # over: it never expires


async def test_no_reservation_elements_no_fee(database_url: str, tmp_path: Path) -> None:
    plain = {**TARIFF, "elements": TARIFF["elements"][2:]}
    async with running_server(database_url, tmp_path, start_timeout=5.0) as server:
        await add_tariff(server, plain)
        driver = await make_account(server, "free@example.com", cards=("RSV-FREE",))
        async with station(server, "RSVFREE1"):
            reservation_id = await reserve_free(driver, server, "RSVFREE1")
            assert await expire(server, timedelta(minutes=21)) == 1
        body = await get(driver, server, f"/api/v1/reservations/{reservation_id}")
        assert (body["state"], body["cost"]["status"], body["cost"]["total"]) == (
            "expired",
            "none",
            None,
        )
        assert body["cost"]["tariff"]["name"] == "Reserve & charge"


async def reserve_free(driver: Account, server: RunningServer, cp: str) -> int:
    async with driver.client(server) as client:
        made = await client.post(
            "/api/v1/reservations", json={"station": cp, "connector_number": 1, "minutes": 20}
        )
    assert made.status_code == 201, made.text
    assert made.json()["cost"]["status"] == "none"
    reservation_id: int = made.json()["reservationId"]
    return reservation_id


# ---- paying an expired reservation's fee through the provider (the local fake Stripe) ----------


@asynccontextmanager
async def stripe_node(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[RunningServer, FakeStripe]]:
    async with running_fake_stripe() as fake:
        async with running_server(
            database_url,
            tmp_path,
            start_timeout=5.0,
            payment_provider="stripe",
            stripe_api_key=fake.api_key,
            stripe_webhook_secret=fake.webhook_secret,
            stripe_api_base=fake.url,
            payment_retry_delays=(0.0,),
        ) as server:
            yield server, fake


async def add_card(driver: Account, server: RunningServer, fake: FakeStripe) -> None:
    async with driver.client(server) as client:
        setup = await client.post("/api/v1/me/payment-method/setup")
        assert setup.status_code == 200, setup.text
        method_id = fake.attach_card(setup.json()["customerId"], "pm_card_visa")
        saved = await client.put("/api/v1/me/payment-method", json={"paymentMethodId": method_id})
        assert saved.status_code == 200, saved.text


async def test_an_expired_reservations_fee_is_charged_to_the_drivers_card_once(
    database_url: str, tmp_path: Path
) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        with_card = await make_account(server, "card@example.com", cards=("RSV-CARD",))
        await add_card(with_card, server, fake)
        no_card = await make_account(server, "nocard@example.com", cards=("RSV-NOCARD",))
        watch = Watch(server)
        try:
            async with station(server, "RSVPAY1"):
                paid_id = await reserve(with_card, server, "RSVPAY1", 20)
                owed_id = await reserve_on(no_card, server, "RSVPAY1", 2)
                assert await expire(server, timedelta(minutes=21)) == 2

            def settled(reservation_id: int) -> Callable[[Event], bool]:
                return lambda e: (
                    e.type == "reservation.updated"
                    and e.data["reservationId"] == reservation_id
                    and e.data["cost"]["payment"] in ("captured", "unpaid")
                )

            await watch.until(settled(paid_id))
            await watch.until(settled(owed_id))
            await server.node.payments.process_due()  # another pass charges nothing again
        finally:
            watch.close()

        paid = (await get(with_card, server, f"/api/v1/reservations/{paid_id}"))["cost"]
        assert (paid["total"], paid["payment"]["state"], paid["payment"]["captured"]) == (
            "6.00",
            "captured",
            "6.00",
        )
        charges = [
            r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_intents"
        ]
        assert [r.idempotency_key for r in charges] == [f"kw-reservation-charge-{paid_id}"]
        assert charges[0].form["amount"] == "600" and charges[0].form["currency"] == "eur"
        assert len([r for r in fake.requests if r.path.endswith("/capture")]) == 1

        owed = (await get(no_card, server, f"/api/v1/reservations/{owed_id}"))["cost"]
        assert owed["payment"] == {
            "state": "unpaid",
            "captured": "0.00",
            "balanceDue": "6.00",
            "lastError": "no card",
        }


async def reserve_on(driver: Account, server: RunningServer, cp: str, connector: int) -> int:
    async with driver.client(server) as client:
        made = await client.post(
            "/api/v1/reservations",
            json={"station": cp, "connector_number": connector, "minutes": 20},
        )
    assert made.status_code == 201, made.text
    reservation_id: int = made.json()["reservationId"]
    return reservation_id
