"""Firmware campaign pacing: batch size and a daily maintenance window.

Revision ID: 0016_campaign_pacing
Revises: 0015_reservation_fee
Create Date: 2026-11-28 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_campaign_pacing"
down_revision: str | Sequence[str] | None = "0015_reservation_fee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("window_start", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("window_timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.drop_column("window_timezone")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
        batch_op.drop_column("batch_size")
