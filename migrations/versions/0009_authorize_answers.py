"""Tokens: every Authorize request and the status we answered (authorization error rate).

Revision ID: 0009_authorize_answers
Revises: 0008_station_connections
Create Date: 2026-11-27 14:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_authorize_answers"
down_revision: str | Sequence[str] | None = "0008_station_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorize_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_authorize_answers_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorize_answers")),
    )
    with op.batch_alter_table("authorize_answers", schema=None) as batch_op:
        batch_op.create_index("ix_authorize_answers_station_at", ["station_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("authorize_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_authorize_answers_station_at")

    op.drop_table("authorize_answers")
