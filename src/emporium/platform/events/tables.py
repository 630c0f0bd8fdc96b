"""The event bus's tables, in the `platform` schema.

- `outbox`: one row per published event, written in the publisher's transaction.
  `seq` orders events (per aggregate); the claim columns form a lease so several
  dispatchers share the work; `delivered_at` ends the row's life as pending.
- `inbox`: one row per (consumer, event) whose effect committed; inserted in the
  effect's own transaction, so a redelivered event finds it and does nothing.
- `dead_letter`: a consumer that failed an event `EVENTS_MAX_ATTEMPTS` times,
  with a copy of the event so it can be replayed after the outbox is pruned.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from emporium.platform.db.schema import metadata

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("aggregate_id", Text, nullable=False),
    Column("org_id", Text),
    Column("payload", JSONB, nullable=False),
    Column("trace_context", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_by", Text),
    Column("claimed_until", DateTime(timezone=True)),
    Column("first_failed_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("delivered_via", Text),
    UniqueConstraint("id"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint(
        "delivered_via IN ('subscribers', 'broker', 'dead_letter')",
        name="delivered_via_known",
    ),
    CheckConstraint("(delivered_at IS NULL) = (delivered_via IS NULL)", name="delivered_says_how"),
    # The dispatcher scans pending rows in seq order ...
    Index("ix_outbox_pending", "seq", postgresql_where=text("delivered_at IS NULL")),
    # ... and asks whether an earlier event of the same aggregate is still pending.
    Index(
        "ix_outbox_pending_aggregate",
        "aggregate_type",
        "aggregate_id",
        "seq",
        postgresql_where=text("delivered_at IS NULL"),
    ),
    schema="platform",
)

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
    schema="platform",
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", Text, primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("consumer", Text, nullable=False),
    Column("event_name", Text, nullable=False),
    Column("event_version", Integer, nullable=False),
    Column("org_id", Text),
    Column("event", JSONB, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "consumer"),
    Index("ix_dead_letter_time", "last_failed_at", "id"),
    Index("ix_dead_letter_org_time", "org_id", "last_failed_at", "id"),
    schema="platform",
)
