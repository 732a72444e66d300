"""Firmware Management on the simulated charger: UpdateFirmware really downloads the file over
HTTP(S) at its retrieve date, and GetDiagnostics really uploads a generated log with HTTP PUT.

UpdateFirmware: Downloading -> Downloaded (or DownloadFailed after its retries) -> Installing
-> a reboot (a new BootNotification with the new firmware version) -> Installed, or
InstallationFailed (the old version) when ``install_fails`` is set.
GetDiagnostics: answers a file name, then Uploading -> Uploaded, or UploadFailed when the upload
fails (an HTTP error, the server unreachable) or ``upload_fails`` is set.

The new firmware version is ``FileTransfers.next_version`` if set, else the file name of the
location without its extension (``.../kwsim-2.0.bin?...`` -> ``kwsim-2.0``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx

from kilowatt.ocpp.v16.enums import DiagnosticsStatus, FirmwareStatus, ResetType
from kilowatt.ocpp.v16.messages import (
    DiagnosticsStatusNotificationRequest,
    FirmwareStatusNotificationRequest,
    GetDiagnosticsRequest,
    UpdateFirmwareRequest,
)

from .charging import utcnow
from .link import StationError

if TYPE_CHECKING:
    from .station import SimulatedStation

__all__ = [
    "Download",
    "FileTransfers",
    "diagnostics_file_name",
    "get_diagnostics",
    "update_firmware",
]

logger = logging.getLogger("kilowatt.simulator")

HTTP_TIMEOUT = 30.0
NOTIFY_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Download:
    """A firmware file the station fetched."""

    url: str
    size: int
    sha256: str


@dataclass
class FileTransfers:
    """The station's firmware and diagnostics behaviour, and what it transferred (for tests)."""

    #: Report InstallationFailed (after the reboot) instead of installing.
    install_fails: bool = False
    #: Report DownloadFailed without trying (an unreachable server).
    download_fails: bool = False
    #: Report UploadFailed without trying.
    upload_fails: bool = False
    #: PUT the diagnostics to ``<location>/<file name>`` (the location as a directory).
    append_file_name: bool = False
    #: The firmware version after an installation (default: from the file name).
    next_version: str | None = None
    diagnostics_size: int = 4096
    downloads: list[Download] = field(default_factory=list)
    uploads: list[tuple[str, int]] = field(default_factory=list)  # (url, bytes) uploaded


def version_from(location: str) -> str:
    name = PurePosixPath(unquote(urlsplit(location).path)).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return (stem or "unknown")[:50]


def diagnostics_file_name(station_id: str, now: datetime) -> str:
    return f"diagnostics-{station_id}-{now:%Y%m%dT%H%M%SZ}.log"[:255]


async def _notify_firmware(st: SimulatedStation, status: FirmwareStatus) -> None:
    st.firmware_status = status
    await _send(st, "FirmwareStatusNotification", FirmwareStatusNotificationRequest(status=status))


async def _notify_diagnostics(st: SimulatedStation, status: DiagnosticsStatus) -> None:
    await _send(
        st, "DiagnosticsStatusNotification", DiagnosticsStatusNotificationRequest(status=status)
    )


async def _send(st: SimulatedStation, action: str, payload: object) -> None:
    """Send once the station is online and accepted (it may be rebooting)."""
    for _ in range(NOTIFY_ATTEMPTS):
        await st.wait_until(lambda: st.online and st.accepted)
        try:
            await st.call(action, payload)  # type: ignore[arg-type]
            return
        except StationError as exc:
            logger.debug("%s: %s not sent: %s", st.station_id, action, exc)
    raise StationError(f"{st.station_id}: could not send {action}")


async def _wait(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)  # the retrieve date or a retry interval: real time


async def _download(url: str) -> Download:
    digest, size = hashlib.sha256(), 0
    async with (
        httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            digest.update(chunk)
            size += len(chunk)
    if size == 0:
        raise ValueError("the firmware file is empty")
    return Download(url, size, digest.hexdigest())


async def update_firmware(st: SimulatedStation, req: UpdateFirmwareRequest) -> None:
    """Download at the retrieve date (with the request's retries), install, reboot."""
    options = st.files
    await _wait((req.retrieve_date - utcnow()).total_seconds())
    attempts = 1 + max(0, req.retries or 0)
    download: Download | None = None
    for attempt in range(attempts):
        await _notify_firmware(st, FirmwareStatus.DOWNLOADING)
        if not options.download_fails:
            try:
                download = await _download(req.location)
                break
            except (httpx.HTTPError, ValueError) as exc:
                logger.info("%s: firmware download failed: %s", st.station_id, exc)
        if attempt + 1 < attempts:
            await _wait(req.retry_interval or 0)
    if download is None:
        await _notify_firmware(st, FirmwareStatus.DOWNLOAD_FAILED)
        st.firmware_status = FirmwareStatus.IDLE
        return
    options.downloads.append(download)
    await _notify_firmware(st, FirmwareStatus.DOWNLOADED)
    await _notify_firmware(st, FirmwareStatus.INSTALLING)
    if not options.install_fails:
        st.firmware_version = options.next_version or version_from(req.location)
    boots = st.boot_count
    await st.reset(ResetType.HARD)  # the new firmware starts: BootNotification
    await st.wait_until(lambda: st.boot_count > boots and st.online and st.accepted)
    failed = options.install_fails
    await _notify_firmware(
        st, FirmwareStatus.INSTALLATION_FAILED if failed else FirmwareStatus.INSTALLED
    )
    st.firmware_status = FirmwareStatus.IDLE


def _diagnostics_log(st: SimulatedStation, req: GetDiagnosticsRequest, size: int) -> bytes:
    lines = [
        f"# {st.station_id} diagnostics, {utcnow().isoformat()}",
        f"# firmware {st.firmware_version}, from {req.start_time} to {req.stop_time}",
    ]
    lines += [f"{c.at.isoformat()} {c.action} {c.error or 'answered'}" for c in st.received]
    text = "\n".join(lines) + "\n"
    while len(text) < size:
        text += f"{utcnow().isoformat()} heartbeat ok\n"
    return text.encode()[: max(size, 1)]


async def get_diagnostics(st: SimulatedStation, req: GetDiagnosticsRequest, name: str) -> None:
    """Upload the log with HTTP PUT (with the request's retries)."""
    options = st.files
    url = f"{req.location.rstrip('/')}/{name}" if options.append_file_name else req.location
    body = _diagnostics_log(st, req, options.diagnostics_size)
    attempts = 1 + max(0, req.retries or 0)
    await _notify_diagnostics(st, DiagnosticsStatus.UPLOADING)
    for attempt in range(attempts):
        if not options.upload_fails:
            try:
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                    response = await client.put(url, content=body)
                response.raise_for_status()
                options.uploads.append((url, len(body)))
                await _notify_diagnostics(st, DiagnosticsStatus.UPLOADED)
                return
            except httpx.HTTPError as exc:
                logger.info("%s: diagnostics upload failed: %s", st.station_id, exc)
        if attempt + 1 < attempts:
            await _wait(req.retry_interval or 0)
    await _notify_diagnostics(st, DiagnosticsStatus.UPLOAD_FAILED)
