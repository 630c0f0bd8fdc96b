"""reporting store: facts per event kind and the projection inbox

Revision ID: r0001_reporting_store
Revises:
Create Date: 2026-12-07 02:42:57.028167
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql, mysql, postgresql

revision: str = "r0001_reporting_store"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sa.types.TypeEngine[str]:
    """Byte-for-byte VARCHAR (the default collations of MariaDB and SQL Server ignore case)."""
    return (
        sa.String(length)
        .with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb")
        .with_variant(mssql.VARCHAR(length, collation="Latin1_General_100_BIN2_UTF8"), "mssql")
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def _time() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime(timezone=False)
        .with_variant(mssql.DATETIME2(), "mssql")  # type: ignore[no-untyped-call]
        .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    )


def upgrade() -> None:
    op.create_table(
        "applied_event",
        sa.Column("consumer", _text(100), nullable=False),
        sa.Column("event_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("occurred_at", _time(), nullable=False),
        sa.Column("applied_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_applied_event")),
        schema="reporting",
    )
    op.create_index("ix_applied_event_occurred_at", "applied_event", ["occurred_at"], unique=False, schema="reporting")
    op.create_index("ix_applied_event_org_id", "applied_event", ["org_id"], unique=False, schema="reporting")
    op.create_table(
        "order_cancelled",
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("was_paid", sa.Boolean(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_cancelled")),
        schema="reporting",
    )
    op.create_index(
        "ix_order_cancelled_org_id_day", "order_cancelled", ["org_id", "day"], unique=False, schema="reporting"
    )
    op.create_table(
        "order_line",
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("sku", _text(200), nullable=False),
        sa.Column("name", _text(500), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_line")),
        schema="reporting",
    )
    op.create_index("ix_order_line_org_id_day", "order_line", ["org_id", "day"], unique=False, schema="reporting")
    op.create_table(
        "order_paid",
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_paid")),
        schema="reporting",
    )
    op.create_index("ix_order_paid_org_id_day", "order_paid", ["org_id", "day"], unique=False, schema="reporting")
    op.create_table(
        "order_placed",
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_placed")),
        schema="reporting",
    )
    op.create_index("ix_order_placed_org_id_day", "order_placed", ["org_id", "day"], unique=False, schema="reporting")
    op.create_table(
        "order_refund",
        sa.Column("event_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_order_refund")),
        schema="reporting",
    )
    op.create_index("ix_order_refund_order_id", "order_refund", ["order_id"], unique=False, schema="reporting")
    op.create_index("ix_order_refund_org_id_day", "order_refund", ["org_id", "day"], unique=False, schema="reporting")
    op.create_table(
        "order_shipped",
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_shipped")),
        schema="reporting",
    )
    op.create_index("ix_order_shipped_org_id_day", "order_shipped", ["org_id", "day"], unique=False, schema="reporting")
    op.create_table(
        "payment_authorized",
        sa.Column("payment_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payment_authorized")),
        schema="reporting",
    )
    op.create_index(
        "ix_payment_authorized_org_id_day", "payment_authorized", ["org_id", "day"], unique=False, schema="reporting"
    )
    op.create_table(
        "payment_captured",
        sa.Column("event_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("payment_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_captured")),
        schema="reporting",
    )
    op.create_index(
        "ix_payment_captured_org_id_day", "payment_captured", ["org_id", "day"], unique=False, schema="reporting"
    )
    op.create_table(
        "payment_failed",
        sa.Column("payment_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payment_failed")),
        schema="reporting",
    )
    op.create_index(
        "ix_payment_failed_org_id_day", "payment_failed", ["org_id", "day"], unique=False, schema="reporting"
    )
    op.create_table(
        "payment_refund",
        sa.Column("event_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("payment_id", _text(64), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_refund")),
        schema="reporting",
    )
    op.create_index(
        "ix_payment_refund_org_id_day", "payment_refund", ["org_id", "day"], unique=False, schema="reporting"
    )
    op.create_table(
        "payment_voided",
        sa.Column("payment_id", _text(64), nullable=False),
        sa.Column("org_id", _text(64), nullable=False),
        sa.Column("order_id", _text(64), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payment_voided")),
        schema="reporting",
    )
    op.create_index(
        "ix_payment_voided_org_id_day", "payment_voided", ["org_id", "day"], unique=False, schema="reporting"
    )


def downgrade() -> None:
    op.drop_index("ix_payment_voided_org_id_day", table_name="payment_voided", schema="reporting")
    op.drop_table("payment_voided", schema="reporting")
    op.drop_index("ix_payment_refund_org_id_day", table_name="payment_refund", schema="reporting")
    op.drop_table("payment_refund", schema="reporting")
    op.drop_index("ix_payment_failed_org_id_day", table_name="payment_failed", schema="reporting")
    op.drop_table("payment_failed", schema="reporting")
    op.drop_index("ix_payment_captured_org_id_day", table_name="payment_captured", schema="reporting")
    op.drop_table("payment_captured", schema="reporting")
    op.drop_index("ix_payment_authorized_org_id_day", table_name="payment_authorized", schema="reporting")
    op.drop_table("payment_authorized", schema="reporting")
    op.drop_index("ix_order_shipped_org_id_day", table_name="order_shipped", schema="reporting")
    op.drop_table("order_shipped", schema="reporting")
    op.drop_index("ix_order_refund_org_id_day", table_name="order_refund", schema="reporting")
    op.drop_index("ix_order_refund_order_id", table_name="order_refund", schema="reporting")
    op.drop_table("order_refund", schema="reporting")
    op.drop_index("ix_order_placed_org_id_day", table_name="order_placed", schema="reporting")
    op.drop_table("order_placed", schema="reporting")
    op.drop_index("ix_order_paid_org_id_day", table_name="order_paid", schema="reporting")
    op.drop_table("order_paid", schema="reporting")
    op.drop_index("ix_order_line_org_id_day", table_name="order_line", schema="reporting")
    op.drop_table("order_line", schema="reporting")
    op.drop_index("ix_order_cancelled_org_id_day", table_name="order_cancelled", schema="reporting")
    op.drop_table("order_cancelled", schema="reporting")
    op.drop_index("ix_applied_event_org_id", table_name="applied_event", schema="reporting")
    op.drop_index("ix_applied_event_occurred_at", table_name="applied_event", schema="reporting")
    op.drop_table("applied_event", schema="reporting")
