"""Notifications tables in the `notifications` schema."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
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
    # During a rotation the previous secret still signs (a second signature) until it expires.
    Column("previous_secret", Text, nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
    # Set at the first failure after a success; an endpoint failing for 5 days is disabled.
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("url ~ '^https?://'", name="url_http"),
    CheckConstraint("secret LIKE 'whsec_%'", name="secret_format"),
    CheckConstraint("cardinality(event_types) BETWEEN 1 AND 50", name="event_types_count"),
    *crud_indexes("webhook_endpoint", ["enabled", "created_at"]),
    schema="notifications",
)

# Deliveries: one row per (endpoint, event). `message_id` is the `webhook-id` header, stable across
# retries and manual replays; `body` is the exact JSON sent (so a replay signs the same bytes).
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("endpoint_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("traceparent", Text, nullable=True),  # the event handler's span: the send continues that trace
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),  # in the current round (replay resets it)
    Column("total_attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("claimed_by", Text, nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("succeeded_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("endpoint_id", "event_id"),
    CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name="status"),
    CheckConstraint("status <> 'pending' OR next_attempt_at IS NOT NULL", name="pending_is_scheduled"),
    CheckConstraint("attempts >= 0 AND total_attempts >= attempts", name="attempts"),
    Index("ix_webhook_delivery_org_created", "org_id", "created_at", "id"),
    Index("ix_webhook_delivery_org_endpoint", "org_id", "endpoint_id", "created_at", "id"),
    Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    schema="notifications",
)

# Every attempt of a delivery: what the endpoint answered (or why nothing was sent), and how long it took.
webhook_attempt = Table(
    "webhook_attempt",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("delivery_id", Text, nullable=False),
    Column("number", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhook_attempt_delivery", "delivery_id", "number"),
    schema="notifications",
)

# Emails and text messages: one row per (consumer, event) — the claim that makes a send happen once,
# and the record of what happened (sent, skipped over the org's hourly cap, failed for good).
message = Table(
    "message",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("consumer", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("consumer", "event_id"),
    CheckConstraint("channel IN ('email', 'sms')", name="channel"),
    CheckConstraint("status IN ('sending', 'sent', 'skipped', 'failed')", name="status"),
    Index("ix_message_org_created", "org_id", "created_at", "id"),
    schema="notifications",
)

# Sends per org, channel and clock hour: one conditional upsert per send keeps the cap exact across replicas.
send_quota = Table(
    "send_quota",
    metadata,
    Column("org_id", Text, primary_key=True),
    Column("channel", Text, primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("used", Integer, nullable=False),
    CheckConstraint("used >= 0", name="used"),
    schema="notifications",
)
