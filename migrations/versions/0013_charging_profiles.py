"""Smart charging: charging profiles per station, versioned.

Revision ID: 0013_charging_profiles
Revises: 0012_firmware
Create Date: 2026-11-27 14:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_charging_profiles"
down_revision: str | Sequence[str] | None = "0012_firmware"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charging_profile_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("operation", sa.String(length=12), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("charging_profile_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=24), nullable=True),
        sa.Column("stack_level", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["commands.id"],
            name=op.f("fk_charging_profile_changes_command_id_commands"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_charging_profile_changes_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profile_changes")),
    )
    with op.batch_alter_table("charging_profile_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charging_profile_changes_command_id"), ["command_id"], unique=False
        )
        batch_op.create_index(
            "ix_charging_profile_changes_station_at", ["station_id", "created_at"], unique=False
        )

    op.create_table(
        "installed_charging_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("charging_profile_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["charging_profile_changes.id"],
            name=op.f("fk_installed_charging_profiles_change_id_charging_profile_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_installed_charging_profiles_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_charging_profiles")),
        sa.UniqueConstraint(
            "station_id", "charging_profile_id", name=op.f("uq_installed_profiles_id")
        ),
    )
    with op.batch_alter_table("installed_charging_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installed_charging_profiles_change_id"), ["change_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("installed_charging_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installed_charging_profiles_change_id"))

    op.drop_table("installed_charging_profiles")
    with op.batch_alter_table("charging_profile_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_charging_profile_changes_station_at")
        batch_op.drop_index(batch_op.f("ix_charging_profile_changes_command_id"))

    op.drop_table("charging_profile_changes")
