"""Firmware files, update campaigns and diagnostics uploads.

Revision ID: 0012_firmware
Revises: 0011_local_auth_lists
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "0012_firmware"
down_revision: str | Sequence[str] | None = "0011_local_auth_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
