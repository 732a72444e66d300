"""Signed URLs: what lets a charger download a firmware file or upload diagnostics without an
account. An HMAC-SHA256 over what the URL grants and its expiry, with a key of the node's
(``KILOWATT_FILE_URL_SECRET``, else one generated into the data directory on first use)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime
from pathlib import Path

SIGNATURE_LENGTH = 43  # base64url of 32 bytes, unpadded


def file_url_secret(data_dir: Path, configured: str = "") -> bytes:
    """The signing key: the configured one, or this data directory's (mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "file-url-secret"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this node made it meanwhile
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def sign(key: bytes, purpose: str, subject: int, expires: int) -> str:
    mac = hmac.new(key, f"{purpose}:{subject}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify(
    key: bytes, purpose: str, subject: int, expires: int, signature: str, now: datetime
) -> bool:
    """The signature is ours for exactly this purpose, subject and expiry, and not expired."""
    if expires < now.timestamp() or len(signature) != SIGNATURE_LENGTH:
        return False
    return hmac.compare_digest(sign(key, purpose, subject, expires), signature)


# ---- diagnostics upload tokens: "<request id>.<expires>.<signature>" ---------------------------
def diagnostics_token(key: bytes, request_id: int, expires: int) -> str:
    return f"{request_id}.{expires}.{sign(key, 'diagnostics', request_id, expires)}"


def diagnostics_request_of(key: bytes, token: str, now: datetime) -> int | None:
    """The diagnostics request a token grants an upload for, or None (forged, expired)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdecimal() or not parts[1].isdecimal():
        return None
    request_id, expires = int(parts[0]), int(parts[1])
    if not 1 <= request_id <= 2**31 - 1:
        return None
    if not verify(key, "diagnostics", request_id, expires, parts[2], now):
        return None
    return request_id
