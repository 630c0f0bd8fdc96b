"""catalog: products, categories, inventory with CHECKed stock, stock adjustment ledger

Revision ID: 0004_catalog
Revises: 0003_events
Create Date: 2026-11-21 12:45:35.153154
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_catalog"
down_revision: str | None = "0003_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "catalog"')
    op.create_table(
        "category",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name=op.f("ck_category_not_own_parent")),
        sa.ForeignKeyConstraint(["parent_id"], ["catalog.category.id"], name=op.f("fk_category_parent_id_category")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        schema="catalog",
    )
    op.create_index(
        "ix_category_org_created_at", "category", ["org_id", "created_at", "id"], unique=False, schema="catalog"
    )
    op.create_index("ix_category_org_name", "category", ["org_id", "name", "id"], unique=False, schema="catalog")
    op.create_index(
        "ix_category_org_name_pattern",
        "category",
        ["org_id", "name"],
        unique=False,
        schema="catalog",
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_category_org_parent_id", "category", ["org_id", "parent_id", "id"], unique=False, schema="catalog"
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "attributes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("price_currency", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("price_currency ~ '^[A-Z]{3}$'", name=op.f("ck_product_currency_iso4217")),
        sa.CheckConstraint("length(sku) BETWEEN 1 AND 64", name=op.f("ck_product_sku_length")),
        sa.CheckConstraint("price_amount >= 0", name=op.f("ck_product_price_not_negative")),
        sa.ForeignKeyConstraint(["category_id"], ["catalog.category.id"], name=op.f("fk_product_category_id_category")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        schema="catalog",
    )
    op.create_index("ix_product_org_active", "product", ["org_id", "active", "id"], unique=False, schema="catalog")
    op.create_index(
        "ix_product_org_category_id", "product", ["org_id", "category_id", "id"], unique=False, schema="catalog"
    )
    op.create_index(
        "ix_product_org_created_at", "product", ["org_id", "created_at", "id"], unique=False, schema="catalog"
    )
    op.create_index("ix_product_org_name", "product", ["org_id", "name", "id"], unique=False, schema="catalog")
    op.create_index(
        "ix_product_org_name_pattern",
        "product",
        ["org_id", "name"],
        unique=False,
        schema="catalog",
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_product_org_price_amount", "product", ["org_id", "price_amount", "id"], unique=False, schema="catalog"
    )
    op.create_index(
        "ix_product_org_sku_pattern",
        "product",
        ["org_id", "sku"],
        unique=False,
        schema="catalog",
        postgresql_ops={"sku": "text_pattern_ops"},
    )
    op.create_index(
        "ix_product_org_updated_at", "product", ["org_id", "updated_at", "id"], unique=False, schema="catalog"
    )
    op.create_index(
        "uq_product_org_sku_live",
        "product",
        ["org_id", "sku"],
        unique=True,
        schema="catalog",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "inventory",
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("available", sa.Integer(), sa.Computed("on_hand - reserved", persisted=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_inventory_on_hand_not_negative")),
        sa.CheckConstraint("reserved <= on_hand", name=op.f("ck_inventory_reserved_within_on_hand")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_inventory_reserved_not_negative")),
        sa.ForeignKeyConstraint(["product_id"], ["catalog.product.id"], name=op.f("fk_inventory_product_id_product")),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_inventory")),
        schema="catalog",
    )
    op.create_table(
        "stock_adjustment",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("on_hand_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('correction', 'restock', 'sale')", name=op.f("ck_stock_adjustment_kind")),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_stock_adjustment_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["catalog.product.id"], name=op.f("fk_stock_adjustment_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_adjustment")),
        schema="catalog",
    )
    op.create_index(
        "ix_stock_adjustment_product",
        "stock_adjustment",
        ["org_id", "product_id", "created_at", "id"],
        unique=False,
        schema="catalog",
    )


def downgrade() -> None:
    op.drop_index("ix_stock_adjustment_product", table_name="stock_adjustment", schema="catalog")
    op.drop_table("stock_adjustment", schema="catalog")
    op.drop_table("inventory", schema="catalog")
    op.drop_index(
        "uq_product_org_sku_live",
        table_name="product",
        schema="catalog",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index("ix_product_org_updated_at", table_name="product", schema="catalog")
    op.drop_index(
        "ix_product_org_sku_pattern", table_name="product", schema="catalog", postgresql_ops={"sku": "text_pattern_ops"}
    )
    op.drop_index("ix_product_org_price_amount", table_name="product", schema="catalog")
    op.drop_index(
        "ix_product_org_name_pattern",
        table_name="product",
        schema="catalog",
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.drop_index("ix_product_org_name", table_name="product", schema="catalog")
    op.drop_index("ix_product_org_created_at", table_name="product", schema="catalog")
    op.drop_index("ix_product_org_category_id", table_name="product", schema="catalog")
    op.drop_index("ix_product_org_active", table_name="product", schema="catalog")
    op.drop_table("product", schema="catalog")
    op.drop_index("ix_category_org_parent_id", table_name="category", schema="catalog")
    op.drop_index(
        "ix_category_org_name_pattern",
        table_name="category",
        schema="catalog",
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.drop_index("ix_category_org_name", table_name="category", schema="catalog")
    op.drop_index("ix_category_org_created_at", table_name="category", schema="catalog")
    op.drop_table("category", schema="catalog")
    op.execute('DROP SCHEMA IF EXISTS "catalog"')
