"""Stored OCPP replies and transaction message durability.

Revision ID: 0020_durable_replies
Revises: 0019_login_limits
Create Date: 2026-11-27 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_durable_replies"
down_revision: str | Sequence[str] | None = "0019_login_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ocpp_replies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_ocpp_replies_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_replies")),
        sa.UniqueConstraint(
            "station_id", "message_id", name=op.f("uq_ocpp_replies_station_id_message_id")
        ),
    )
    op.create_index(op.f("ix_ocpp_replies_created_at"), "ocpp_replies", ["created_at"])
    op.create_table(
        "transaction_id_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_id_blocks")),
    )
    op.create_index(op.f("ix_transaction_id_blocks_node_id"), "transaction_id_blocks", ["node_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transaction_id_blocks_node_id"), table_name="transaction_id_blocks")
    op.drop_table("transaction_id_blocks")
    op.drop_index(op.f("ix_ocpp_replies_created_at"), table_name="ocpp_replies")
    op.drop_table("ocpp_replies")
