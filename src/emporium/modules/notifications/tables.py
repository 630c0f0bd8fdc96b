"""Notifications tables in the `notifications` schema."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Integer, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY

from emporium.platform.crud.resource import crud_indexes
from emporium.platform.db.schema import metadata

webhook_endpoint = Table(
    "webhook_endpoint",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    # Symmetric: Standard Webhooks signs with it, so it cannot be stored as a hash.
    Column("secret", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("url ~ '^https?://'", name="url_http"),
    CheckConstraint("secret LIKE 'whsec_%'", name="secret_format"),
    CheckConstraint("cardinality(event_types) BETWEEN 1 AND 50", name="event_types_count"),
    *crud_indexes("webhook_endpoint", ["enabled", "created_at"]),
    schema="notifications",
)
