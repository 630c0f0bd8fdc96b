from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, SmallInteger, Table, Text, func

from emporium.platform.db.schema import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("actor_type", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_id", Text),
    Column("request_id", Text),
    Column("status", SmallInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_audit_log_org_time", "org_id", "occurred_at", "id"),
    Index("ix_audit_log_org_actor", "org_id", "actor_id", "occurred_at"),
    Index("ix_audit_log_org_target", "org_id", "target_id", "occurred_at"),
    schema="platform",
)
