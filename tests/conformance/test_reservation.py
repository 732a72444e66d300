"""OCPP 1.6 CSMS conformance, Reservation profile (OCTT TC_046 … TC_053).

Each case is driven twice where it makes sense: by the ``ocpp`` library's charge point, whose
answers the test scripts (every ReservationStatus), and by Kilowatt's simulator, which behaves
like a charger with the profile (Reserved status, its own expiry, reservationId in
StartTransaction). Reservations are made through the API (the node's key: an operator naming
the card), as the OCTT's "manual action" steps ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from ocpp.v16 import call

from kilowatt.events import Event
from kilowatt.ocpp.v16.enums import AuthorizationStatus, ChargePointStatus
from kilowatt.simulator import SimulatedStation
from kilowatt.simulator.link import StationError

from support.ocpp_client import LibChargePoint, lib_charge_point
from support.server import RunningServer
from support.simulated import simulated_station
from support.steps import add_token, boot, command, get_json, now_iso, status

BOUND = 20  # seconds any single awaited condition may take before the test fails


async def reserve(
    server: RunningServer, cp_id: str, connector: int, id_tag: str, **extra: Any
) -> tuple[int, dict[str, Any]]:
    body = {"station": cp_id, "connector_number": connector, "id_tag": id_tag, **extra}
    async with server.api() as api:
        response = await api.post("/api/v1/reservations", json=body)
    return response.status_code, response.json()


async def cancel(server: RunningServer, reservation_id: int) -> tuple[int, dict[str, Any]]:
    async with server.api() as api:
        response = await api.delete(f"/api/v1/reservations/{reservation_id}")
    return response.status_code, response.json()


async def reservation(server: RunningServer, reservation_id: int) -> dict[str, Any]:
    data: dict[str, Any] = await get_json(server, f"/api/v1/reservations/{reservation_id}")
    return data


@asynccontextmanager
async def events(server: RunningServer, kind: str) -> AsyncIterator[asyncio.Queue[Event]]:
    """The bus's events of type ``kind`` from now on."""
    with server.node.bus.stream(lambda e: e.type == kind) as stream:
        yield stream.queue


async def next_event(queue: asyncio.Queue[Event], match: Callable[[Event], bool]) -> Event:
    async with asyncio.timeout(BOUND):
        while True:
            event = await queue.get()
            if match(event):
                return event


@asynccontextmanager
async def lib_station(server: RunningServer, cp_id: str) -> AsyncIterator[LibChargePoint]:
    async with lib_charge_point(server.ws_url(cp_id), cp_id) as cp:
        await boot(cp)
        yield cp


#: Kilowatt's simulator: a charger with the Reservation profile.
sim_station = partial(simulated_station, meter_interval=0.5)


async def until(sim: SimulatedStation, condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND):
        await sim.wait_until(condition)


# ---- the ocpp library's charge point: scripted answers ------------------------------------------
async def test_tc_046_reservation_of_a_connector_transaction(server: RunningServer) -> None:
    await add_token(server, "TAG046")
    async with lib_station(server, "LIB046") as cp:
        code, body = await reserve(server, "LIB046", 1, "TAG046", minutes=10)
        assert code == 201, body
        action, sent = await cp.next_command()
        assert action == "ReserveNow"
        assert (sent["connector_id"], sent["id_tag"], sent["reservation_id"]) == (
            1,
            "TAG046",
            body["reservationId"],
        )
        expiry = datetime.fromisoformat(sent["expiry_date"])
        assert timedelta(minutes=9) < expiry - datetime.now(UTC) <= timedelta(minutes=10)
        assert body["state"] == "accepted" and body["active"]
        await status(cp, 1, "Reserved")
        await cp.call(call.Authorize(id_tag="TAG046"))
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="TAG046",
                meter_start=100,
                timestamp=now_iso(),
                reservation_id=body["reservationId"],
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
    used = await reservation(server, body["reservationId"])
    assert (used["state"], used["transactionId"]) == ("used", started.transaction_id)
    tx = await get_json(server, f"/api/v1/transactions/{started.transaction_id}")
    assert tx["review_reason"] is None


