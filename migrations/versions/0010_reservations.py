"""Reservations: ReserveNow / CancelReservation, per connector or station, expiry and fee.

Revision ID: 0010_reservations
Revises: 0009_authorize_answers
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "0010_reservations"
down_revision: str | Sequence[str] | None = "0009_authorize_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
