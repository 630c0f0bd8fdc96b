"""Orders tables in the `orders` schema. Totals and refunds are kept consistent by CHECKs."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from emporium.platform.db.schema import metadata

STATUSES = "('cancelled', 'delivered', 'fulfilled', 'paid', 'partially_refunded', 'pending_payment', 'refunded')"

order = Table(
    "order",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("number", BigInteger, Identity(start=1000), nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("capture_mode", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("subtotal_amount", BigInteger, nullable=False),
    Column("shipping_amount", BigInteger, nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("refunded_amount", BigInteger, nullable=False, server_default="0"),
    Column("customer_email", Text, nullable=False),
    Column("customer_name", Text),
    Column("customer_phone", Text),
    Column("shipping_address", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("carrier", Text),
    Column("tracking_number", Text),
    Column("cancel_reason", Text),
    Column("reservation_expires_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"status IN {STATUSES}", name="status"),
    CheckConstraint("capture_mode IN ('immediate', 'on_fulfillment')", name="capture_mode"),
    CheckConstraint("subtotal_amount >= 0 AND shipping_amount >= 0", name="amounts_not_negative"),
    CheckConstraint("total_amount = subtotal_amount + shipping_amount", name="total_is_sum"),
    CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total_amount", name="refunds_within_total"),
    CheckConstraint("status <> 'fulfilled' OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)", name="shipped"),
    Index("ix_order_org_created", "org_id", "created_at", "id"),
    Index("ix_order_org_status_created", "org_id", "status", "created_at", "id"),
    Index("ix_order_org_email_created", "org_id", "customer_email", "created_at", "id"),
    Index("ix_order_pending_expiry", "reservation_expires_at", postgresql_where=text("status = 'pending_payment'")),
    schema="orders",
)

order_line = Table(
    "order_line",
    metadata,
    Column("order_id", Text, ForeignKey("orders.order.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("product_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("unit_price_amount", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("line_total_amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("order_id", "line_no"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("unit_price_amount >= 0", name="price_not_negative"),
    CheckConstraint("line_total_amount = unit_price_amount * quantity", name="line_total"),
    schema="orders",
)
