"""Billing end to end: a real node, the ``ocpp`` library's charge point, the driver API, and
payments through the Stripe provider against the local fake Stripe server.

The charger reports explicit timestamps and readings, so every bill is checked against a
hand-worked figure (the tariff below):
    FLAT 1.00; ENERGY 0.40/kWh; TIME 1.20/h; PARKING_TIME 6.00/h after a 10 min grace; VAT 19 %.
    Start T0 at 1000 Wh; 6000 Wh at T0+30 min; 11000 Wh at T0+60 min (charging ends there);
    stop at T0+90 min with 11000 Wh:
      energy  10 kWh x 0.40              = 4.00
      time    1 h x 1.20                 = 1.20
      idle    (30 - 10) min x 6.00/h     = 2.00
      fee                                = 1.00
      subtotal 8.20; VAT 19 % = 1.558 → 1.56; total 9.76
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from sqlalchemy import select

from kilowatt.auth.principal import Role
from kilowatt.billing import service as billing
from kilowatt.billing.models import Payment, Tariff, TariffAssignment
from kilowatt.billing.pricing import breakdown_to_json, price
from kilowatt.billing.service import scope_key
from kilowatt.billing.tariffs import parse_tariff
from kilowatt.events import Event
from kilowatt.sessions.models import ChargingSession
from kilowatt.simulator import SimulatedStation, SimulatorConfig
from kilowatt.tenants import service as tenants
from kilowatt.transactions.models import Transaction

from support.accounts import Account, make_account
from support.fake_stripe import FakeStripe, running_fake_stripe
from support.ocpp_client import LibChargePoint, lib_charge_point
from support.server import RunningServer, running_server
from support.steps import boot

BOUND = 20
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "vat_percent": "19",
    "timezone": "Europe/Berlin",
    "idle_grace_minutes": 10,
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00"},
                {"type": "ENERGY", "price": "0.40", "step_size": 1},
                {"type": "TIME", "price": "1.20", "step_size": 1},
                {"type": "PARKING_TIME", "price": "6.00", "step_size": 1},
            ]
        }
    ],
}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def add_tariff(server: RunningServer, spec: dict[str, Any] = TARIFF) -> int:
    async with server.node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        tariff = Tariff(tenant_id=tenant.id, name="Public AC", currency="EUR", spec=spec)
        db.add(tariff)
        await db.flush()
        db.add(TariffAssignment(tenant_id=tenant.id, tariff_id=tariff.id, scope_key=scope_key()))
        await db.commit()
        return tariff.id


async def payment_of(server: RunningServer, session_id: int) -> Payment | None:
    async with server.node.sessions() as db:
        return await db.scalar(select(Payment).where(Payment.session_id == session_id))


async def payment_settles(
    server: RunningServer, session_id: int, done: Callable[[Payment], bool]
) -> Payment:
    """Wait for the payment worker's ``payment.updated`` events until ``done`` holds."""
    changed = asyncio.Event()

    def on_event(event: Event) -> None:
        if event.type == "payment.updated" and event.data.get("sessionId") == session_id:
            changed.set()

    unsubscribe = server.node.bus.subscribe(on_event)
    try:
        async with asyncio.timeout(BOUND):
            while True:
                changed.clear()
                payment = await payment_of(server, session_id)
                if payment is not None and done(payment):
                    return payment
                await changed.wait()
    finally:
        unsubscribe()


async def start(driver: Account, server: RunningServer, station: str) -> Any:
    async with driver.client(server) as client:
        return await client.post(
            "/api/v1/sessions", json={"station": station, "connector_number": 1}
        )


async def end(driver: Account, server: RunningServer, session_id: int) -> dict[str, Any]:
    async with driver.client(server) as client:
        response = await client.post(f"/api/v1/sessions/{session_id}/end")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get(client_of: Account, server: RunningServer, path: str) -> Any:
    async with client_of.client(server) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    return response


async def charge(cp: LibChargePoint, id_tag: str, *, meter_stop: int = 11000) -> int:
    """The charger's side of the worked example; returns the transaction id (not stopped)."""
    started = await cp.call(
        call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=at(0))
    )
    for minutes, wh in ((30, 6000), (60, meter_stop)):
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[{"timestamp": at(minutes), "sampledValue": [{"value": str(wh)}]}],
            )
        )
    return int(started.transaction_id)


