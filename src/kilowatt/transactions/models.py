from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow


class Transaction(Base):
    """What a charger reports: StartTransaction … MeterValues … StopTransaction.

    ``id`` is the OCPP transactionId. A repeated StartTransaction (same station, connector,
    idTag, timestamp and meterStart) maps onto the same row, so a retry gets the same id.
    """

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint(
            "station_id",
            "connector_id",
            "id_tag",
            "start_timestamp",
            "meter_start",
            name="uq_transactions_start",
        ),
        Index("ix_transactions_station_open", "station_id", "connector_id", "stop_received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    connector_id: Mapped[int]
    id_tag: Mapped[str] = mapped_column(String(20))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), index=True)
    # The idTagInfo.status we answered the StartTransaction with.
    start_auth_status: Mapped[str] = mapped_column(String(20))
    meter_start: Mapped[int]  # Wh
    start_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    reservation_id: Mapped[int | None]
    start_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    meter_stop: Mapped[int | None]  # Wh
    stop_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    stop_id_tag: Mapped[str | None] = mapped_column(String(20))
    stop_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Latest known energy register (Wh) and when, kept current by MeterValues.
    last_meter_wh: Mapped[int | None]
    last_meter_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why this transaction needs an operator's look (implausible data); None = nothing odd.
    review_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def energy_wh(self) -> int | None:
        end = self.meter_stop if self.meter_stop is not None else self.last_meter_wh
        return None if end is None else end - self.meter_start


class MeterValueRecord(Base):
    """One sampled value: as received (raw) and normalised (integer Wh / W, A, V, %, Celsius)."""

    __tablename__ = "meter_values"
    __table_args__ = (
        Index("ix_meter_values_tx_time", "transaction_id", "timestamp"),
        Index("ix_meter_values_station_time", "station_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    connector_id: Mapped[int]
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    # The message it came in: MeterValues, StartTransaction or StopTransaction (transactionData).
    source: Mapped[str] = mapped_column(String(20))
    measurand: Mapped[str] = mapped_column(String(40))
    phase: Mapped[str | None] = mapped_column(String(10))
    context: Mapped[str | None] = mapped_column(String(30))
    location: Mapped[str | None] = mapped_column(String(10))
    format: Mapped[str | None] = mapped_column(String(12))
    raw_value: Mapped[str] = mapped_column(Text)
    raw_unit: Mapped[str | None] = mapped_column(String(12))
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 3))
    unit: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnmatchedStop(Base):
    """A StopTransaction whose transactionId we do not know (-1, lost, another CSMS's).

    It is acknowledged like any other (the charger would otherwise retry and then discard it),
    and kept here with its data for an operator to reconcile.
    """

    __tablename__ = "unmatched_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    transaction_id: Mapped[int]  # as the station sent it
    id_tag: Mapped[str | None] = mapped_column(String(20))
    meter_stop: Mapped[int]
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OcppReply(Base):
    """The reply we gave to one transaction-related CALL, stored with its effect (same commit).

    A retry with the same message id gets this reply and changes nothing
    (gateway/replies.py, docs/durability.md). Pruned after a retention period.
    """

    __tablename__ = "ocpp_replies"
    __table_args__ = (UniqueConstraint("station_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    message_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the request payload: a reused id with another payload is a new message.
    request_hash: Mapped[str] = mapped_column(String(64))
    reply: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TransactionIdBlock(Base):
    """Transaction ids reserved by one node, to start transactions while the database is down."""

    __tablename__ = "transaction_id_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    first_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
