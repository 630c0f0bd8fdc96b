"""webhook endpoints: the notifications schema and the endpoints each org manages

Revision ID: 0005_webhook_endpoints
Revises: 0004_catalog
Create Date: 2026-11-21 12:54:28.090921
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_webhook_endpoints"
down_revision: str | None = "0004_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "notifications"')
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("secret LIKE 'whsec_%'", name=op.f("ck_webhook_endpoint_secret_format")),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f("ck_webhook_endpoint_url_http")),
        sa.CheckConstraint(
            "cardinality(event_types) BETWEEN 1 AND 50", name=op.f("ck_webhook_endpoint_event_types_count")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
        schema="notifications",
    )
    op.create_index(
        "ix_webhook_endpoint_org_created_at",
        "webhook_endpoint",
        ["org_id", "created_at", "id"],
        unique=False,
        schema="notifications",
    )
    op.create_index(
        "ix_webhook_endpoint_org_enabled",
        "webhook_endpoint",
        ["org_id", "enabled", "id"],
        unique=False,
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_endpoint_org_enabled", table_name="webhook_endpoint", schema="notifications")
    op.drop_index("ix_webhook_endpoint_org_created_at", table_name="webhook_endpoint", schema="notifications")
    op.drop_table("webhook_endpoint", schema="notifications")
    op.execute('DROP SCHEMA IF EXISTS "notifications"')