def stop_transaction(transaction_id: int, meter_stop: int = 11000) -> call.StopTransaction:
    return call.StopTransaction(
        transaction_id=transaction_id, meter_stop=meter_stop, timestamp=at(90), reason="Remote"
    )


@asynccontextmanager
async def stripe_node(
    database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[RunningServer, FakeStripe]]:
    async with running_fake_stripe() as fake:
        settings: dict[str, Any] = {
            "start_timeout": 5.0,
            "payment_provider": "stripe",
            "stripe_api_key": fake.api_key,
            "stripe_webhook_secret": fake.webhook_secret,
            "stripe_api_base": fake.url,
            "payment_retry_delays": (0.0,),
        }
        settings.update(overrides)
        async with running_server(database_url, tmp_path, **settings) as server:
            yield server, fake


async def driver_with_card(
    server: RunningServer, fake: FakeStripe, email: str, card: str, pm: str = "pm_card_visa"
) -> Account:
    driver = await make_account(server, email, cards=(card,))
    async with driver.client(server) as client:
        setup = await client.post("/api/v1/me/payment-method/setup")
        assert setup.status_code == 200, setup.text
        assert setup.json()["clientSecret"].startswith("seti_")
        # The app confirms the SetupIntent with Stripe's SDK; the card never reaches Kilowatt.
        method_id = fake.attach_card(setup.json()["customerId"], pm)
        saved = await client.put("/api/v1/me/payment-method", json={"paymentMethodId": method_id})
        assert saved.status_code == 200, saved.text
    return driver


def captures(fake: FakeStripe) -> list[Any]:
    return [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/capture")]


# ---- without a payment provider: the bill itself ---------------------------------------------


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, tmp_path, start_timeout=5.0) as running:
        yield running


async def test_the_price_is_shown_before_start_and_the_bill_is_itemised(
    server: RunningServer,
) -> None:
    await add_tariff(server)
    driver = await make_account(server, "bill@example.com", cards=("BILL-1",))
    async with lib_charge_point(server.ws_url("BILL1"), "BILL1") as cp:
        await boot(cp)
        async with server.anonymous() as public:
            gun = (await public.get("/api/v1/connectors/DE*KWT*E1*1")).json()
        # AFIR: per kWh, per minute, per session, VAT included (0.40 x 1.19, 1.20/60 x 1.19, …)
        assert gun["price"]["perKwh"] == "0.4760"
        assert gun["price"]["perMinute"] == "0.0238"
        assert gun["price"]["perSession"] == "1.1900"
        assert gun["price"]["vatIncluded"] is True

        response = await start(driver, server, "BILL1")
        assert response.status_code == 201, response.text
        session_id = response.json()["sessionId"]
        tx = await charge(cp, "BILL-1")
        live = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()
        assert live["cost"]["status"] == "estimated"
        assert Decimal(live["cost"]["total"]) >= Decimal("9.76")  # idle time still running

        await end(driver, server, session_id)
        await cp.call(stop_transaction(tx))

    final = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()
    cost = final["cost"]
    assert (cost["status"], cost["currency"], cost["total"]) == ("final", "EUR", "9.76")
    b = cost["breakdown"]
    assert (b["energy"], b["time"], b["idle"], b["fee"]) == ("4.00", "1.20", "2.00", "1.00")
    assert (b["subtotal"], b["tax"], b["total"]) == ("8.20", "1.56", "9.76")
    assert sum(Decimal(line["amount"]) for line in b["lines"]) == Decimal(b["subtotal"])
    assert cost["payment"] is not None and cost["payment"]["provider"] == "none"

    receipt = (await get(driver, server, f"/api/v1/sessions/{session_id}/receipt")).json()
    assert receipt["status"] == "final" and receipt["cost"]["total"] == "9.76"
    assert receipt["session"]["energyWh"] == 10000
    assert receipt["station"]["chargingStationId"] == "BILL1"
    html = (await get(driver, server, f"/api/v1/sessions/{session_id}/receipt.html")).text
    assert "9.76" in html and "BILL1" in html and "<script" not in html

    async with server.api() as api:
        exported = await api.get(
            "/api/v1/billing/sessions.csv",
            params={
                "from": (T0 - timedelta(days=1)).isoformat(),
                "to": datetime.now(UTC).isoformat(),
            },
        )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    header, row = exported.text.splitlines()[:2]
    columns = dict(zip(header.split(","), row.split(","), strict=True))
    assert (columns["session_id"], columns["total"], columns["energy_wh"]) == (
        str(session_id),
        "9.76",
        "10000",
    )


