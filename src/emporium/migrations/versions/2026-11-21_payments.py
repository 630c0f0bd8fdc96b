"""payments: the payments schema with payments, refunds, processed provider events and the sandbox ledger

Revision ID: 0006_payments
Revises: 0005_webhook_endpoints
Create Date: 2026-11-21 13:08:52.678463
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_payments"
down_revision: str | None = "0005_webhook_endpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "payments"')
    op.create_table(
        "payment",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("authorized_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("card_token", sa.Text(), nullable=False),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("authorized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payment_currency_iso4217")),
        sa.CheckConstraint(
            "status IN ('pending', 'authorized', 'captured', 'declined', 'failed', 'voided')",
            name=op.f("ck_payment_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_amount_positive")),
        sa.CheckConstraint("authorized_amount <= amount", name=op.f("ck_payment_authorized_within_amount")),
        sa.CheckConstraint("authorized_amount >= 0", name=op.f("ck_payment_authorized_not_negative")),
        sa.CheckConstraint("captured_amount <= authorized_amount", name=op.f("ck_payment_captured_within_authorized")),
        sa.CheckConstraint("captured_amount >= 0", name=op.f("ck_payment_captured_not_negative")),
        sa.CheckConstraint("refunded_amount <= captured_amount", name=op.f("ck_payment_refunded_within_captured")),
        sa.CheckConstraint("refunded_amount >= 0", name=op.f("ck_payment_refunded_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        schema="payments",
    )
    op.create_index(
        "ix_payment_authorized_at",
        "payment",
        ["authorized_at"],
        unique=False,
        schema="payments",
        postgresql_where=sa.text("status = 'authorized'"),
    )
    op.create_index(
        "ix_payment_org_order", "payment", ["org_id", "order_id", "created_at"], unique=False, schema="payments"
    )
    op.create_index(
        "ix_payment_pending_created",
        "payment",
        ["created_at"],
        unique=False,
        schema="payments",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "uq_payment_live_order",
        "payment",
        ["org_id", "order_id"],
        unique=True,
        schema="payments",
        postgresql_where=sa.text("status IN ('pending', 'authorized', 'captured')"),
    )
    op.create_table(
        "provider_event",
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_provider_event")),
        schema="payments",
    )
    op.create_table(
        "sandbox_ledger",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("charge_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("card_token", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')", name=op.f("ck_sandbox_ledger_operation_known")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_sandbox_ledger_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_ledger")),
        sa.UniqueConstraint("operation", "idempotency_key", name=op.f("uq_sandbox_ledger_operation_idempotency_key")),
        schema="payments",
    )
    op.create_index(
        "ix_sandbox_ledger_charge", "sandbox_ledger", ["charge_id", "operation"], unique=False, schema="payments"
    )
    op.create_table(
        "refund",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("refund_key", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refund_status_known")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refund_amount_positive")),
        sa.CheckConstraint("length(refund_key) BETWEEN 1 AND 255", name=op.f("ck_refund_refund_key_length")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.payment.id"], name=op.f("fk_refund_payment_id_payment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("payment_id", "refund_key", name=op.f("uq_refund_payment_id_refund_key")),
        schema="payments",
    )


def downgrade() -> None:
    op.drop_table("refund", schema="payments")
    op.drop_index("ix_sandbox_ledger_charge", table_name="sandbox_ledger", schema="payments")
    op.drop_table("sandbox_ledger", schema="payments")
    op.drop_table("provider_event", schema="payments")
    op.drop_index(
        "uq_payment_live_order",
        table_name="payment",
        schema="payments",
        postgresql_where=sa.text("status IN ('pending', 'authorized', 'captured')"),
    )
    op.drop_index(
        "ix_payment_pending_created",
        table_name="payment",
        schema="payments",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_payment_org_order", table_name="payment", schema="payments")
    op.drop_index(
        "ix_payment_authorized_at",
        table_name="payment",
        schema="payments",
        postgresql_where=sa.text("status = 'authorized'"),
    )
    op.drop_table("payment", schema="payments")
    op.execute('DROP SCHEMA IF EXISTS "payments"')
