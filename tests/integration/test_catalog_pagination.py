"""Keyset pages stay exact while the table changes underneath them (on each catalog store)."""

from __future__ import annotations

import asyncio

import pytest

from emporium.modules.catalog.resources import Catalog, product_resource
from emporium.modules.catalog.workflows import BulkItem, bulk_upsert_products
from emporium.platform.crud.filters import parse_list_query
from emporium.platform.db.engine import Database
from tests.services import scaled
from tests.support.catalog import new_sku
from tests.support.identity import make_tenant, setup_audit

# SecantusDB (the test MongoDB) sorts every match in memory instead of walking the index, so a page costs
# a scan of the org's products: its run proves the same property on fewer (`make soak`: 10,000 on both).
# PostgreSQL: two bulk upserts of 1,000 in `make test`, ten under `make soak`.
PRODUCTS = {"postgres": scaled(2_000, 10_000), "mongodb": scaled(400, 10_000)}


@pytest.mark.soak
async def test_walking_every_page_while_inserting_returns_each_existing_product_once(
    db: Database, catalog: Catalog
) -> None:
    total = PRODUCTS[catalog.store.kind]
    shop = await make_tenant(db, "Walk")
    owner = shop.owner_principal
    for start in range(0, total, 1000):
        rows = [
            BulkItem(
                i,
                {
                    "sku": f"W-{start + i:05d}",
                    "name": f"P{start + i}",
                    "price_amount": (start + i) % 977,
                    "price_currency": "EUR",
                },
            )
            for i in range(1000)
        ]
        await bulk_upsert_products(db, catalog.store, None, owner, setup_audit(owner), rows)
    existing = {f"W-{i:05d}" for i in range(total)}

    stop = asyncio.Event()
    inserted = 0

    async def insert_meanwhile() -> None:
        nonlocal inserted
        while not stop.is_set():
            batch = [
                BulkItem(i, {"sku": new_sku("NEW"), "name": "late", "price_amount": i % 977, "price_currency": "EUR"})
                for i in range(20)
            ]
            await bulk_upsert_products(db, catalog.store, None, owner, setup_audit(owner), batch)
            inserted += len(batch)

    writer = asyncio.create_task(insert_meanwhile())
    try:
        for sort in ("price", "-created_at"):
            seen: list[str] = []
            cursor = None
            while True:
                params = [("sort", sort), ("limit", "200")] + ([("cursor", cursor)] if cursor else [])
                page = await catalog.products.list(db, owner, parse_list_query(product_resource, params))
                seen += [row["sku"] for row in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
            walked_existing = [sku for sku in seen if sku in existing]
            assert len(walked_existing) == len(set(walked_existing)) == total, sort
    finally:
        stop.set()
        await writer
    assert inserted > 0, "the writer never ran concurrently with the walk"