async def test_a_meter_going_backwards_is_held_for_review_not_billed(server: RunningServer) -> None:
    await add_tariff(server)
    driver = await make_account(server, "back@example.com", cards=("BACK-1",))
    operator = await make_account(server, "ops@example.com", role=Role.ADMIN)
    async with lib_charge_point(server.ws_url("BACK1"), "BACK1") as cp:
        await boot(cp)
        session_id = (await start(driver, server, "BACK1")).json()["sessionId"]
        tx = await charge(cp, "BACK-1")
        await cp.call(stop_transaction(tx, meter_stop=900))  # below meterStart 1000
    held = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()["cost"]
    assert held["status"] == "review" and held["total"] is None
    assert "backwards" in held["reviewReason"]

    async with operator.client(server) as client:
        decided = await client.post(
            f"/api/v1/sessions/{session_id}/billing-review",
            json={"decision": "bill", "energyWh": 10000, "note": "meter swapped"},
        )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "final"
    # 10 kWh spread evenly over the 90 minutes: charging all along, no idle time.
    assert decided.json()["cost"]["energy"] == "4.00"
    async with operator.client(server) as client:
        again = await client.post(
            f"/api/v1/sessions/{session_id}/billing-review", json={"decision": "waive"}
        )
    assert again.status_code == 409


async def test_a_duplicate_stop_bills_once(server: RunningServer) -> None:
    await add_tariff(server)
    driver = await make_account(server, "dup@example.com", cards=("DUP-1",))
    async with lib_charge_point(server.ws_url("DUP1"), "DUP1") as cp:
        await boot(cp)
        session_id = (await start(driver, server, "DUP1")).json()["sessionId"]
        tx = await charge(cp, "DUP-1")
        await cp.call(stop_transaction(tx))
        first = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()["cost"]
        await cp.call(stop_transaction(tx))
        await cp.call(stop_transaction(tx, meter_stop=99_000))  # a different repeat
    second = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()["cost"]
    assert first["total"] == second["total"] == "9.76"
    assert first["billedAt"] == second["billedAt"]


# ---- with Stripe (the local fake) ---------------------------------------------------------------


async def test_session_is_held_charged_and_captured(database_url: str, tmp_path: Path) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "pay@example.com", "PAY-1")
        async with lib_charge_point(server.ws_url("PAY1"), "PAY1") as cp:
            await boot(cp)
            response = await start(driver, server, "PAY1")
            assert response.status_code == 201, response.text
            session_id = response.json()["sessionId"]
            held = await payment_of(server, session_id)
            assert held is not None and (held.state, held.hold_amount) == ("held", Decimal(50))
            intent = fake.payment_intents[held.hold_id]
            assert (intent["status"], intent["amount"], intent["capture_method"]) == (
                "requires_capture",
                5000,
                "manual",
            )
            tx = await charge(cp, "PAY-1")
            await end(driver, server, session_id)
            await cp.call(stop_transaction(tx))
        payment = await payment_settles(server, session_id, lambda p: p.state == "captured")
        assert payment.captured_amount == Decimal("9.76") and payment.balance_due == 0
        intent = fake.payment_intents[payment.hold_id]
        assert (intent["status"], intent["amount_received"]) == ("succeeded", 976)
        assert len(captures(fake)) == 1 and len(fake.payment_intents) == 1  # the hold's

        # A repeated webhook is applied once.
        payload, headers = fake.signed_event("payment_intent.succeeded", intent)
        async with server.anonymous() as public:
            url = "/api/v1/payments/webhooks/stripe"
            first = await public.post(url, content=payload, headers=headers)
            repeat = await public.post(url, content=payload, headers=headers)
            forged = await public.post(
                url, content=payload.replace(b"succeeded", b"canceled"), headers=headers
            )
        assert first.status_code == 200 and repeat.json() == {"result": "duplicate"}
        assert forged.status_code == 400

        # An operator refunds part of it, once per idempotency key.
        admin = await make_account(server, "refunds@example.com", role=Role.ADMIN)
        async with admin.client(server) as client:
            path = f"/api/v1/sessions/{session_id}/refunds"
            key = {"Idempotency-Key": "refund-1"}
            one = await client.post(path, json={"amount": "2.00"}, headers=key)
            two = await client.post(path, json={"amount": "2.00"}, headers=key)
            reused = await client.post(path, json={"amount": "3.00"}, headers=key)
            too_much = await client.post(path, json={"amount": "8.00"})
        assert one.status_code == two.status_code == 201 and one.json() == two.json()
        assert reused.status_code == 409 and too_much.status_code == 422
        assert len(fake.refunds) == 1


