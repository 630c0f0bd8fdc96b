"""Checkout's first transaction as one statement (decision 043): lines quoted at the prices this process last
saw, reserved by the statement only if each is still on sale as quoted and in stock, else placed the locking
way, which prices afresh and explains a refusal. A stale quote never costs a wrong price, name or count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from emporium.modules.catalog import services as catalog_services
from emporium.modules.catalog.domain import OutOfStock
from emporium.orchestrators import checkout
from emporium.platform.db.engine import Database
from emporium.platform.errors import ValidationFailed
from emporium.platform.idempotency.store import IdempotencyClaim
from tests.support.catalog import make_product
from tests.support.identity import Tenant, make_tenant, setup_audit
from tests.support.orders import key


async def _buy(db: Database, shop: Tenant, sku: str, quantity: int) -> checkout.Checkout:
    owner = shop.owner_principal
    spec = checkout.orders.OrderSpec(lines=[(sku, quantity)], customer_email="c@example.com")
    return await checkout.place_order(
        db, owner, setup_audit(owner), IdempotencyClaim(shop.org_id, key(), "f" * 64), spec,
        checkout.PaymentChoice("sandbox", "tok_success"), reservation_ttl=timedelta(minutes=15),
    )  # fmt: skip


def _no_locking_reservation(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: Any) -> Any:
        raise AssertionError("the checkout took the locking way")

    monkeypatch.setattr(catalog_services, "reserve", refuse)


def _checkout_statements(queries: list[str]) -> list[str]:
    """The logged queries, without asyncpg's lookup of a type it meets for the first time on a connection
    (an array of bigint, for the quoted reservation): once per connection and type, not part of a checkout."""
    return [q for q in queries if "pg_catalog.pg_type" not in q and "'jit'" not in q]


async def _stock(pg: asyncpg.Connection, product_id: object) -> tuple[int, int]:
    row = await pg.fetchrow("SELECT on_hand, reserved FROM catalog.inventory WHERE product_id = $1", product_id)
    return row["on_hand"], row["reserved"]


async def test_a_product_seen_before_is_reserved_with_the_order_in_one_statement(
    logged_db: tuple[Database, list[str]], pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, queries = logged_db
    shop = await make_tenant(database, "Quote fast")
    product = await make_product(database, shop, on_hand=10, price=1250)
    first = await _buy(database, shop, str(product["sku"]), 1)  # prices it (the locking way)
    _no_locking_reservation(monkeypatch)
    queries.clear()
    second = await _buy(database, shop, str(product["sku"]), 2)
    assert _checkout_statements(queries) == [], queries  # no BEGIN: tx1 and tx2 went out as one statement each
    assert second.order.total.amount == 2500 and second.order.status.value == "paid"
    assert second.order.number != first.order.number
    assert second.order.lines[0].name == "Thing" and second.order.capture_mode == first.order.capture_mode
    stored = await pg.fetchrow(
        'SELECT number, created_at, reservation_expires_at FROM orders."order" WHERE id = $1', second.order.id
    )
    assert (stored["number"], stored["created_at"]) == (second.order.number, second.order.created_at)
    assert stored["reservation_expires_at"] == second.order.reservation_expires_at
    assert await _stock(pg, product["id"]) == (10, 3)


@pytest.mark.parametrize("change", ["price", "name"])
async def test_a_product_changed_by_another_process_is_sold_as_it_is_now(
    change: str, db: Database, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await make_tenant(db, f"Quote {change}")
    product = await make_product(db, shop, on_hand=10, price=1000, name="Old name")
    await _buy(db, shop, str(product["sku"]), 1)
    # Another replica changes the product: this process's quote is stale.
    column, value = ("price_amount", 1500) if change == "price" else ("name", "New name")
    await pg.execute(f"UPDATE catalog.product SET {column} = $1 WHERE id = $2", value, product["id"])
    placed = await _buy(db, shop, str(product["sku"]), 2)
    line = placed.order.lines[0]
    assert (line.unit_price.amount, line.name) == ((1500, "Old name") if change == "price" else (1000, "New name"))
    stored = await pg.fetchrow(
        "SELECT unit_price_amount, name FROM orders.order_line WHERE order_id = $1", placed.order.id
    )
    assert (stored["unit_price_amount"], stored["name"]) == (line.unit_price.amount, line.name)
    assert placed.order.total.amount == 2 * line.unit_price.amount
    assert await _stock(pg, product["id"]) == (10, 3)  # reserved once per order: the refused statement wrote nothing
    _no_locking_reservation(monkeypatch)  # the fresh price is remembered: the next one is quoted again
    assert (await _buy(db, shop, str(product["sku"]), 1)).order.lines[0] == line.__class__(
        1, line.product_id, line.sku, line.name, line.unit_price, 1
    )


async def test_a_line_short_at_commit_is_refused_with_its_shortage_and_leaves_nothing(
    db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Quote short")
    product = await make_product(db, shop, on_hand=3)
    await _buy(db, shop, str(product["sku"]), 1)
    with pytest.raises(OutOfStock) as refused:
        await _buy(db, shop, str(product["sku"]), 5)
    assert refused.value.extensions.get("shortages") == {product["sku"]: 2}, refused.value.extensions
    assert await _stock(pg, product["id"]) == (3, 1)
    assert await pg.fetchval('SELECT count(*) FROM orders."order" WHERE org_id = $1', shop.org_id) == 1
    assert await pg.fetchval("SELECT count(*) FROM platform.idempotency_key WHERE org_id = $1", shop.org_id) == 1


@pytest.mark.parametrize("change", ["deactivated", "deleted"])
async def test_a_product_taken_off_sale_after_its_quote_is_refused_as_unknown(
    change: str, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, f"Quote {change}")
    product = await make_product(db, shop, on_hand=5)
    await _buy(db, shop, str(product["sku"]), 1)
    assignment = "active = false" if change == "deactivated" else "deleted_at = now()"
    await pg.execute(f"UPDATE catalog.product SET {assignment} WHERE id = $1", product["id"])
    with pytest.raises(ValidationFailed, match="unknown or unavailable SKUs"):
        await _buy(db, shop, str(product["sku"]), 1)
    assert await _stock(pg, product["id"]) == (5, 1)
    assert await pg.fetchval('SELECT count(*) FROM orders."order" WHERE org_id = $1', shop.org_id) == 1
