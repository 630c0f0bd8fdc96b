from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
)

from emporium.platform.db.schema import metadata

idempotency_key = Table(
    "idempotency_key",
    metadata,
    Column("org_id", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("resource_id", Text),
    Column("response_status", SmallInteger),
    Column("response_body", LargeBinary),
    Column("response_content_type", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("org_id", "key"),
    CheckConstraint("status IN ('done', 'in_flight')", name="status"),
    CheckConstraint("status = 'in_flight' OR response_status IS NOT NULL", name="done_has_response"),
    Index("ix_idempotency_key_expires", "expires_at"),
    Index("ix_idempotency_key_in_flight", "created_at", postgresql_where="status = 'in_flight'"),
    schema="platform",
)
