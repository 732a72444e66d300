"""The simulator's side of firmware updates: which version it boots with afterwards."""

from __future__ import annotations

from kilowatt.simulator.firmware import version_from


def test_the_new_version_comes_from_the_file_name() -> None:
    base = "https://csms.example/firmware/7"
    assert version_from(f"{base}/kwsim-2.0.bin?expires=1&sig=x") == "kwsim-2.0"
    assert version_from(f"{base}/v3%201.tar.gz") == "v3 1.tar"
    assert version_from(f"{base}/image") == "image"
    assert version_from("ftp://user:pw@host/") == "unknown"
    assert len(version_from(f"{base}/{'x' * 80}.bin")) == 50