async def test_a_declined_hold_blocks_the_start(database_url: str, tmp_path: Path) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(
            server, fake, "declined@example.com", "DECL-1", pm="pm_card_chargeDeclined"
        )
        async with lib_charge_point(server.ws_url("DECL1"), "DECL1") as cp:
            await boot(cp)
            response = await start(driver, server, "DECL1")
            assert response.status_code == 402, response.text
            assert "declined" in response.json()["detail"]
            assert cp.received.empty()  # the charger never heard of it
        async with driver.client(server) as client:
            sessions = (await client.get("/api/v1/sessions")).json()["items"]
        assert [s["state"] for s in sessions] == ["failed"]
        payment = await payment_of(server, sessions[0]["sessionId"])
        assert payment is not None and payment.state == "declined"


async def test_no_card_no_start(database_url: str, tmp_path: Path) -> None:
    async with stripe_node(database_url, tmp_path) as (server, _fake):
        await add_tariff(server)
        driver = await make_account(server, "nocard@example.com", cards=("NOCARD-1",))
        async with lib_charge_point(server.ws_url("NOCARD1"), "NOCARD1") as cp:
            await boot(cp)
            response = await start(driver, server, "NOCARD1")
        assert response.status_code == 402 and "card" in response.json()["detail"]


async def test_a_bill_above_the_hold_captures_the_hold_and_records_the_balance(
    database_url: str, tmp_path: Path
) -> None:
    async with stripe_node(database_url, tmp_path, payment_hold_amount=Decimal("5")) as (
        server,
        fake,
    ):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "above@example.com", "ABOVE-1")
        async with lib_charge_point(server.ws_url("ABOVE1"), "ABOVE1") as cp:
            await boot(cp)
            session_id = (await start(driver, server, "ABOVE1")).json()["sessionId"]
            tx = await charge(cp, "ABOVE-1")
            await cp.call(stop_transaction(tx))
        payment = await payment_settles(server, session_id, lambda p: p.state == "captured")
        assert (payment.captured_amount, payment.balance_due) == (Decimal(5), Decimal("4.76"))
        assert [i["amount_received"] for i in fake.payment_intents.values()] == [500]


async def test_a_failing_capture_is_retried_then_marked_unpaid(
    database_url: str, tmp_path: Path
) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "flaky@example.com", "FLAKY-1")
        async with lib_charge_point(server.ws_url("FLAKY1"), "FLAKY1") as cp:
            await boot(cp)
            session_id = (await start(driver, server, "FLAKY1")).json()["sessionId"]
            tx = await charge(cp, "FLAKY-1")
            # every try fails, the Stripe client's own retries included
            fake.fail_next("/v1/payment_intents/", status=500, times=20)
            await cp.call(stop_transaction(tx))
        payment = await payment_settles(server, session_id, lambda p: p.state == "unpaid")
        assert payment.attempts == 2  # the first try and one retry (payment_retry_delays)
        assert payment.balance_due == Decimal("9.76") and payment.captured_amount == 0
        assert fake.payment_intents[payment.hold_id]["status"] == "requires_capture"


async def test_a_charger_offline_at_stop_is_billed_when_its_stop_arrives(
    database_url: str, tmp_path: Path
) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "offline@example.com", "OFF-1")
        async with lib_charge_point(server.ws_url("OFF1"), "OFF1") as cp:
            await boot(cp)
            session_id = (await start(driver, server, "OFF1")).json()["sessionId"]
            tx = await charge(cp, "OFF-1")
        await asyncio.wait_for(server.node.registry.wait_for("OFF1", present=False), BOUND)

        ended = await end(driver, server, session_id)
        assert ended["ocppStopStatus"] == "Offline"
        assert ended["cost"]["status"] == "provisional"  # from the last reading, not captured
        payment = await payment_of(server, session_id)
        assert payment is not None and payment.state == "held" and not captures(fake)

        async with lib_charge_point(server.ws_url("OFF1"), "OFF1") as cp:
            await cp.call(stop_transaction(tx))
        payment = await payment_settles(server, session_id, lambda p: p.state == "captured")
        assert payment.captured_amount == Decimal("9.76")
        final = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()
        assert (final["cost"]["status"], final["reconciled"]) == ("final", True)


