"""event bus: outbox, inbox and dead letters (platform schema)

Revision ID: 0003_events
Revises: 0002_identity
Create Date: 2026-11-21 12:42:29.795666
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_events"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_name", sa.Text(), nullable=False),
        sa.Column("event_version", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=True),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
        sa.UniqueConstraint("event_id", "consumer", name=op.f("uq_dead_letter_event_id_consumer")),
        schema="platform",
    )
    op.create_index(
        "ix_dead_letter_org_time", "dead_letter", ["org_id", "last_failed_at", "id"], unique=False, schema="platform"
    )
    op.create_index("ix_dead_letter_time", "dead_letter", ["last_failed_at", "id"], unique=False, schema="platform")
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
        schema="platform",
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("aggregate_type", sa.Text(), nullable=False),
        sa.Column("aggregate_id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_via", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "delivered_via IN ('subscribers', 'broker', 'dead_letter')", name=op.f("ck_outbox_delivered_via_known")
        ),
        sa.CheckConstraint(
            "(delivered_at IS NULL) = (delivered_via IS NULL)", name=op.f("ck_outbox_delivered_says_how")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_outbox_version_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
        schema="platform",
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["seq"],
        unique=False,
        schema="platform",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_pending_aggregate",
        "outbox",
        ["aggregate_type", "aggregate_id", "seq"],
        unique=False,
        schema="platform",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_pending_aggregate",
        table_name="outbox",
        schema="platform",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.drop_index(
        "ix_outbox_pending", table_name="outbox", schema="platform", postgresql_where=sa.text("delivered_at IS NULL")
    )
    op.drop_table("outbox", schema="platform")
    op.drop_table("inbox", schema="platform")
    op.drop_index("ix_dead_letter_time", table_name="dead_letter", schema="platform")
    op.drop_index("ix_dead_letter_org_time", table_name="dead_letter", schema="platform")
    op.drop_table("dead_letter", schema="platform")
