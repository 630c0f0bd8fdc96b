"""identity: platform operators' API keys

Revision ID: 0012_operator_keys
Revises: 0011_oversight
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_operator_keys"
down_revision: str | None = "0011_oversight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_key",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("display_prefix", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("secret_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_operator_key_secret_hash_is_sha256")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_key")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_operator_key_secret_hash")),
        schema="identity",
    )


def downgrade() -> None:
    op.drop_table("operator_key", schema="identity")
