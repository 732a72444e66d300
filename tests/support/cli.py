"""The ``kilowatt`` command line run as an operator runs it against a test node."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kilowatt import cli

from support.server import API_KEY, RunningServer


@dataclass
class OperatorCli:
    """``kilowatt … --url <the node>`` with the node's admin key; what it prints is read back."""

    server: RunningServer
    capsys: pytest.CaptureFixture[str]

    async def __call__(self, *args: str) -> tuple[int, Any]:
        """The exit code and the printed JSON (None when nothing was printed)."""
        # In a thread: the CLI's HTTP client blocks, and the node serves from this event loop.
        code = await asyncio.to_thread(cli.main, [*args, "--url", self.server.http_url])
        out = self.capsys.readouterr().out
        return code, json.loads(out) if out else None

    async def refused(self, *args: str) -> str:
        """The message of an argument error: exit code 2 and nothing printed (nothing sent)."""
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(cli.main, [*args, "--url", self.server.http_url])
        assert exited.value.code == 2
        captured = self.capsys.readouterr()
        assert captured.out == ""
        return captured.err


def operator_cli(
    server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> OperatorCli:
    """The command line against ``server``; its settings come from the environment, so the
    admin key is set there, and ``data_dir`` keeps the dev secrets it writes in the test's
    folder."""
    monkeypatch.setenv("KILOWATT_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("KILOWATT_DATA_DIR", str(data_dir))
    return OperatorCli(server, capsys)
