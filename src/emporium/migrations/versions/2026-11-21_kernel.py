"""kernel: the platform schema that holds the migration version table

Revision ID: 0001_kernel
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0001_kernel"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # env.py creates it first for the version table; stated here so the
    # revision history alone describes the database.
    op.execute('CREATE SCHEMA IF NOT EXISTS "platform"')


def downgrade() -> None:
    # The platform schema holds alembic_version itself, so it stays.
    pass
