"""Stock cannot oversell and concurrent carts cannot deadlock or leave partial reservations."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from emporium.modules.catalog import api as catalog_api
from emporium.modules.catalog.domain import OutOfStock, StockLine
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.transaction import transaction
from tests.support.catalog import make_product
from tests.support.identity import make_tenant


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, PoolSettings(size=40, timeout=60))
    yield database
    await database.dispose()


async def _reserve(db: Database, org_id: str, lines: list[StockLine]) -> bool:
    try:
        async with transaction(db) as tx:
            await catalog_api.reserve_stock(tx, org_id, lines)
            await tx.commit()
    except OutOfStock:
        return False
    return True


async def test_200_buyers_for_10_units_exactly_10_succeed(wide_db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(wide_db, "Scarce")
    product = await make_product(wide_db, shop, on_hand=10)
    results = await asyncio.gather(
        *(_reserve(wide_db, shop.org_id, [StockLine(str(product["sku"]), 1)]) for _ in range(200))
    )
    assert results.count(True) == 10
    row = await pg.fetchrow(
        "SELECT on_hand, reserved, available FROM catalog.inventory WHERE product_id = $1", product["id"]
    )
    assert (row["on_hand"], row["reserved"], row["available"]) == (10, 10, 0)


async def test_random_multi_line_carts_never_deadlock_or_reserve_partially(
    wide_db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(wide_db, "Carts")
    products = [await make_product(wide_db, shop, on_hand=60) for _ in range(8)]
    skus = [str(p["sku"]) for p in products]
    rng = random.Random(7)
    carts = [
        [StockLine(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(2, 5))] for _ in range(1000)
    ]  # lines in random order: the service must lock in SKU order itself
    semaphore = asyncio.Semaphore(32)

    async def attempt(cart: list[StockLine]) -> bool:
        async with semaphore:
            return await _reserve(wide_db, shop.org_id, cart)

    results = await asyncio.wait_for(asyncio.gather(*(attempt(cart) for cart in carts)), timeout=240)
    expected: Counter[str] = Counter()
    for cart, ok in zip(carts, results, strict=True):
        if ok:
            for line in cart:
                expected[line.sku] += line.quantity
    rows = await pg.fetch(
        "SELECT p.sku, i.reserved, i.on_hand FROM catalog.inventory i JOIN catalog.product p ON p.id = i.product_id "
        "WHERE p.org_id = $1",
        shop.org_id,
    )
    assert {r["sku"]: r["reserved"] for r in rows} == {sku: expected[sku] for sku in skus}
    assert all(r["reserved"] <= r["on_hand"] for r in rows)
    assert 0 < results.count(True) < len(carts)  # both outcomes happened: the stock really ran out


async def test_release_and_commit_move_only_reserved_units(wide_db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(wide_db, "Moves")
    product = await make_product(wide_db, shop, on_hand=5)
    sku = str(product["sku"])
    assert await _reserve(wide_db, shop.org_id, [StockLine(sku, 3)])
    async with transaction(wide_db) as tx:
        await catalog_api.release_stock(tx, shop.org_id, [StockLine(sku, 1)])
        await catalog_api.commit_stock(tx, shop.org_id, [StockLine(sku, 2)], actor_id="ord_1", reason="order ord_1")
        await tx.commit()
    row = await pg.fetchrow("SELECT on_hand, reserved FROM catalog.inventory WHERE product_id = $1", product["id"])
    assert (row["on_hand"], row["reserved"]) == (3, 0)
    ledger = await pg.fetch(
        "SELECT kind, quantity, on_hand_after FROM catalog.stock_adjustment "
        "WHERE product_id = $1 ORDER BY created_at, id",
        product["id"],
    )
    assert [(r["kind"], r["quantity"], r["on_hand_after"]) for r in ledger][-1] == ("sale", -2, 3)
    with pytest.raises(Exception, match="not reserved"):
        async with transaction(wide_db) as tx:
            await catalog_api.release_stock(tx, shop.org_id, [StockLine(sku, 1)])


async def test_pricing_snapshots_current_price_and_refuses_unknown_skus(wide_db: Database) -> None:
    shop = await make_tenant(wide_db, "Prices")
    a = await make_product(wide_db, shop, price=250)
    async with transaction(wide_db) as tx:
        lines = await catalog_api.price_lines(
            tx, shop.org_id, [StockLine(str(a["sku"]), 2), StockLine(str(a["sku"]), 1)]
        )
        assert [(line.sku, line.quantity, line.unit_price.amount, line.total.amount) for line in lines] == [
            (a["sku"], 3, 250, 750)
        ]
        with pytest.raises(Exception, match="unknown or unavailable"):
            await catalog_api.price_lines(tx, shop.org_id, [StockLine("NOPE", 1)])
