"""documents: invoices, credit notes and packing slips, and their gap-free number counters

Revision ID: 0010_documents
Revises: 0009_job_runs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_documents"
down_revision: str | None = "0009_job_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "documents"


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS documents")
    op.create_table(
        "document",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('credit_note', 'invoice', 'packing_slip')", name=op.f("ck_document_kind")),
        sa.CheckConstraint("state IN ('requested', 'rendering', 'stored', 'voided')", name=op.f("ck_document_state")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_document_number_positive")),
        sa.CheckConstraint(
            "state <> 'stored' OR (content_sha256 IS NOT NULL AND size_bytes IS NOT NULL)",
            name=op.f("ck_document_stored"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("org_id", "kind", "number", name=op.f("uq_document_org_id_kind_number")),
        sa.UniqueConstraint("kind", "source_event_id", name=op.f("uq_document_kind_source_event_id")),
        schema=S,
    )
    op.create_index("ix_document_org_order", "document", ["org_id", "order_id", "kind", "number"], schema=S)
    op.create_table(
        "number_counter",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("last_number >= 1", name=op.f("ck_number_counter_last_number_positive")),
        sa.PrimaryKeyConstraint("org_id", "kind", name=op.f("pk_number_counter")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("number_counter", schema=S)
    op.drop_index("ix_document_org_order", table_name="document", schema=S)
    op.drop_table("document", schema=S)
    op.execute("DROP SCHEMA IF EXISTS documents")
