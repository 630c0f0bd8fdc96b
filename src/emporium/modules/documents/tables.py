"""Documents tables in the `documents` schema.

`number_counter` holds the last number issued per (org, kind). It is bumped in
the statement that inserts the document, so the row lock serialises issuers of
one (org, kind) until their commit and a rolled-back issue gives its number
back: numbers have no gap and no duplicate (also checked by the unique key).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from emporium.platform.db.schema import metadata

KINDS = "('credit_note', 'invoice', 'packing_slip')"

document = Table(
    "document",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("source_event_id", Text, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("content_sha256", Text),
    Column("size_bytes", BigInteger),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("stored_at", DateTime(timezone=True)),
    Column("voided_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"kind IN {KINDS}", name="kind"),
    CheckConstraint("state IN ('requested', 'rendering', 'stored', 'voided')", name="state"),
    CheckConstraint("number >= 1", name="number_positive"),
    CheckConstraint("state <> 'stored' OR (content_sha256 IS NOT NULL AND size_bytes IS NOT NULL)", name="stored"),
    UniqueConstraint("org_id", "kind", "number"),
    # One document per (kind, event): a redelivered event finds the document it already issued.
    UniqueConstraint("kind", "source_event_id"),
    Index("ix_document_org_order", "org_id", "order_id", "kind", "number"),
    schema="documents",
)

number_counter = Table(
    "number_counter",
    metadata,
    Column("org_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("last_number", BigInteger, nullable=False),
    PrimaryKeyConstraint("org_id", "kind"),
    CheckConstraint("last_number >= 1", name="last_number_positive"),
    schema="documents",
)
