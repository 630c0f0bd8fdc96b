"""Catalog tables in the `catalog` schema. Stock invariants live in CHECK constraints."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from emporium.platform.crud.resource import crud_indexes
from emporium.platform.db.schema import metadata

category = Table(
    "category",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("parent_id", Text, ForeignKey("catalog.category.id")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    *crud_indexes("category", ["name", "parent_id", "created_at"], prefix_columns=["name"]),
    schema="catalog",
)

product = Table(
    "product",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("price_amount", BigInteger, nullable=False),
    Column("price_currency", Text, nullable=False),
    Column("category_id", Text, ForeignKey("catalog.category.id")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("price_amount >= 0", name="price_not_negative"),
    CheckConstraint("price_currency ~ '^[A-Z]{3}$'", name="currency_iso4217"),
    CheckConstraint("length(sku) BETWEEN 1 AND 64", name="sku_length"),
    # A SKU names one live product per org; a deleted product frees its SKU.
    Index("uq_product_org_sku_live", "org_id", "sku", unique=True, postgresql_where=text("deleted_at IS NULL")),
    *crud_indexes(
        "product",
        ["name", "price_amount", "active", "category_id", "created_at", "updated_at"],
        prefix_columns=["sku", "name"],
    ),
    schema="catalog",
)

inventory = Table(
    "inventory",
    metadata,
    Column("product_id", Text, ForeignKey("catalog.product.id"), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("on_hand", Integer, nullable=False, server_default="0"),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("available", Integer, Computed("on_hand - reserved", persisted=True)),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    schema="catalog",
)

stock_adjustment = Table(
    "stock_adjustment",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("product_id", Text, ForeignKey("catalog.product.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("on_hand_after", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('correction', 'restock', 'sale')", name="kind"),
    CheckConstraint("quantity <> 0", name="quantity_not_zero"),
    Index("ix_stock_adjustment_product", "org_id", "product_id", "created_at", "id"),
    schema="catalog",
)
