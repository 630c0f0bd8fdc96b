"""Checkout with the catalog's products in MongoDB: stock stays in PostgreSQL, so the same guarantees hold."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from emporium.modules.catalog.resources import Catalog
from emporium.platform.db.engine import Database
from tests.support.catalog import make_product
from tests.support.identity import make_tenant
from tests.support.orders import order_body, place


async def test_200_buyers_for_10_units_of_a_product_kept_in_mongodb(
    mongo_app_client: httpx.AsyncClient, mongo_catalog: Catalog, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Rush on MongoDB")
    product = await make_product(db, shop, on_hand=10, price=1234, catalog=mongo_catalog)
    assert await mongo_catalog.store.products.get(None, shop.org_id, str(product["id"])) is not None
    body = order_body((str(product["sku"]), 1))
    responses = await asyncio.gather(*(place(mongo_app_client, shop.storefront_key, body) for _ in range(200)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10, {s: statuses.count(s) for s in set(statuses)}
    assert all(r.json()["code"] == "out_of_stock" for r in responses if r.status_code != 201)
    assert {r.json()["lines"][0]["unit_price"]["amount"] for r in responses if r.status_code == 201} == {1234}
    row = await pg.fetchrow("SELECT on_hand, reserved FROM catalog.inventory WHERE product_id = $1", product["id"])
    assert (row["on_hand"], row["reserved"]) == (10, 10)
    paid = await pg.fetchval("SELECT count(*) FROM orders.order WHERE org_id = $1 AND status = 'paid'", shop.org_id)
    assert paid == 10


async def test_a_price_change_in_mongodb_is_what_the_next_checkout_charges(
    mongo_app_client: httpx.AsyncClient, mongo_catalog: Catalog, db: Database
) -> None:
    """The sale copy checkout reads is written in the same transaction as the product's change."""
    shop = await make_tenant(db, "Repricing on MongoDB")
    product = await make_product(db, shop, on_hand=5, price=1000, catalog=mongo_catalog)
    owner = {"Authorization": f"Bearer {shop.owner_key}"}
    patched = await mongo_app_client.patch(
        f"/v1/products/{product['id']}", headers=owner, json={"price": {"amount": 1500, "currency": "EUR"}}
    )
    assert patched.status_code == 200, patched.text
    placed = await place(mongo_app_client, shop.storefront_key, order_body((str(product["sku"]), 1)))
    assert placed.status_code == 201, placed.text
    assert placed.json()["lines"][0]["unit_price"]["amount"] == 1500
    deleted = await mongo_app_client.delete(f"/v1/products/{product['id']}", headers=owner)
    assert deleted.status_code == 409  # units are reserved by the paid order's checkout