async def test_tc_047_reservation_of_a_connector_expire(server: RunningServer) -> None:
    await add_token(server, "TAG047")
    async with lib_station(server, "LIB047") as cp:
        expires = datetime.now(UTC) + timedelta(seconds=30)
        code, body = await reserve(server, "LIB047", 1, "TAG047", expires_at=expires.isoformat())
        assert code == 201, body
        action, sent = await cp.next_command()
        assert action == "ReserveNow" and datetime.fromisoformat(
            sent["expiry_date"]
        ) == expires.replace(microsecond=expires.microsecond)
        await status(cp, 1, "Reserved")
        # The charger expires it itself at expiryDate and reports the connector Available.
        async with events(server, "reservation.ended") as ended:
            await status(cp, 1, "Available")
            event = await next_event(
                ended, lambda e: e.data["reservationId"] == body["reservationId"]
            )
    assert event.data["state"] == "expired"
    assert (await reservation(server, body["reservationId"]))["state"] == "expired"


async def refused_reservation(server: RunningServer, cp_id: str, answer: str) -> None:
    """TC_048_x: the charger answers ``answer``; the refusal is recorded, nothing is kept."""
    tag = f"TAG{cp_id}"
    await add_token(server, tag)
    async with lib_station(server, cp_id) as cp:
        if answer == "Faulted":
            await status(cp, 1, "Faulted", error_code="GroundFailure")
        elif answer == "Occupied":
            await status(cp, 1, "Charging")
        elif answer == "Unavailable":
            changed = await command(
                server, cp_id, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}
            )
            assert changed["outcome"] == "Accepted"
            await cp.next_command()
            await status(cp, 1, "Unavailable")
        cp.answers["ReserveNow"] = answer
        code, body = await reserve(server, cp_id, 1, tag)
        assert (await cp.next_command())[0] == "ReserveNow"
    assert code == 409, body
    assert (body["state"], body["active"]) == (answer.lower(), False)
    assert body["endedAt"] is not None
    listed = await get_json(server, f"/api/v1/reservations?station={cp_id}&active=true")
    assert listed["total"] == 0


async def test_tc_048_1_reservation_of_a_connector_faulted(server: RunningServer) -> None:
    await refused_reservation(server, "LIB0481", "Faulted")


async def test_tc_048_2_reservation_of_a_connector_occupied(server: RunningServer) -> None:
    await refused_reservation(server, "LIB0482", "Occupied")


async def test_tc_048_3_reservation_of_a_connector_unavailable(server: RunningServer) -> None:
    await refused_reservation(server, "LIB0483", "Unavailable")


async def test_tc_048_4_reservation_of_a_connector_rejected(server: RunningServer) -> None:
    await refused_reservation(server, "LIB0484", "Rejected")


