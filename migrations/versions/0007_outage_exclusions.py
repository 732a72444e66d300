"""Analytics: outage exclusions, the times an operator declares outside its control (uptime).

Revision ID: 0007_outage_exclusions
Revises: 0006_webhooks
Create Date: 2026-11-27 12:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_outage_exclusions"
down_revision: str | Sequence[str] | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outage_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_outage_exclusions_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_exclusions")),
    )
    with op.batch_alter_table("outage_exclusions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outage_exclusions_station_starts", ["station_id", "starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outage_exclusions", schema=None) as batch_op:
        batch_op.drop_index("ix_outage_exclusions_station_starts")

    op.drop_table("outage_exclusions")
