"""Files in the data directory (``firmware/``, ``diagnostics/``): streamed to disk with a size
limit and a SHA-256, never held in memory whole. Names on disk are generated, never taken from
a request, so no request can reach a path outside these directories."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio

FIRMWARE = "firmware"
DIAGNOSTICS = "diagnostics"
_STORED = re.compile(r"^[0-9a-f]{32}\.bin$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Stored:
    stored_as: str
    size: int
    sha256: str


def safe_name(name: str, default: str = "file.bin") -> str:
    """A file name for URLs and downloads: its last path segment, in a safe alphabet."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", last).strip("._")[:200]
    return cleaned or default


def path_of(data_dir: Path, kind: str, stored_as: str) -> Path:
    if not _STORED.match(stored_as):  # only names we generated
        raise ValueError(f"not a stored file name: {stored_as!r}")
    return data_dir / kind / stored_as


async def store(
    data_dir: Path, kind: str, chunks: AsyncIterator[bytes], *, max_bytes: int
) -> Stored:
    """Write ``chunks`` to a new file of ``kind``; ``TooLarge`` (and nothing kept) past the limit."""
    directory = data_dir / kind
    directory.mkdir(parents=True, exist_ok=True)
    stored_as = f"{uuid.uuid4().hex}.bin"
    final = directory / stored_as
    partial = directory / f".{stored_as}.part"
    digest, size = hashlib.sha256(), 0
    try:
        async with await anyio.open_file(partial, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                await out.write(chunk)
        os.replace(partial, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return Stored(stored_as, size, digest.hexdigest())


def remove(data_dir: Path, kind: str, stored_as: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        path_of(data_dir, kind, stored_as).unlink()
