"""Products and categories, each declared once around its read model for the CRUD engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

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
from emporium.modules.catalog.stores import CatalogStore
from emporium.modules.catalog.stores.mongo import MongoCatalogStore
from emporium.modules.catalog.stores.postgres import PostgresCatalogStore
from emporium.modules.catalog.tables import category, product
from emporium.modules.catalog.workflows import CATEGORY_RULES, PRODUCT_RULES, PRODUCTS, PRODUCTS_CACHE
from emporium.platform.crud.resource import Condition, Filter, NamedQuery, Op, Permissions, Resource, StoredAs
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.money import Money

CATALOG = Permissions.read_write(Perm.CATALOG_READ, Perm.CATALOG_WRITE)
PRICE = StoredAs(
    ("price_amount", "price_currency"),
    int,
    dump=lambda money: {"price_amount": money["amount"], "price_currency": money["currency"]},
    load=lambda row: MoneyOut.of(Money(row["price_amount"], row["price_currency"])),
)


class LowPriceParams(BaseModel):
    max_amount: int = Field(ge=0, le=2**63 - 1, description="Minor units, exclusive.")
    currency: str = "EUR"


def _cheaper_than(params: Any) -> list[Condition]:
    return [
        Condition("price_amount", Op.LT, params.max_amount),
        Condition("price_currency", Op.EQ, params.currency),
        Condition("active", Op.EQ, True),
    ]


product_resource = Resource(
    name=PRODUCTS,
    path="/v1/products",
    id_prefix="prd",
    table=product,
    model=ProductOut,
    create_schema=ProductIn,
    update_schema=ProductUpdate,
    permissions=CATALOG,
    stored_as={"price": PRICE},
    filters=[
        Filter.on("sku", Op.EQ, Op.IN, Op.PREFIX, example="TSHIRT-RED-M"),
        Filter.on("name", Op.EQ, Op.PREFIX, example="Sh", description="Product name"),
        Filter.on("price", Op.EQ, Op.GT, Op.GTE, Op.LT, Op.LTE, example="1000", description="Price in minor units"),
        Filter.on("active", name="status", choices={"active": True, "inactive": False}),
        Filter.on("category_id", Op.EQ, Op.IN, name="category", example="cat_2HsL"),
    ],
    sorts=["created_at", "updated_at", "price", "name", "sku"],
    rules=PRODUCT_RULES,
    queries={
        "cheaper_than": NamedQuery(
            LowPriceParams, _cheaper_than, description="Active products below a price, in one currency"
        )
    },
    soft_delete=True,
    cache=PRODUCTS_CACHE,
)
category_resource = Resource(
    name="categories",
    path="/v1/categories",
    id_prefix="cat",
    table=category,
    model=CategoryOut,
    create_schema=CategoryIn,
    update_schema=CategoryUpdate,
    permissions=CATALOG,
    filters=[
        Filter.on("name", Op.EQ, Op.PREFIX, example="Shirts"),
        Filter.on("parent_id", name="parent", example="cat_2HsL"),
    ],
    sorts=["created_at", "name"],
    rules=CATEGORY_RULES,
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The catalog's workflows on one store (decision 026): the running app's, or the PostgreSQL default."""

    store: CatalogStore
    products: CrudWorkflows
    categories: CrudWorkflows

    @classmethod
    def on(cls, store: CatalogStore) -> Catalog:
        return cls(
            store,
            CrudWorkflows(product_resource, store.products, port=store),
            CrudWorkflows(category_resource, store.categories, port=store),
        )


POSTGRES_CATALOG = Catalog.on(PostgresCatalogStore(product_resource, category_resource))
product_crud, category_crud = POSTGRES_CATALOG.products, POSTGRES_CATALOG.categories


@asynccontextmanager
async def open_catalog(url: str | None) -> AsyncIterator[Catalog]:
    """The catalog on MongoDB when `url` (CATALOG_DATABASE_URL) is a mongodb:// URL, else on PostgreSQL."""
    if not url:
        yield POSTGRES_CATALOG
        return
    store = await MongoCatalogStore.open(url, product_resource, category_resource)
    try:
        yield Catalog.on(store)
    finally:
        await store.close()


async def init_mongo_indexes(url: str) -> list[str]:
    """`emporium catalog mongo-init`: create every index the MongoDB store checks for (idempotent)."""
    store = await MongoCatalogStore.open(url, product_resource, category_resource, check=False)
    try:
        return await store.create_indexes()
    finally:
        await store.close()