async def test_tc_049_reservation_of_a_charge_point_transaction(server: RunningServer) -> None:
    await add_token(server, "TAG049")
    async with lib_station(server, "LIB049") as cp:
        code, body = await reserve(server, "LIB049", 0, "TAG049")
        assert code == 201, body
        action, sent = await cp.next_command()
        assert (action, sent["connector_id"]) == ("ReserveNow", 0)
        assert (body["connectorId"], body["evseId"]) == (0, None)
        await status(cp, 2, "Preparing")
        started = await cp.call(
            call.StartTransaction(
                connector_id=2,
                id_tag="TAG049",
                meter_start=0,
                timestamp=now_iso(),
                reservation_id=body["reservationId"],
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
    assert (await reservation(server, body["reservationId"]))["state"] == "used"


async def test_tc_051_cancel_reservation(server: RunningServer) -> None:
    await add_token(server, "TAG051")
    async with lib_station(server, "LIB051") as cp:
        code, body = await reserve(server, "LIB051", 2, "TAG051")
        assert code == 201, body
        await cp.next_command()
        await status(cp, 2, "Reserved")
        code, cancelled = await cancel(server, body["reservationId"])
        action, sent = await cp.next_command()
        await status(cp, 2, "Available")
    assert (action, sent["reservation_id"]) == ("CancelReservation", body["reservationId"])
    assert code == 200, cancelled
    assert (cancelled["state"], cancelled["active"]) == ("cancelled", False)
    assert cancelled["cancelCommandId"] is not None


async def test_tc_052_cancel_reservation_rejected(server: RunningServer) -> None:
    await add_token(server, "TAG052")
    async with lib_station(server, "LIB052") as cp:
        code, body = await reserve(server, "LIB052", 1, "TAG052")
        assert code == 201, body
        await cp.next_command()
        cp.answers["CancelReservation"] = "Rejected"
        code, answered = await cancel(server, body["reservationId"])
        assert (await cp.next_command())[0] == "CancelReservation"
    # Rejected: the charger holds no such reservation (§5.1), so it is over here too.
    assert code == 200, answered
    assert (answered["state"], answered["active"]) == ("cancel_rejected", False)
    code, again = await cancel(server, body["reservationId"])
    assert code == 409, again


async def test_tc_053_use_a_reserved_connector_with_parent_id_tag(server: RunningServer) -> None:
    await add_token(server, "TAG053", parent_id_tag="GROUP053")
    await add_token(server, "TAG053B", parent_id_tag="GROUP053")
    async with lib_station(server, "LIB053") as cp:
        code, body = await reserve(server, "LIB053", 1, "TAG053")
        assert code == 201, body
        action, sent = await cp.next_command()
        assert (action, sent["parent_id_tag"]) == ("ReserveNow", "GROUP053")
        await status(cp, 1, "Reserved")
        # Another tag of the group: the charger learns its parent from Authorize.conf (§5.13).
        authorized = await cp.call(call.Authorize(id_tag="TAG053B"))
        assert authorized.id_tag_info["parent_id_tag"] == "GROUP053"
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="TAG053B",
                meter_start=0,
                timestamp=now_iso(),
                reservation_id=body["reservationId"],
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
    used = await reservation(server, body["reservationId"])
    assert (used["state"], used["transactionId"]) == ("used", started.transaction_id)
    tx = await get_json(server, f"/api/v1/transactions/{started.transaction_id}")
    assert tx["review_reason"] is None


async def test_start_by_another_tag_on_a_reserved_connector_is_flagged(
    server: RunningServer,
) -> None:
    """A charger that starts another tag on a reserved connector is not refused (it already
    started), but the transaction is flagged and the reservation kept."""
    await add_token(server, "TAGRES")
    await add_token(server, "TAGOTHER")
    async with lib_station(server, "LIBFLAG") as cp:
        code, body = await reserve(server, "LIBFLAG", 1, "TAGRES")
        assert code == 201, body
        await cp.next_command()
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAGOTHER", meter_start=0, timestamp=now_iso()
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
    tx = await get_json(server, f"/api/v1/transactions/{started.transaction_id}")
    assert "reserved for another token" in tx["review_reason"]
    assert (await reservation(server, body["reservationId"]))["state"] == "accepted"


# ---- Kilowatt's simulator: a charger with the Reservation profile --------------------------------
async def test_tc_046_simulator_reserved_connector_starts_only_for_its_tag(
    server: RunningServer,
) -> None:
    await add_token(server, "SIMTAG046")
    await add_token(server, "SIMTAG046X")
    async with sim_station(server, "SIM046") as sim:
        async with events(server, "connector.status") as statuses:
            code, body = await reserve(server, "SIM046", 1, "SIMTAG046")
            assert code == 201, body
            await next_event(
                statuses, lambda e: e.connector_id == 1 and e.data["status"] == "Reserved"
            )
        assert sim.status(1) is ChargePointStatus.RESERVED
        await sim.plug_in(1)
        with pytest.raises(StationError, match="reserved"):
            await sim.swipe(1, "SIMTAG046X")  # another tag: refused (§5.13)
        assert await sim.swipe(1, "SIMTAG046") is AuthorizationStatus.ACCEPTED
        tx_id = sim.transaction_id(1)
        assert tx_id is not None and sim.reservations.used == [body["reservationId"]]
        used = await reservation(server, body["reservationId"])
        await sim.swipe(1, "SIMTAG046")
    assert (used["state"], used["transactionId"]) == ("used", tx_id)


async def test_tc_047_simulator_expires_the_reservation_itself(server: RunningServer) -> None:
    await add_token(server, "SIMTAG047")
    async with sim_station(server, "SIM047") as sim:
        async with events(server, "reservation.ended") as ended:
            expires = datetime.now(UTC) + timedelta(seconds=1)
            code, body = await reserve(
                server, "SIM047", 2, "SIMTAG047", expires_at=expires.isoformat()
            )
            assert code == 201, body
            event = await next_event(
                ended, lambda e: e.data["reservationId"] == body["reservationId"]
            )
        assert sim.reservations.expired == [body["reservationId"]]
        assert sim.status(2) is ChargePointStatus.AVAILABLE
    assert event.data["state"] == "expired"
    station = await get_json(server, "/api/v1/stations/SIM047")
    assert station["connectors"][2]["status"] == "Available"


async def test_tc_048_2_tc_048_3_tc_048_4_simulator_answers_from_the_connector_state(
    server: RunningServer,
) -> None:
    await add_token(server, "SIMTAG048")
    async with sim_station(server, "SIM048") as sim:
        await sim.plug_in(1)
        await sim.swipe(1, "SIMTAG048")  # charging on connector 1
        code, body = await reserve(server, "SIM048", 1, "SIMTAG048")
        assert (code, body["state"]) == (409, "occupied")  # TC_048_2
        changed = await command(
            server, "SIM048", "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}
        )
        assert changed["outcome"] == "Accepted"
        await until(sim, lambda: sim.status(2) is ChargePointStatus.UNAVAILABLE)
        code, body = await reserve(server, "SIM048", 2, "SIMTAG048")
        assert (code, body["state"]) == (409, "unavailable")  # TC_048_3
        await sim.swipe(1, "SIMTAG048")
    async with sim_station(server, "SIM048R", reservations=False) as sim:
        code, body = await reserve(server, "SIM048R", 1, "SIMTAG048")
        assert (code, body["state"]) == (409, "rejected")  # TC_048_4
        assert sim.status(1) is ChargePointStatus.AVAILABLE


async def test_tc_049_simulator_station_reservation_keeps_a_connector_free(
    server: RunningServer,
) -> None:
    await add_token(server, "SIMTAG049")
    await add_token(server, "SIMTAG049X")
    await add_token(server, "SIMTAG049Y")
    async with sim_station(server, "SIM049") as sim:
        code, body = await reserve(server, "SIM049", 0, "SIMTAG049")
        assert code == 201, body
        # Another tag may take one connector, not the last free one.
        await sim.plug_in(1)
        assert await sim.swipe(1, "SIMTAG049X") is AuthorizationStatus.ACCEPTED
        await sim.plug_in(2)
        with pytest.raises(StationError, match="reserved"):
            await sim.swipe(2, "SIMTAG049Y")
        assert await sim.swipe(2, "SIMTAG049") is AuthorizationStatus.ACCEPTED
        assert sim.reservations.used == [body["reservationId"]]
        used = await reservation(server, body["reservationId"])
        tx_id = sim.transaction_id(2)
        await sim.swipe(2, "SIMTAG049")
        await sim.swipe(1, "SIMTAG049X")
    assert (used["state"], used["transactionId"]) == ("used", tx_id)


async def test_tc_049_simulator_without_connector_zero_support_rejects(
    server: RunningServer,
) -> None:
    await add_token(server, "SIMTAG049Z")
    async with sim_station(server, "SIM049Z") as sim:
        changed = await command(
            server,
            "SIM049Z",
            "ChangeConfiguration",
            {"key": "ReserveConnectorZeroSupported", "value": "false"},
        )
        assert changed["outcome"] == "Accepted"
        code, body = await reserve(server, "SIM049Z", 0, "SIMTAG049Z")
        assert (code, body["state"]) == (409, "rejected")
        assert not sim.reservations.by_id


async def test_tc_051_simulator_cancel_makes_the_connector_available(
    server: RunningServer,
) -> None:
    await add_token(server, "SIMTAG051")
    async with sim_station(server, "SIM051") as sim:
        code, body = await reserve(server, "SIM051", 2, "SIMTAG051")
        assert code == 201, body
        await until(sim, lambda: sim.status(2) is ChargePointStatus.RESERVED)
        code, cancelled = await cancel(server, body["reservationId"])
        assert (code, cancelled["state"]) == (200, "cancelled")
        await until(sim, lambda: sim.status(2) is ChargePointStatus.AVAILABLE)
        assert not sim.reservations.by_id
        # TC_052 from the simulator: it holds no such reservation any more.
        sim.reservations.by_id.clear()
        code, body2 = await reserve(server, "SIM051", 2, "SIMTAG051")
        assert code == 201, body2
        sim.reservations.clear()
        code, answered = await cancel(server, body2["reservationId"])
    assert (code, answered["state"]) == (200, "cancel_rejected")
