"""Fixtures of the browser tests (support/browser.py): ``world``, ``browser`` and ``web``."""

from __future__ import annotations

import pytest

from api.api_kit import world

from support.browser import browser, web

__all__ = ["browser", "web", "world"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/web/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
