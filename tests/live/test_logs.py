"""Logs (issue 5): JSON lines, a request id from the API to the charger's answer, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kilowatt import logs

from support.ocpp_client import lib_charge_point
from support.server import API_KEY, running_server
from support.steps import boot


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger as ``kilowatt serve`` sets it up (JSON), into a buffer."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("info", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz", "eyJ"),
        ("X-API-Key: kw_ab12cd34_s3cr3tpart", "s3cr3tpart"),
        ("login failed for ada password=hunter2hunter2", "hunter2"),
        ('{"password": "two words"}', "two words"),
        ("ChangeConfiguration AuthorizationKey=00112233445566778899", "0011223344"),
        ("postgresql+asyncpg://kilowatt:pw0rd@db/kilowatt", "pw0rd"),
        ("stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyj"),
        ("webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKY"),
        ("Basic U0VDLUEtQ1AxOnNlY3JldHBhc3N3b3Jk", "U0VDLUEt"),
    ],
)
def test_secrets_never_reach_a_log_line(captured: io.StringIO, text: str, secret: str) -> None:
    logging.getLogger("kilowatt.test").warning("seen: %s", text)
    try:
        raise ValueError(text)
    except ValueError:
        logging.getLogger("kilowatt.test").exception("failed")
    output = captured.getvalue()
    assert secret not in output and "[redacted]" in output
    assert all(line["level"] in ("warning", "error") for line in lines(captured))


async def test_a_request_id_follows_the_command_to_the_chargers_answer(
    captured: io.StringIO, database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, log_level="info") as server:
        async with lib_charge_point(server.ws_url("LOG1"), "LOG1") as cp:
            await boot(cp)
            async with server.api() as api:
                response = await api.post(
                    "/api/v1/stations/LOG1/commands/Reset?wait=5",
                    json={"type": "Soft"},
                    headers={"X-Request-ID": "req-7f3a"},
                )
                anonymous = await api.get("/health")
        assert response.status_code == 200 and response.headers["x-request-id"] == "req-7f3a"
        assert len(anonymous.headers["x-request-id"]) == 16  # generated when none is given
    ours = [line for line in lines(captured) if line.get("request_id") == "req-7f3a"]
    text = " ".join(str(line["message"]) for line in ours)
    assert "Reset" in text and "Accepted" in text  # sent, and the charger's answer
    assert API_KEY not in captured.getvalue()
