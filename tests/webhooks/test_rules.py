"""Where webhooks may go (https; plain http only to the local machine), which events a
subscription takes, and the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from kilowatt.config import load_settings
from kilowatt.webhooks.service import matches, url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://backoffice.example.com/kilowatt/events",
        "https://backoffice.example.com:8443/hooks?source=kw",
        "https://10.1.2.3/hooks",
        # development: a receiver on the operator's own machine
        "http://localhost:8000/hooks",
        "http://LOCALHOST/hooks",
        "http://127.0.0.1:9000/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_https_and_local_http_urls_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url,problem",
    [
        ("http://backoffice.example.com/hooks", "must use https"),
        ("http://127.0.0.2/hooks", "must use https"),
        ("http://localhost.example.com/hooks", "must use https"),
        ("http://127.0.0.1.nip.io/hooks", "must use https"),
        ("http://10.0.0.1/hooks", "must use https"),
        ("ftp://backoffice.example.com/hooks", "absolute https"),
        ("backoffice.example.com/hooks", "absolute https"),
        ("//backoffice.example.com/hooks", "absolute https"),
        ("https://", "absolute https"),
        ("https://user:secret@backoffice.example.com/hooks", "credentials"),
        ("https://backoffice.example.com/hooks#top", "fragment"),
        ("https://backoffice.example.com:99999/hooks", "invalid port"),
        ("https://backoffice.example.com/ho oks", "spaces"),
        ("https://backoffice.example.com/\x00", "control characters"),
    ],
)
def test_other_urls_are_refused(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None and problem in found, found


@pytest.mark.parametrize(
    "patterns,event_type,taken",
    [
        (["*"], "session.started", True),
        (["session.started"], "session.started", True),
        (["session.started"], "session.stopped", False),
        (["session.*"], "session.started", True),
        (["session.*"], "session.payment.updated", True),
        (["session.*"], "sessions.started", False),
        (["session.*"], "session", False),
        (["connector.status", "session.*"], "connector.status", True),
        (["connector.status", "session.*"], "command.finished", False),
    ],
)
def test_event_type_patterns(patterns: list[str], event_type: str, taken: bool) -> None:
    assert matches(patterns, event_type) is taken


def test_the_webhook_settings_come_from_the_environment(tmp_path: Path) -> None:
    base = {"KILOWATT_DATA_DIR": str(tmp_path)}
    defaults = load_settings(environ=base)
    assert defaults.webhook_retry_delays == (5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0)
    assert (defaults.webhook_timeout, defaults.webhook_disable_after) == (10.0, 20)
    settings = load_settings(
        environ=base
        | {
            "KILOWATT_WEBHOOK_RETRY_DELAYS": "1,2.5",
            "KILOWATT_WEBHOOK_TIMEOUT": "3",
            "KILOWATT_WEBHOOK_DISABLE_AFTER": "0",
            "KILOWATT_WEBHOOK_QUEUE_SIZE": "50",
            "KILOWATT_WEBHOOK_RETENTION_DAYS": "7",
        }
    )
    assert settings.webhook_retry_delays == (1.0, 2.5)
    assert (settings.webhook_timeout, settings.webhook_disable_after) == (3.0, 0)
    assert (settings.webhook_queue_size, settings.webhook_retention_days) == (50, 7)
    assert (
        load_settings(environ=base | {"KILOWATT_WEBHOOK_RETRY_DELAYS": ""}).webhook_retry_delays
        == ()
    )
    with pytest.raises(ValueError, match="RETRY_DELAYS"):
        load_settings(environ=base | {"KILOWATT_WEBHOOK_RETRY_DELAYS": "5,-1"})
