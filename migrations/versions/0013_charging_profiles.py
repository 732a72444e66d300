"""Smart charging: charging profiles per station, versioned.

Revision ID: 0013_charging_profiles
Revises: 0012_firmware
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "0013_charging_profiles"
down_revision: str | Sequence[str] | None = "0012_firmware"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
