"""Oversight tables in the `oversight` schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Float, Index, SmallInteger, Table, Text, func

from emporium.platform.db.schema import metadata

flag_setting = Table(
    "flag_setting",
    metadata,
    Column("flag", Text, primary_key=True),
    Column("org_id", Text, primary_key=True),  # '*' for the flag's global setting
    Column("percentage", SmallInteger, nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("percentage BETWEEN 0 AND 100", name="percentage_range"),
    schema="oversight",
)

api_request = Table(
    "api_request",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("org_id", Text, nullable=True),
    Column("actor_type", Text, nullable=True),
    Column("actor_id", Text, nullable=True),
    Column("method", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("idempotency_key", Text, nullable=True),
    Column("request_id", Text, nullable=True),
    # An org's newest first, and the purge by age.
    Index("ix_api_request_org_occurred", "org_id", "occurred_at", "id"),
    Index("ix_api_request_occurred_at", "occurred_at"),
    schema="oversight",
)
