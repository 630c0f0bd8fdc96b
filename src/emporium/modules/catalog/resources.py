"""Products and categories, declared for the CRUD engine: filters, sorts, hooks, cache."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from emporium.modules.catalog import services as store
from emporium.modules.catalog.permissions import Perm
from emporium.modules.catalog.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryUpdate,
    MoneyOut,
    ProductIn,
    ProductOut,
    ProductUpdate,
)
from emporium.modules.catalog.tables import category, product
from emporium.modules.catalog.workflows import PRODUCTS, PRODUCTS_CACHE
from emporium.platform.crud.resource import Filter, HookContext, Hooks, NamedQuery, Op, Permissions, Resource, Row
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, FieldError, ValidationFailed
from emporium.platform.money import Money

# --- products -----------------------------------------------------------------------------------


def product_row(body: BaseModel) -> Row:
    data: dict[str, Any] = body.model_dump(exclude_unset=True)
    price = data.pop("price", None)
    if price is not None:
        data["price_amount"], data["price_currency"] = price["amount"], price["currency"]
    return data


def product_out(row: Row) -> ProductOut:
    return ProductOut(
        id=row["id"],
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        attributes=row["attributes"],
        price=MoneyOut.of(Money(row["price_amount"], row["price_currency"])),
        category_id=row["category_id"],
        active=row["active"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _require_category(tx: Tx, ctx: HookContext, category_id: str | None, field: str) -> None:
    if category_id is not None and not await store.category_exists(tx, ctx.org_id, category_id):
        raise ValidationFailed(f"no category {category_id}", errors=[FieldError(field, "exists", "no such category")])


async def _before_product_create(tx: Tx, ctx: HookContext, values: Row) -> Row:
    await _require_category(tx, ctx, values.get("category_id"), "category_id")
    return values


async def _after_product_create(tx: Tx, ctx: HookContext, row: Row) -> None:
    await store.create_inventory(tx, ctx.org_id, [row["id"]])


async def _before_product_update(tx: Tx, ctx: HookContext, current: Row, changes: Row) -> Row:
    await _require_category(tx, ctx, changes.get("category_id"), "category_id")
    return changes


async def _before_product_delete(tx: Tx, ctx: HookContext, current: Row) -> None:
    if await store.reserved_quantity(tx, ctx.org_id, current["id"]) > 0:
        raise Conflict(f"product {current['sku']} has units reserved by open checkouts; deactivate it instead")


class LowPriceParams(BaseModel):
    max_amount: int = Field(ge=0, le=2**63 - 1, description="Minor units, exclusive.")
    currency: str = "EUR"


product_resource = Resource(
    name=PRODUCTS,
    path="/v1/products",
    id_prefix="prd",
    table=product,
    read_schema=ProductOut,
    create_schema=ProductIn,
    update_schema=ProductUpdate,
    permissions=Permissions(
        read=Perm.CATALOG_READ, create=Perm.CATALOG_WRITE, update=Perm.CATALOG_WRITE, delete=Perm.CATALOG_WRITE
    ),
    to_row=product_row,
    from_row=product_out,
    filters={
        "sku": Filter("sku", str, frozenset({Op.EQ, Op.IN, Op.PREFIX}), example="TSHIRT-RED-M"),
        "name": Filter("name", str, frozenset({Op.EQ, Op.PREFIX}), example="Sh", description="Product name"),
        "price": Filter(
            "price_amount",
            int,
            frozenset({Op.EQ, Op.GT, Op.GTE, Op.LT, Op.LTE}),
            example="1000",
            description="Price in minor units",
        ),
        "status": Filter("active", str, frozenset({Op.EQ}), choices={"active": True, "inactive": False}),
        "category": Filter("category_id", str, frozenset({Op.EQ, Op.IN}), example="cat_2HsL"),
    },
    sortable={
        "created_at": "created_at",
        "updated_at": "updated_at",
        "price": "price_amount",
        "name": "name",
        "sku": "sku",
    },
    default_sort="created_at",
    hooks=Hooks(
        before_create=_before_product_create,
        after_create=_after_product_create,
        before_update=_before_product_update,
        before_delete=_before_product_delete,
    ),
    queries={
        "cheaper_than": NamedQuery(
            params=LowPriceParams,
            where=lambda t, p: [
                t.c.price_amount < p.max_amount,  # type: ignore[attr-defined]
                t.c.price_currency == p.currency,  # type: ignore[attr-defined]
                t.c.active.is_(True),
            ],
            description="Active products below a price, in one currency",
        )
    },
    soft_delete=True,
    cache=PRODUCTS_CACHE,
)
product_crud = CrudWorkflows(product_resource)

# --- categories ---------------------------------------------------------------------------------


def category_row(body: BaseModel) -> Row:
    return body.model_dump(exclude_unset=True)


def category_out(row: Row) -> CategoryOut:
    return CategoryOut(
        id=row["id"],
        name=row["name"],
        parent_id=row["parent_id"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _before_category_create(tx: Tx, ctx: HookContext, values: Row) -> Row:
    parent = values.get("parent_id")
    if parent is not None and not await store.category_exists(tx, ctx.org_id, parent):
        raise ValidationFailed(f"no category {parent}", errors=[FieldError("parent_id", "exists", "no such category")])
    return values


async def _before_category_update(tx: Tx, ctx: HookContext, current: Row, changes: Row) -> Row:
    parent = changes.get("parent_id")
    if parent is not None:
        await _before_category_create(tx, ctx, changes)
        if await store.would_create_cycle(tx, ctx.org_id, current["id"], parent):
            raise ValidationFailed(
                "a category cannot sit under itself or one of its descendants",
                errors=[FieldError("parent_id", "no_cycle", "would make the category its own ancestor")],
            )
    return changes


category_resource = Resource(
    name="categories",
    path="/v1/categories",
    id_prefix="cat",
    table=category,
    read_schema=CategoryOut,
    create_schema=CategoryIn,
    update_schema=CategoryUpdate,
    permissions=Permissions(
        read=Perm.CATALOG_READ, create=Perm.CATALOG_WRITE, update=Perm.CATALOG_WRITE, delete=Perm.CATALOG_WRITE
    ),
    to_row=category_row,
    from_row=category_out,
    filters={
        "name": Filter("name", str, frozenset({Op.EQ, Op.PREFIX}), example="Shirts"),
        "parent": Filter("parent_id", str, frozenset({Op.EQ}), example="cat_2HsL"),
    },
    sortable={"created_at": "created_at", "name": "name"},
    hooks=Hooks(before_create=_before_category_create, before_update=_before_category_update),
)
category_crud = CrudWorkflows(category_resource)
