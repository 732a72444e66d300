"""Security whitepaper: security events and certificates.

Revision ID: 0018_security_messages
Revises: 0017_station_security
Create Date: 2026-11-27 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_security_messages"
down_revision: str | Sequence[str] | None = "0017_station_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("tech_info", sa.String(length=255), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_security_events_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_security_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_security_events_station_received", ["station_id", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_security_events_tenant_received", ["tenant_id", "received_at"], unique=False
        )

    op.create_table(
        "station_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_certificates_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_station_certificates_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_certificates")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_station_certificates_fingerprint")),
    )
    with op.batch_alter_table("station_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_certificates_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_certificates_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "installed_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("certificate_type", sa.String(length=40), nullable=False),
        sa.Column("hash_algorithm", sa.String(length=10), nullable=False),
        sa.Column("issuer_name_hash", sa.String(length=128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(length=128), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_installed_certificates_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_certificates")),
        sa.UniqueConstraint(
            "station_id",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            name="uq_installed_certificates_hash_data",
        ),
    )


def downgrade() -> None:
    op.drop_table("installed_certificates")
    with op.batch_alter_table("station_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_certificates_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_station_certificates_station_id"))
    op.drop_table("station_certificates")
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index("ix_security_events_tenant_received")
        batch_op.drop_index("ix_security_events_station_received")
    op.drop_table("security_events")
