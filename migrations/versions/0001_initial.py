"""Initial schema: the tables of the first models.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:14:30.818821+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ocpp_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("message_type", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=50), nullable=True),
        sa.Column("frame", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_messages")),
    )
    op.create_index("ix_ocpp_messages_cp_time", "ocpp_messages", ["charge_point_id", "created_at"])
    op.create_index("ix_ocpp_messages_time", "ocpp_messages", ["created_at"])

    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sites_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_index(op.f("ix_sites_tenant_id"), "sites", ["tenant_id"])

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expiry_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.Column("max_concurrent_transactions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tokens_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("tenant_id", "id_tag", name=op.f("uq_tokens_tenant_id_id_tag")),
    )
    op.create_index(op.f("ix_tokens_id_tag"), "tokens", ["id_tag"])
    op.create_index(op.f("ix_tokens_tenant_id"), "tokens", ["tenant_id"])

    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("registration_status", sa.String(length=20), nullable=False),
        sa.Column("allow_missing_subprotocol", sa.Boolean(), nullable=False),
        sa.Column("auth_password_hash", sa.String(length=255), nullable=True),
        sa.Column("vendor", sa.String(length=20), nullable=True),
        sa.Column("model", sa.String(length=20), nullable=True),
        sa.Column("serial_number", sa.String(length=25), nullable=True),
        sa.Column("charge_box_serial_number", sa.String(length=25), nullable=True),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=True),
        sa.Column("imsi", sa.String(length=20), nullable=True),
        sa.Column("meter_type", sa.String(length=25), nullable=True),
        sa.Column("meter_serial_number", sa.String(length=25), nullable=True),
        sa.Column("last_boot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("firmware_status", sa.String(length=30), nullable=True),
        sa.Column("firmware_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("diagnostics_status", sa.String(length=30), nullable=True),
        sa.Column("diagnostics_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_stations_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("charge_point_id", name=op.f("uq_stations_charge_point_id")),
    )
    op.create_index(op.f("ix_stations_site_id"), "stations", ["site_id"])
    op.create_index(op.f("ix_stations_tenant_id"), "stations", ["tenant_id"])

    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_commands_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_index("ix_commands_station_created", "commands", ["station_id", "created_at"])

    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=30), nullable=False),
        sa.Column("info", sa.String(length=50), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=50), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_connectors_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint(
            "station_id", "connector_id", name=op.f("uq_connectors_station_id_connector_id")
        ),
    )
    op.create_table(
        "data_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("vendor_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=50), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("response_data", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_data_transfers_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_transfers")),
    )
    op.create_index(op.f("ix_data_transfers_station_id"), "data_transfers", ["station_id"])

    op.create_table(
        "station_configuration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_configuration_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_configuration")),
        sa.UniqueConstraint(
            "station_id", "key", name=op.f("uq_station_configuration_station_id_key")
        ),
    )
    op.create_table(
        "status_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=30), nullable=False),
        sa.Column("info", sa.String(length=50), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=50), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_status_notifications_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_notifications")),
    )
    op.create_index(
        "ix_status_notifications_station_time",
        "status_notifications",
        ["station_id", "received_at"],
    )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("start_auth_status", sa.String(length=20), nullable=False),
        sa.Column("meter_start", sa.Integer(), nullable=False),
        sa.Column("start_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("start_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meter_stop", sa.Integer(), nullable=True),
        sa.Column("stop_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=20), nullable=True),
        sa.Column("stop_id_tag", sa.String(length=20), nullable=True),
        sa.Column("stop_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_meter_wh", sa.Integer(), nullable=True),
        sa.Column("last_meter_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_transactions_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_transactions_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "station_id",
            "connector_id",
            "id_tag",
            "start_timestamp",
            "meter_start",
            name=op.f("uq_transactions_start"),
        ),
    )
    op.create_index(op.f("ix_transactions_station_id"), "transactions", ["station_id"])
    op.create_index(
        "ix_transactions_station_open",
        "transactions",
        ["station_id", "connector_id", "stop_received_at"],
    )
    op.create_index(op.f("ix_transactions_token_id"), "transactions", ["token_id"])

    op.create_table(
        "unmatched_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=True),
        sa.Column("meter_stop", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_unmatched_stops_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_stops")),
    )
    op.create_index(op.f("ix_unmatched_stops_station_id"), "unmatched_stops", ["station_id"])

    op.create_table(
        "meter_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("measurand", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=True),
        sa.Column("context", sa.String(length=30), nullable=True),
        sa.Column("location", sa.String(length=10), nullable=True),
        sa.Column("format", sa.String(length=12), nullable=True),
        sa.Column("raw_value", sa.Text(), nullable=False),
        sa.Column("raw_unit", sa.String(length=12), nullable=True),
        sa.Column("value", sa.Numeric(precision=20, scale=3), nullable=True),
        sa.Column("unit", sa.String(length=12), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_meter_values_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_meter_values_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_values")),
    )
    op.create_index("ix_meter_values_station_time", "meter_values", ["station_id", "timestamp"])
    op.create_index("ix_meter_values_tx_time", "meter_values", ["transaction_id", "timestamp"])


def downgrade() -> None:
    # Dropping a table drops its indexes.
    op.drop_table("meter_values")
    op.drop_table("unmatched_stops")
    op.drop_table("transactions")
    op.drop_table("status_notifications")
    op.drop_table("station_configuration")
    op.drop_table("data_transfers")
    op.drop_table("connectors")
    op.drop_table("commands")
    op.drop_table("stations")
    op.drop_table("tokens")
    op.drop_table("sites")
    op.drop_table("tenants")
    op.drop_table("ocpp_messages")
