"""Payments tables in the `payments` schema. Money invariants live in CHECK constraints.

- `payment`: at most one live payment (pending, authorized, captured) per order (partial unique index);
  `captured <= authorized <= amount` and `refunded <= captured`.
- `refund`: one row per refund; `(payment_id, refund_key)` is unique so a retried refund finds its row.
- `provider_event`: inbound provider webhooks already processed, by (provider, event id).
- `sandbox_ledger`: the sandbox provider's own books (it stands for an external system).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from emporium.platform.db.schema import metadata

SCHEMA = "payments"
_LIVE = text("status IN ('pending', 'authorized', 'captured')")

payment = Table(
    "payment",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("authorized_amount", BigInteger, nullable=False, server_default="0"),
    Column("captured_amount", BigInteger, nullable=False, server_default="0"),
    Column("refunded_amount", BigInteger, nullable=False, server_default="0"),
    Column("card_token", Text, nullable=False),
    Column("provider_ref", Text),
    Column("failure_reason", Text),
    Column("authorized_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "status IN ('pending', 'authorized', 'captured', 'declined', 'failed', 'voided')", name="status_known"
    ),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso4217"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("authorized_amount >= 0", name="authorized_not_negative"),
    CheckConstraint("captured_amount >= 0", name="captured_not_negative"),
    CheckConstraint("refunded_amount >= 0", name="refunded_not_negative"),
    CheckConstraint("authorized_amount <= amount", name="authorized_within_amount"),
    CheckConstraint("captured_amount <= authorized_amount", name="captured_within_authorized"),
    CheckConstraint("refunded_amount <= captured_amount", name="refunded_within_captured"),
    # One live payment per order: a retried checkout finds it instead of charging again.
    Index("uq_payment_live_order", "org_id", "order_id", unique=True, postgresql_where=_LIVE),
    Index("ix_payment_org_order", "org_id", "order_id", "created_at"),
    Index("ix_payment_pending_created", "created_at", postgresql_where=text("status = 'pending'")),
    Index("ix_payment_authorized_at", "authorized_at", postgresql_where=text("status = 'authorized'")),
    schema=SCHEMA,
)

refund = Table(
    "refund",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("payment_id", Text, ForeignKey("payments.payment.id"), nullable=False),
    Column("refund_key", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("provider_ref", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    CheckConstraint("length(refund_key) BETWEEN 1 AND 255", name="refund_key_length"),
    UniqueConstraint("payment_id", "refund_key"),
    schema=SCHEMA,
)

provider_event = Table(
    "provider_event",
    metadata,
    Column("provider", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payment_id", Text),
    Column("outcome", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("provider", "event_id"),
    schema=SCHEMA,
)

sandbox_ledger = Table(
    "sandbox_ledger",
    metadata,
    Column("id", Text, primary_key=True),
    Column("operation", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("charge_id", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("card_token", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("operation IN ('authorize', 'capture', 'void', 'refund')", name="operation_known"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    UniqueConstraint("operation", "idempotency_key"),
    Index("ix_sandbox_ledger_charge", "charge_id", "operation"),
    schema=SCHEMA,
)
