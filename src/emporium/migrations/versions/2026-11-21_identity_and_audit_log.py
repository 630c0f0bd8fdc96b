"""identity and audit log: orgs, users, API keys (identity schema); audit_log (platform schema)

Revision ID: 0002_identity
Revises: 0001_kernel
Create Date: 2026-11-21 12:33:29.388414
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_identity"
down_revision: str | None = "0001_kernel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "identity"')
    op.create_table(
        "org",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org")),
        schema="identity",
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="platform",
    )
    op.create_index(
        "ix_audit_log_org_actor", "audit_log", ["org_id", "actor_id", "occurred_at"], unique=False, schema="platform"
    )
    op.create_index(
        "ix_audit_log_org_target", "audit_log", ["org_id", "target_id", "occurred_at"], unique=False, schema="platform"
    )
    op.create_index(
        "ix_audit_log_org_time", "audit_log", ["org_id", "occurred_at", "id"], unique=False, schema="platform"
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("display_prefix", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'backoffice', 'owner', 'staff', 'storefront', 'viewer')", name=op.f("ck_api_key_role")
        ),
        sa.CheckConstraint("secret_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_api_key_secret_hash_is_sha256")),
        sa.ForeignKeyConstraint(["org_id"], ["identity.org.id"], name=op.f("fk_api_key_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_key_secret_hash")),
        schema="identity",
    )
    op.create_index(
        "ix_api_key_org_created", "api_key", ["org_id", "created_at", "id"], unique=False, schema="identity"
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'owner', 'staff', 'viewer')", name=op.f("ck_user_role")),
        sa.CheckConstraint("status IN ('active', 'deactivated', 'invited')", name=op.f("ck_user_status")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_user_email_lowercase")),
        sa.ForeignKeyConstraint(["org_id"], ["identity.org.id"], name=op.f("fk_user_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_user_org_id_email")),
        schema="identity",
    )
    op.create_index("ix_user_org_created", "user", ["org_id", "created_at", "id"], unique=False, schema="identity")


def downgrade() -> None:
    op.drop_index("ix_user_org_created", table_name="user", schema="identity")
    op.drop_table("user", schema="identity")
    op.drop_index("ix_api_key_org_created", table_name="api_key", schema="identity")
    op.drop_table("api_key", schema="identity")
    op.drop_index("ix_audit_log_org_time", table_name="audit_log", schema="platform")
    op.drop_index("ix_audit_log_org_target", table_name="audit_log", schema="platform")
    op.drop_index("ix_audit_log_org_actor", table_name="audit_log", schema="platform")
    op.drop_table("audit_log", schema="platform")
    op.drop_table("org", schema="identity")
    op.execute('DROP SCHEMA IF EXISTS "identity"')