async def test_a_simulated_session_is_billed_reproducibly_and_captured_once(
    database_url: str, tmp_path: Path
) -> None:
    """Kilowatt's own simulator as the station, real timing: the stored bill is the one the
    session's snapshot tariff gives on its stored readings, and a retried end or a repeated stop
    never captures twice."""
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "sim@example.com", "SIM-PAY-1")
        cfg = SimulatorConfig(
            url=f"ws://127.0.0.1:{server.port}/ocpp",
            auto_sessions=False,
            meter_interval=0.2,
            seed=5,
            max_power_w=150_000.0,  # DC: whole Wh within a second
        )
        sim = SimulatedStation(cfg, "SIMPAY1")
        async with asyncio.timeout(60), sim:
            await sim.connect()
            await sim.boot()
            response = await start(driver, server, "SIMPAY1")
            assert response.status_code == 201, response.text
            session_id = response.json()["sessionId"]
            await sim.wait_until(lambda: sim.transaction_id(1) is not None)
            first = sim.meter_wh(1)
            await sim.wait_until(
                lambda: sim.stats.calls_sent.get("MeterValues", 0) >= 3 and sim.meter_wh(1) > first
            )
            await end(driver, server, session_id)
            await sim.wait_until(lambda: sim.transaction_id(1) is None)
            async with driver.client(server) as client:
                again = await client.post(f"/api/v1/sessions/{session_id}/end")
            assert again.status_code == 409  # a retried end never bills twice
        payment = await payment_settles(server, session_id, lambda p: p.state == "captured")

        async with server.node.sessions() as db:
            session = await db.get(ChargingSession, session_id)
            assert session is not None and session.cost_breakdown is not None
            tx = await db.get(Transaction, session.transaction_id)
            assert tx is not None and session.started_at and session.ended_at
            points = await billing.readings(db, tx)
            again_priced = price(
                parse_tariff(session.tariff_snapshot["spec"]),  # type: ignore[index]
                billing.charge_record(session.started_at, session.ended_at, points),
            )
        assert breakdown_to_json(again_priced) == session.cost_breakdown
        assert session.cost_status == "final" and session.reconciled
        assert again_priced.energy_wh == session.energy_wh > 0
        assert payment.captured_amount == again_priced.total
        assert len(captures(fake)) == 1


async def test_a_refused_start_releases_the_hold(database_url: str, tmp_path: Path) -> None:
    async with stripe_node(database_url, tmp_path) as (server, fake):
        await add_tariff(server)
        driver = await driver_with_card(server, fake, "refused@example.com", "REF-1")
        async with lib_charge_point(server.ws_url("REF1"), "REF1") as cp:
            await boot(cp)
            cp.answers["RemoteStartTransaction"] = "Rejected"
            response = await start(driver, server, "REF1")
            assert response.status_code == 409, response.text
        session_id = response.json()["sessionId"]
        payment = await payment_settles(server, session_id, lambda p: p.state == "released")
        assert fake.payment_intents[payment.hold_id]["status"] == "canceled"
        assert not captures(fake)


@pytest.mark.parametrize("fault", ["above the connector's power", "stop before start"])
async def test_implausible_sessions_are_held_for_review(server: RunningServer, fault: str) -> None:
    await add_tariff(server)
    driver = await make_account(server, "odd@example.com", cards=("ODD-1",))
    async with lib_charge_point(server.ws_url("ODD1"), "ODD1") as cp:
        await boot(cp)
        if fault == "above the connector's power":
            async with server.api() as api:
                limited = await api.patch(
                    "/api/v1/stations/ODD1/connectors/1", json={"max_power_w": 3000}
                )
            assert limited.status_code == 200, limited.text
        session_id = (await start(driver, server, "ODD1")).json()["sessionId"]
        tx = await charge(cp, "ODD-1")  # 10 kWh in an hour: 10 kW
        stop = stop_transaction(tx)
        if fault == "stop before start":
            stop.timestamp = at(-5)
        await cp.call(stop)
    cost = (await get(driver, server, f"/api/v1/sessions/{session_id}")).json()["cost"]
    assert (cost["status"], cost["total"], cost["breakdown"]) == ("review", None, None)
    expected = "kW" if fault == "above the connector's power" else "before start"
    assert expected in cost["reviewReason"]
    async with server.api() as api:
        receipt = await api.get(f"/api/v1/sessions/{session_id}/receipt")
    assert receipt.status_code == 200 and receipt.json()["status"] == "review"
