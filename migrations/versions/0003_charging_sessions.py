"""Charging sessions: the driver's view of a charge (DESIGN.md decision 4).

Revision ID: 0003_charging_sessions
Revises: 0002_accounts
Create Date: 2026-11-27 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_charging_sessions"
down_revision: str | Sequence[str] | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charging_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("start_status", sa.String(length=40), nullable=True),
        sa.Column("start_command_id", sa.String(length=36), nullable=True),
        sa.Column("stop_status", sa.String(length=40), nullable=True),
        sa.Column("stop_command_id", sa.String(length=36), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meter_start_wh", sa.Integer(), nullable=True),
        sa.Column("meter_stop_wh", sa.Integer(), nullable=True),
        sa.Column("energy_wh", sa.Integer(), nullable=True),
        sa.Column("reconciled", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_charging_sessions_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_charging_sessions_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_charging_sessions_token_id_tokens")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_charging_sessions_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_charging_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_charging_sessions_transaction_id")),
    )
    op.create_index(
        "ix_charging_sessions_connector_state",
        "charging_sessions",
        ["station_id", "connector_id", "state"],
    )
    op.create_index(
        "ix_charging_sessions_tenant_requested", "charging_sessions", ["tenant_id", "requested_at"]
    )
    op.create_index(
        "uq_charging_sessions_open_connector",
        "charging_sessions",
        ["station_id", "connector_id"],
        unique=True,
        sqlite_where=sa.text("state IN ('pending', 'active')"),
        postgresql_where=sa.text("state IN ('pending', 'active')"),
    )
    op.create_index(
        "ix_charging_sessions_user_requested", "charging_sessions", ["user_id", "requested_at"]
    )


def downgrade() -> None:
    op.drop_index("uq_charging_sessions_open_connector", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_user_requested", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_tenant_requested", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_connector_state", table_name="charging_sessions")
    op.drop_table("charging_sessions")
