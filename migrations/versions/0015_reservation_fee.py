"""Reservation fees.

The fee of a reservation (OCPI 2.2.1 ``restrictions.reservation``): the tariff snapshot it was
offered, the bill of one that expired unused, and the payment of that bill. Existing rows get
``cost_status`` ``none``: they were made when reservations cost nothing.

Revision ID: 0015_reservation_fee
Revises: 0014_site_load
Create Date: 2026-11-27 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_reservation_fee"
down_revision: str | Sequence[str] | None = "0014_site_load"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=18, scale=6)


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tariff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tariff_snapshot", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(
            sa.Column("cost_status", sa.String(length=12), server_default="none", nullable=False)
        )
        batch_op.add_column(sa.Column("cost_total", MONEY, nullable=True))
        batch_op.add_column(sa.Column("cost_breakdown", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("billed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payment_state", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("payment_ref", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("payment_captured", MONEY, nullable=True))
        batch_op.add_column(
            sa.Column("payment_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("payment_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payment_error", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reservations_tariff_id_tariffs"),
            "tariffs",
            ["tariff_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_reservations_payment_state_next",
            ["payment_state", "payment_next_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_payment_state_next")
        batch_op.drop_constraint(
            batch_op.f("fk_reservations_tariff_id_tariffs"), type_="foreignkey"
        )
        for column in (
            "payment_error",
            "payment_next_at",
            "payment_attempts",
            "payment_captured",
            "payment_ref",
            "payment_state",
            "billed_at",
            "cost_breakdown",
            "cost_total",
            "cost_status",
            "currency",
            "tariff_snapshot",
            "tariff_id",
        ):
            batch_op.drop_column(column)
