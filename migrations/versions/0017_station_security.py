"""Station security profiles and authorization key rotation.

Revision ID: 0017_station_security
Revises: 0016_campaign_pacing
Create Date: 2026-11-27 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_station_security"
down_revision: str | Sequence[str] | None = "0016_campaign_pacing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("security_profile", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("auth_key_pending_hash", sa.String(length=255), nullable=True)
        )
    # A station with a Basic-auth password was profile 1 all along.
    op.execute("UPDATE stations SET security_profile = 1 WHERE auth_password_hash IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_column("auth_key_pending_hash")
        batch_op.drop_column("security_profile")
