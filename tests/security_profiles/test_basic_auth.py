"""Security profiles 0 and 1 over ws://: HTTP Basic, the refusals, key rotation, raising the
profile, and the downgrade rule (OCPP 1.6 security whitepaper edition 3, section 2 and A05).

TC_088 (subprotocol negotiation) is tests/gateway/test_handshake.py's
``test_tc_088_subprotocol_negotiation_prefers_ocpp16`` and
``test_tc_088_unsupported_subprotocol_only_is_refused``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
import websockets

from kilowatt.commands.models import Command
from kilowatt.config import UnknownStationPolicy
from kilowatt.stations import repository
from kilowatt.stations.security import REDACTED, redact_frame, redact_payload
from security_profiles.connect import (
    answers,
    basic,
    lib_station,
    refusals,
    refused,
    register,
    station,
)

from support.cli import operator_cli
from support.server import running_server

KEY = "0123456789abcdef0123456789abcdef"  # 16 bytes in hex, as TC_073 sets it


async def test_tc_085_basic_auth_and_bad_handshakes_leave_a_station_undisturbed(
    database_url: str, tmp_path: Path
) -> None:
    """A00.FR.202-204: Basic with username = charge point id; A00.FR.002: an upgrade below the
    station's profile is refused; A00.FR.323: each refusal is a security event. Every refused
    attempt leaves a connected station as it was."""
    async with running_server(
        database_url, tmp_path, unknown_station_policy=UnknownStationPolicy.REJECT
    ) as server:
        await register(server, "KEEPER", password=KEY)
        await register(server, "CP1", password=KEY)
        await register(server, "CP2", password=KEY, security_profile=2)
        await register(server, "CP3", security_profile=3)
        events = refusals(server)
        async with station(server, "KEEPER", headers=basic("KEEPER", KEY)) as keeper:
            connection = server.node.registry.get("KEEPER")
            attempts = [
                ("CP1", basic("CP1", "wrong-password-0123456789"), 401),  # wrong password
                ("CP1", basic("KEEPER", KEY), 401),  # username is not the id
                ("CP1", None, 401),  # no credentials
                ("KEEPER", basic("KEEPER", "wrong-password-0123456789"), 401),  # posing as it
                ("NOBODY", basic("NOBODY", KEY), 404),  # unknown id
                ("CP2", basic("CP2", KEY), 403),  # profile 2 over plain ws
                ("CP3", None, 403),  # profile 3 over plain ws
            ]
            for charge_point_id, headers, status in attempts:
                assert await refused(server, charge_point_id, headers=headers) == status
                await answers(keeper)
            assert [(e.station, e.data["status"]) for e in events] == [
                (cp, status) for cp, _, status in attempts
            ]
            assert KEY not in orjson.dumps([e.data for e in events]).decode()
            # TC_085: the valid combination is accepted.
            async with station(server, "CP1", headers=basic("CP1", KEY)) as cp1:
                await answers(cp1)
            await answers(keeper)
            assert connection is not None and server.node.registry.get("KEEPER") is connection


async def test_profile_0_only_while_unsecured_stations_are_allowed(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, allow_unsecured_stations=False) as server:
        await register(server, "OPEN")
        assert await refused(server, "OPEN") == 401
        assert await refused(server, "NEWCOMER") == 401  # auto-registered with profile 0


async def test_tc_073_update_authorization_key(database_url: str, tmp_path: Path) -> None:
    """TC_073 / A00.FR.205: the CSMS sets a new AuthorizationKey; the station reconnects with it
    and the old key stops working. The key never reaches the message log, the command record or
    the stored configuration."""
    new_key = "fedcba9876543210fedcba9876543210fedcba98"  # 20 bytes in hex
    async with running_server(database_url, tmp_path) as server:
        await register(server, "CP73", password=KEY)
        async with (
            lib_station(server, "CP73", headers=basic("CP73", KEY)) as cp,
            server.api() as api,
        ):
            reply = await api.post("/api/v1/stations/CP73/rotate-key", json={"key": new_key})
            assert reply.status_code == 200, reply.text
            assert reply.json()["key"] == "current" and reply.json()["outcome"] == "Accepted"
            assert await cp.next_command() == (
                "ChangeConfiguration",
                {"key": "AuthorizationKey", "value": new_key},
            )
            command_id = reply.json()["command_id"]
        assert await refused(server, "CP73", headers=basic("CP73", KEY)) == 401
        async with station(server, "CP73", headers=basic("CP73", new_key)) as ws:
            await answers(ws)
        async with server.api() as api:
            command = (await api.get(f"/api/v1/commands/{command_id}")).json()
            detail = (await api.get("/api/v1/stations/CP73")).json()
            messages = (await api.get("/api/v1/stations/CP73/messages")).text
        assert command["request"] == {"key": "AuthorizationKey", "value": REDACTED}
        assert detail["configuration"]["AuthorizationKey"] == REDACTED
        assert detail["key_rotation_pending"] is False and detail["security_profile"] == 1
        assert "AuthorizationKey" in messages and new_key not in messages
        async with server.node.sessions() as db:
            stored = await db.get(Command, command_id)
            row = await repository.by_charge_point_id(db, "CP73")
        assert stored is not None and new_key not in orjson.dumps(stored.request).decode()
        assert row is not None and new_key not in (row.auth_password_hash or "")


async def test_rotation_rejected_keeps_the_old_key_and_an_unanswered_one_keeps_both(
    database_url: str, tmp_path: Path
) -> None:
    """Rejected: the old key stays, the new one never works. Sent but unanswered (the station
    went away): both keys work, and the first connection with the new key makes it the only one."""
    async with running_server(database_url, tmp_path) as server:
        await register(server, "CPR", password=KEY)
        async with (
            lib_station(server, "CPR", headers=basic("CPR", KEY)) as cp,
            server.api() as api,
        ):
            cp.answers["ChangeConfiguration"] = "Rejected"
            reply = await api.post("/api/v1/stations/CPR/rotate-key", json={})  # generated key
            assert reply.status_code == 200, reply.text
            assert (reply.json()["outcome"], reply.json()["key"]) == ("Rejected", "unchanged")
            _, sent = await cp.next_command()
        assert await refused(server, "CPR", headers=basic("CPR", sent["value"])) == 401
        assert len(sent["value"]) == 40 and int(sent["value"], 16) >= 0  # 20 random bytes, hex

        new_key = "abcdefabcdefabcdefab"
        async with (
            websockets.connect(
                server.ws_url("CPR"),
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=basic("CPR", KEY),
            ) as mute,
            server.api() as api,
        ):
            rotation = asyncio.create_task(
                api.post("/api/v1/stations/CPR/rotate-key", json={"key": new_key})
            )
            async with asyncio.timeout(10):
                call = orjson.loads(await mute.recv())
            assert call[2] == "ChangeConfiguration"
            await mute.close()  # the answer is lost
            reply = await rotation
        assert reply.json()["key"] == "pending" and reply.json()["state"] == "offline"
        async with station(server, "CPR", headers=basic("CPR", KEY)) as ws:  # old key: still
            await answers(ws)
        async with station(server, "CPR", headers=basic("CPR", new_key)) as ws:  # new: promoted
            await answers(ws)
        assert await refused(server, "CPR", headers=basic("CPR", KEY)) == 401


async def test_tc_083_upgrade_security_profile_accepted(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """TC_083 / A05.FR.02, A05.FR.05-07: set the key, raise SecurityProfile by one (0 to 1),
    Hard reset; from then on a reconnect with the old profile (no credentials) is refused.
    Done as an operator does it, with ``kilowatt station rotate-key`` / ``security-profile``."""
    async with running_server(database_url, tmp_path) as server:
        kilowatt = operator_cli(server, monkeypatch, capsys, tmp_path / "cli")
        await register(server, "CP83")
        async with lib_station(server, "CP83") as cp:
            assert (await kilowatt("station", "security-profile", "CP83", "1"))[0] == 2  # no key
            monkeypatch.setenv("KILOWATT_NEW_STATION_KEY", KEY)
            code, out = await kilowatt("station", "rotate-key", "CP83")
            assert code == 0 and (out["key"], out["security_profile"]) == ("current", 0)
            assert KEY not in json.dumps(out)  # the key is not printed
            assert await cp.next_command() == (
                "ChangeConfiguration",
                {"key": "AuthorizationKey", "value": KEY},
            )
            code, out = await kilowatt("station", "security-profile", "CP83", "1")
            assert code == 0, out
            assert out["security_profile"] == 1 and out["reset_command_id"] is not None
            assert await cp.next_command() == (
                "ChangeConfiguration",
                {"key": "SecurityProfile", "value": "1"},
            )
            assert await cp.next_command() == ("Reset", {"type": "Hard"})
        assert await refused(server, "CP83") == 401
        async with station(server, "CP83", headers=basic("CP83", KEY)) as ws:
            await answers(ws)


async def test_the_profile_cannot_be_lowered_unless_an_admin_forces_it(
    database_url: str, tmp_path: Path
) -> None:
    """A00.FR.005: lowering is not done over OCPP; through the API only explicitly, by an admin."""
    async with running_server(database_url, tmp_path) as server, server.api() as api:
        created = await api.post(
            "/api/v1/stations", json={"charge_point_id": "CPD", "password": KEY}
        )
        assert created.json()["security_profile"] == 1
        for body in ({"security_profile": 0}, {"remove_password": True}):
            reply = await api.patch("/api/v1/stations/CPD", json=body)
            assert reply.status_code == 409, reply.text
        reply = await api.post(
            "/api/v1/stations/CPD/security-profile", json={"security_profile": 1}
        )
        assert reply.status_code == 409
        reply = await api.post(
            "/api/v1/stations/CPD/security-profile", json={"security_profile": 2}
        )
        assert reply.status_code == 409 and "KILOWATT_TLS_CERT" in reply.json()["detail"]
        async with station(server, "CPD", headers=basic("CPD", KEY)) as ws:
            reply = await api.patch(
                "/api/v1/stations/CPD", json={"security_profile": 0, "force": True}
            )
            assert reply.status_code == 200 and reply.json()["security_profile"] == 0
            await answers(ws)  # the connected station is not disturbed
        async with station(server, "CPD") as ws:
            await answers(ws)


@pytest.mark.parametrize(
    "frame",
    [
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"SECRETSECRETSECRET"}]',
        '[2,"1","ChangeConfiguration",{"value":"SECRETSECRETSECRET","key":"AuthorizationKey"}]',
        '[3,"1",{"configurationKey":[{"key":"AuthorizationKey","readonly":false,'
        '"value":"SECRETSECRETSECRET"}]}]',
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"SECRETSECRETSECRET"',
    ],
)
def test_keys_are_redacted_from_frames(frame: str) -> None:
    assert "SECRETSECRETSECRET" not in redact_frame(frame)


def test_redaction_leaves_other_frames_and_the_payload_alone() -> None:
    frame = '[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"60"}]'
    assert redact_frame(frame) is frame
    payload = {"key": "AuthorizationKey", "value": "SECRETSECRETSECRET"}
    assert redact_payload(payload)["value"] == REDACTED
    assert payload["value"] == "SECRETSECRETSECRET"
