"""orders: orders and lines, the org capture mode, idempotency keys

Revision ID: 0007_orders
Revises: 0006_payments
Create Date: 2026-11-21 13:17:25.109709
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_orders"
down_revision: str | None = "0006_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "orders"')
    op.create_table(
        "order",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("number", sa.BigInteger(), sa.Identity(always=False, start=1000), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("capture_mode", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("subtotal_amount", sa.BigInteger(), nullable=False),
        sa.Column("shipping_amount", sa.BigInteger(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("customer_email", sa.Text(), nullable=False),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("customer_phone", sa.Text(), nullable=True),
        sa.Column(
            "shipping_address",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("tracking_number", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("reservation_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("capture_mode IN ('immediate', 'on_fulfillment')", name=op.f("ck_order_capture_mode")),
        sa.CheckConstraint(
            "status <> 'fulfilled' OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)",
            name=op.f("ck_order_shipped"),
        ),
        sa.CheckConstraint(
            "status IN ('cancelled', 'delivered', 'fulfilled', 'paid', 'partially_refunded', 'pending_payment', 'refunded')",
            name=op.f("ck_order_status"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= total_amount", name=op.f("ck_order_refunds_within_total")
        ),
        sa.CheckConstraint("subtotal_amount >= 0 AND shipping_amount >= 0", name=op.f("ck_order_amounts_not_negative")),
        sa.CheckConstraint("total_amount = subtotal_amount + shipping_amount", name=op.f("ck_order_total_is_sum")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order")),
        sa.UniqueConstraint("number", name=op.f("uq_order_number")),
        schema="orders",
    )
    op.create_index("ix_order_org_created", "order", ["org_id", "created_at", "id"], unique=False, schema="orders")
    op.create_index(
        "ix_order_org_email_created",
        "order",
        ["org_id", "customer_email", "created_at", "id"],
        unique=False,
        schema="orders",
    )
    op.create_index(
        "ix_order_org_status_created", "order", ["org_id", "status", "created_at", "id"], unique=False, schema="orders"
    )
    op.create_index(
        "ix_order_pending_expiry",
        "order",
        ["reservation_expires_at"],
        unique=False,
        schema="orders",
        postgresql_where=sa.text("status = 'pending_payment'"),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_content_type", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status = 'in_flight' OR response_status IS NOT NULL", name=op.f("ck_idempotency_key_done_has_response")
        ),
        sa.CheckConstraint("status IN ('done', 'in_flight')", name=op.f("ck_idempotency_key_status")),
        sa.PrimaryKeyConstraint("org_id", "key", name=op.f("pk_idempotency_key")),
        schema="platform",
    )
    op.create_index("ix_idempotency_key_expires", "idempotency_key", ["expires_at"], unique=False, schema="platform")
    op.create_index(
        "ix_idempotency_key_in_flight",
        "idempotency_key",
        ["created_at"],
        unique=False,
        schema="platform",
        postgresql_where="status = 'in_flight'",
    )
    op.create_table(
        "order_line",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit_price_amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("line_total_amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("line_total_amount = unit_price_amount * quantity", name=op.f("ck_order_line_line_total")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_line_quantity_positive")),
        sa.CheckConstraint("unit_price_amount >= 0", name=op.f("ck_order_line_price_not_negative")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order.id"], name=op.f("fk_order_line_order_id_order")),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_line")),
        schema="orders",
    )
    op.add_column(
        "org", sa.Column("capture_mode", sa.Text(), server_default="immediate", nullable=False), schema="identity"
    )
    op.create_check_constraint(
        op.f("ck_org_capture_mode"), "org", "capture_mode IN ('immediate', 'on_fulfillment')", schema="identity"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_org_capture_mode"), "org", schema="identity", type_="check")
    op.drop_column("org", "capture_mode", schema="identity")
    op.drop_table("order_line", schema="orders")
    op.drop_index(
        "ix_idempotency_key_in_flight",
        table_name="idempotency_key",
        schema="platform",
        postgresql_where="status = 'in_flight'",
    )
    op.drop_index("ix_idempotency_key_expires", table_name="idempotency_key", schema="platform")
    op.drop_table("idempotency_key", schema="platform")
    op.drop_index(
        "ix_order_pending_expiry",
        table_name="order",
        schema="orders",
        postgresql_where=sa.text("status = 'pending_payment'"),
    )
    op.drop_index("ix_order_org_status_created", table_name="order", schema="orders")
    op.drop_index("ix_order_org_email_created", table_name="order", schema="orders")
    op.drop_index("ix_order_org_created", table_name="order", schema="orders")
    op.drop_table("order", schema="orders")
    op.execute('DROP SCHEMA IF EXISTS "orders"')
