"""Firmware files, update campaigns and diagnostics uploads.

Revision ID: 0012_firmware
Revises: 0011_local_auth_lists
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_firmware"
down_revision: str | Sequence[str] | None = "0011_local_auth_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "firmware_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_as", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_firmware_files_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_files")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("firmware_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_firmware_files_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "firmware_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("retrieve_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["firmware_files.id"],
            name=op.f("fk_firmware_campaigns_file_id_firmware_files"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_firmware_campaigns_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_campaigns")),
    )
    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_firmware_campaigns_file_id"), ["file_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_firmware_campaigns_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "firmware_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("firmware_before", sa.String(length=50), nullable=True),
        sa.Column("firmware_after", sa.String(length=50), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["firmware_campaigns.id"],
            name=op.f("fk_firmware_updates_campaign_id_firmware_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_firmware_updates_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_updates")),
        sa.UniqueConstraint(
            "campaign_id", "station_id", name=op.f("uq_firmware_updates_campaign_id_station_id")
        ),
    )
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_firmware_updates_station_state", ["station_id", "state"], unique=False
        )

    op.create_table(
        "diagnostics_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
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
            name=op.f("fk_diagnostics_requests_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_diagnostics_requests_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostics_requests")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("diagnostics_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_diagnostics_requests_station_created", ["station_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_diagnostics_requests_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("diagnostics_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagnostics_requests_tenant_id"))
        batch_op.drop_index("ix_diagnostics_requests_station_created")
    op.drop_table("diagnostics_requests")

    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_firmware_updates_station_state")
    op.drop_table("firmware_updates")

    with op.batch_alter_table("firmware_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_campaigns_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_firmware_campaigns_file_id"))
    op.drop_table("firmware_campaigns")

    with op.batch_alter_table("firmware_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_files_tenant_id"))
    op.drop_table("firmware_files")
