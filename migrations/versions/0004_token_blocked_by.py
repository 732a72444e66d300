"""Tokens remember who blocked them, so a driver may undo their own block.

Revision ID: 0004_token_blocked_by
Revises: 0003_charging_sessions
Create Date: 2026-11-27 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_token_blocked_by"
down_revision: str | Sequence[str] | None = "0003_charging_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.add_column(sa.Column("blocked_by", sa.String(length=20), nullable=True))
    # Blocks that exist already were set by operators.
    op.execute("UPDATE tokens SET blocked_by = 'operator' WHERE status = 'Blocked'")


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.drop_column("blocked_by")
