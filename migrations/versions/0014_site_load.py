"""Site load management: grid limits, priorities, allocations.

Revision ID: 0014_site_load
Revises: 0013_charging_profiles
Create Date: 2026-11-27 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_site_load"
down_revision: str | Sequence[str] | None = "0013_charging_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _amps(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(precision=8, scale=1), nullable=False)


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "site_load_configs",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _amps("limit_l1_a"),
        _amps("limit_l2_a"),
        _amps("limit_l3_a"),
        sa.Column("limit_kw", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("voltage", sa.Numeric(precision=6, scale=1), nullable=False),
        _amps("min_current_a"),
        _amps("max_current_a"),
        sa.Column("priorities", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _site_fk("site_load_configs"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_load_configs")),
    )
    op.create_table(
        "site_limit_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        _amps("limit_l1_a"),
        _amps("limit_l2_a"),
        _amps("limit_l3_a"),
        sa.Column("limit_kw", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _site_fk("site_limit_windows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_limit_windows")),
    )
    with op.batch_alter_table("site_limit_windows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_site_limit_windows_site_ends", ["site_id", "ends_at"], unique=False
        )
    op.create_table(
        "site_allocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        _amps("limit_l1_a"),
        _amps("limit_l2_a"),
        _amps("limit_l3_a"),
        _amps("load_l1_a"),
        _amps("load_l2_a"),
        _amps("load_l3_a"),
        sa.Column("sessions", sa.JSON(), nullable=False),
        _site_fk("site_allocations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_allocations")),
    )
    with op.batch_alter_table("site_allocations", schema=None) as batch_op:
        batch_op.create_index("ix_site_allocations_site_at", ["site_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("site_allocations")
    op.drop_table("site_limit_windows")
    op.drop_table("site_load_configs")
