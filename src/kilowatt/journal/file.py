"""An append-only, fsynced file of journal entries, one JSON object per line.

Each line carries a CRC-32 of its body, so a line torn by a crash (power loss, ``kill -9``
in the middle of a write) is recognised and dropped when the file is read back; the entries
before it are kept. Only the last line can be torn (appends are sequential and every append
is fsynced before the next), so a bad line that is *not* the last one is kept aside in
``<name>.corrupt`` for an operator rather than silently dropped.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One journaled CALL and the reply we acknowledged it with."""

    seq: int
    station_id: int
    tenant_id: int
    charge_point_id: str
    message_id: str
    action: str
    payload: dict[str, Any]
    reply: dict[str, Any]
    request_hash: str
    received_at: str  # ISO 8601, UTC


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Entry)


def encode_line(entry: Entry) -> bytes:
    body = _encoder.encode(entry)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_line(line: bytes) -> Entry | None:
    """The entry of one line, or None if the line is torn or damaged."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        return _decoder.decode(body)
    except (ValueError, msgspec.DecodeError):
        return None


@dataclass
class JournalFile:
    """The journal on disk. Not thread-safe: the caller serialises (one asyncio lock)."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    dropped_tail: int = 0  # torn bytes dropped at the last load
    _fd: int | None = None
    _last_seq: int = 0

    def load(self) -> list[Entry]:
        """Read the file back: every intact entry in order; a torn tail is cut off."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries = []
        self.dropped_tail = 0
        if not self.path.exists():
            self._open()
            return []
        data = self.path.read_bytes()
        lines = data.splitlines(keepends=True)
        damaged: list[bytes] = []
        for index, line in enumerate(lines):
            entry = decode_line(line)
            if entry is None:
                if index == len(lines) - 1:
                    self.dropped_tail = len(line)
                    log.warning(
                        "journal %s: dropped a torn last line (%d bytes)", self.path, len(line)
                    )
                    break
                damaged.append(line)
                log.error("journal %s: line %d is damaged; kept aside", self.path, index + 1)
            else:
                self.entries.append(entry)
                self._last_seq = max(self._last_seq, entry.seq)
        if damaged:
            with open(self.path.with_suffix(self.path.suffix + ".corrupt"), "ab") as aside:
                aside.writelines(damaged)
                aside.flush()
                os.fsync(aside.fileno())
        if self.dropped_tail or damaged:
            self._rewrite(self.entries)
        else:
            self._open()
        return list(self.entries)

    def _open(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.path.parent)

    def append(self, entry: Entry) -> None:
        """Write one entry and fsync it: when this returns, the entry survives a crash."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        line = encode_line(entry)
        written = 0
        while written < len(line):
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)
        self.entries.append(entry)
        self._last_seq = max(self._last_seq, entry.seq)

    def remove_through(self, seq: int) -> None:
        """Drop every entry up to and including ``seq`` (they are applied to the database)."""
        rest = [entry for entry in self.entries if entry.seq > seq]
        if rest:
            self._rewrite(rest)
        else:
            self.truncate()

    def truncate(self) -> None:
        if self._fd is None:
            self._open()
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.entries = []

    def _rewrite(self, entries: Iterable[Entry]) -> None:
        """Atomically replace the file with ``entries`` (temp file, fsync, rename, fsync dir)."""
        kept = list(entries)
        temp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(temp, "wb") as out:
            out.writelines(encode_line(entry) for entry in kept)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
        self.entries = kept
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def next_seq(self) -> int:
        return self._last_seq + 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
