"""oversight: feature flag settings and the API request log

Revision ID: 0011_oversight
Revises: 0010_documents
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_oversight"
down_revision: str | None = "0010_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
S = "oversight"


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "oversight"')
    op.create_table(
        "flag_setting",
        sa.Column("flag", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("percentage", sa.SmallInteger(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("percentage BETWEEN 0 AND 100", name=op.f("ck_flag_setting_percentage_range")),
        sa.PrimaryKeyConstraint("flag", "org_id", name=op.f("pk_flag_setting")),
        schema=S,
    )
    op.create_table(
        "api_request",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=True),
        sa.Column("actor_type", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_request")),
        schema=S,
    )
    op.create_index("ix_api_request_org_occurred", "api_request", ["org_id", "occurred_at", "id"], schema=S)
    op.create_index("ix_api_request_occurred_at", "api_request", ["occurred_at"], schema=S)


def downgrade() -> None:
    op.drop_index("ix_api_request_occurred_at", table_name="api_request", schema=S)
    op.drop_index("ix_api_request_org_occurred", table_name="api_request", schema=S)
    op.drop_table("api_request", schema=S)
    op.drop_table("flag_setting", schema=S)
    op.execute('DROP SCHEMA IF EXISTS "oversight"')
