"""GetLog requests and signed firmware updates.

Revision ID: 0021_station_logs
Revises: 0020_durable_replies
Create Date: 2026-11-27 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_station_logs"
down_revision: str | Sequence[str] | None = "0020_durable_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("log_type", sa.String(length=20), nullable=False),
        sa.Column("oldest_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_name", sa.String(length=255), nullable=True),
        sa.Column("received_size", sa.BigInteger(), nullable=True),
        sa.Column("received_sha256", sa.String(length=64), nullable=True),
        sa.Column("stored_as", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_logs_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_station_logs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_logs")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("station_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_station_logs_station_created", ["station_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_station_logs_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("firmware_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_certificate", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.Text(), nullable=True))
    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_certificate", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("install_date", sa.DateTime(timezone=True), nullable=True))
    # InstallVerificationFailed (a signed update's state) is 25 characters long.
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=20),
            type_=sa.String(length=30),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=30),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.drop_column("install_date")
        batch_op.drop_column("signature")
        batch_op.drop_column("signing_certificate")
    with op.batch_alter_table("firmware_files", schema=None) as batch_op:
        batch_op.drop_column("signature")
        batch_op.drop_column("signing_certificate")

    with op.batch_alter_table("station_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_logs_tenant_id"))
        batch_op.drop_index("ix_station_logs_station_created")
    op.drop_table("station_logs")
