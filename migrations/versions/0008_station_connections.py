"""Stations: every WebSocket connection (connected_at, disconnected_at), the exact online history.

Backfilled from what the station rows recorded: each station's latest connection (open while the
row says online; the node's start, which follows the migration, closes it like every open one).

Revision ID: 0008_station_connections
Revises: 0007_outage_exclusions
Create Date: 2026-11-28 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_station_connections"
down_revision: str | Sequence[str] | None = "0007_outage_exclusions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_connections_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_connections")),
    )
    with op.batch_alter_table("station_connections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_station_connections_station_connected",
            ["station_id", "connected_at"],
            unique=False,
        )
    # An offline row whose disconnection predates its connection (not written by the gateway)
    # gets an empty connection rather than an open one.
    op.execute(
        """
        INSERT INTO station_connections (station_id, connected_at, disconnected_at)
        SELECT id, connected_at,
               CASE WHEN online THEN NULL
                    WHEN disconnected_at IS NULL OR disconnected_at < connected_at
                         THEN connected_at
                    ELSE disconnected_at END
        FROM stations
        WHERE connected_at IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("station_connections", schema=None) as batch_op:
        batch_op.drop_index("ix_station_connections_station_connected")

    op.drop_table("station_connections")
