from __future__ import annotations

from pathlib import Path

import pytest

from security_profiles.pki import Authority


@pytest.fixture
def cpo(tmp_path: Path) -> Authority:
    """The operator's CA: it signs the server certificate and the stations' certificates."""
    return Authority.create(tmp_path / "pki", "cpo")
