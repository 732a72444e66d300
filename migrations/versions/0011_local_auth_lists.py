"""Local authorization lists: the version and entries sent to each station.

Revision ID: 0011_local_auth_lists
Revises: 0010_reservations
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "0011_local_auth_lists"
down_revision: str | Sequence[str] | None = "0010_reservations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
