"""Seeding for the bench: an org and keys, products through the bulk API, stock through the inventory
API, and (fast path) historical orders written with SQL for the growth curves."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import emporium_cli
from bench.loadgen import MakeRequest, Request

ADDRESS = {"line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


@dataclass
class Shop:
    org_id: str
    owner_key: str
    storefront_key: str


def create_shop(database_url: str, name: str = "Bench") -> tuple[str, str]:
    """`emporium admin create-org`: returns (org id, owner API key)."""
    done = emporium_cli(database_url, "admin", "create-org", "--name", name, "--owner-email", "owner@bench.example.com")
    text = done.stdout + done.stderr
    org = re.search(r"org_[0-9A-Za-z]+", text)
    secret = re.search(r"emp_live_\S+", text)
    if org is None or secret is None:
        raise RuntimeError(f"create-org printed no org/key:\n{text}")
    return org.group(0), secret.group(0)


async def storefront_key(http: httpx.AsyncClient, owner_key: str) -> str:
    response = await http.post(
        "/v1/api-keys",
        headers={"Authorization": f"Bearer {owner_key}"},
        json={"name": "bench storefront", "role": "storefront"},
    )
    response.raise_for_status()
    return str(response.json()["secret"])


def checkout_maker(storefront: str, skus: list[str]) -> MakeRequest:
    headers_base = {"Authorization": f"Bearer {storefront}"}

    def make(rng: random.Random) -> Request:
        lines = rng.sample(skus, rng.randint(1, 3))
        body = {
            "lines": [{"sku": sku, "quantity": rng.randint(1, 2)} for sku in lines],
            "shipping_amount": 490,
            "customer": {"email": "buyer@example.com", "name": "Ada Buyer", "phone": "+4915112345678"},
            "shipping_address": ADDRESS,
            "payment": {"provider": "sandbox", "card_token": "tok_success"},
        }
        return ("POST", "/v1/orders", {**headers_base, "Idempotency-Key": uuid.uuid4().hex}, body)

    return make


def product_item(i: int, rng: random.Random, prefix: str = "BENCH") -> dict[str, Any]:
    return {
        "sku": f"{prefix}-{i:06d}",
        "name": f"Bench product {i}",
        "description": "A product seeded by the benchmark harness. " * 2,
        "attributes": {"color": rng.choice(["red", "blue", "green"]), "size": rng.choice(["S", "M", "L"])},
        "price": {"amount": rng.randint(100, 100_000), "currency": "EUR"},
    }


async def bulk_products(http: httpx.AsyncClient, owner_key: str, count: int) -> tuple[list[str], float]:
    """POST /v1/products:bulk in batches of 1,000; returns (product ids, seconds)."""
    rng = random.Random(7)
    ids: list[str] = []
    started = time.perf_counter()
    for start in range(0, count, 1000):
        items = [product_item(i, rng) for i in range(start, min(count, start + 1000))]
        response = await http.post(
            "/v1/products:bulk", headers={"Authorization": f"Bearer {owner_key}"}, json={"items": items}, timeout=120
        )
        response.raise_for_status()
        body = response.json()
        if body["failed"]:
            raise RuntimeError(f"bulk import failed items: {body['results'][:3]}")
        ids.extend(str(r["id"]) for r in body["results"])
    return ids, time.perf_counter() - started


async def stocked_shop(
    database_url: str, base_url: str, products: int, *, restock_concurrency: int = 16
) -> tuple[Shop, list[str]]:
    """A new shop with a storefront key and `products` products (SKUs `BENCH-000000`...), each with a
    million units on hand: what a checkout run needs."""
    org_id, owner_key = create_shop(database_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        shop = Shop(org_id, owner_key, await storefront_key(http, owner_key))
        ids, _ = await bulk_products(http, owner_key, products)
        await restock(http, owner_key, ids, 1_000_000, concurrency=restock_concurrency)
    return shop, ids


async def restock(
    http: httpx.AsyncClient, owner_key: str, product_ids: list[str], quantity: int, *, concurrency: int = 16
) -> None:
    lanes = asyncio.Semaphore(concurrency)

    async def one(product_id: str) -> None:
        async with lanes:
            response = await http.post(
                f"/v1/products/{product_id}/inventory/adjustments",
                headers={"Authorization": f"Bearer {owner_key}"},
                json={"kind": "restock", "quantity": quantity, "reason": "bench seed"},
            )
            response.raise_for_status()

    await asyncio.gather(*(one(p) for p in product_ids))


async def sku_table(conn: asyncpg.Connection, product_ids: list[str]) -> None:
    """public.bench_sku(n, product_id): the stocked products, numbered for the pgbench script."""
    await conn.execute("CREATE TABLE IF NOT EXISTS public.bench_sku (n int PRIMARY KEY, product_id text NOT NULL)")
    await conn.copy_records_to_table(
        "bench_sku", schema_name="public", records=[(i + 1, p) for i, p in enumerate(product_ids)]
    )
    await conn.execute("ANALYZE public.bench_sku")
    await conn.execute("ANALYZE catalog.product")
    await conn.execute("ANALYZE catalog.inventory")


SEED_ORDERS = """
INSERT INTO orders."order" (id, org_id, status, capture_mode, currency, subtotal_amount, shipping_amount,
    total_amount, customer_email, customer_name, shipping_address, reservation_expires_at, created_at, updated_at)
SELECT 'ord_seed' || lpad(i::text, 10, '0'), $1, CASE WHEN i % 10 = 0 THEN 'cancelled' ELSE 'paid' END,
    'immediate', 'EUR', 1999, 0, 1999, 'c' || (i % 5000) || '@example.com', 'Seed Buyer', $4::jsonb,
    ts + interval '15 minutes', ts, ts
FROM (SELECT i, now() - interval '1 day' - i * interval '1 second' AS ts
      FROM generate_series($2::bigint, $3::bigint) AS i) AS s
"""
SEED_LINES = """
INSERT INTO orders.order_line (order_id, line_no, product_id, sku, name, unit_price_amount, quantity, line_total_amount)
SELECT 'ord_seed' || lpad(i::text, 10, '0'), 1, $3, 'BENCH-000000', 'Bench product 0', 1999, 1, 1999
FROM generate_series($1::bigint, $2::bigint) AS i
"""


async def seed_orders(conn: asyncpg.Connection, org_id: str, product_id: str, have: int, want: int) -> float:
    """Historical orders (one line each) written straight into the orders tables; returns seconds."""
    started = time.perf_counter()
    step = 100_000
    for low in range(have + 1, want + 1, step):
        high = min(want, low + step - 1)
        async with conn.transaction():
            await conn.execute(SEED_ORDERS, org_id, low, high, json.dumps(ADDRESS))
            await conn.execute(SEED_LINES, low, high, product_id)
    await conn.execute('ANALYZE orders."order"')
    await conn.execute("ANALYZE orders.order_line")
    return time.perf_counter() - started


def import_file(path: Path, count: int) -> Path:
    rng = random.Random(3)
    with path.open("w") as handle:
        for i in range(count):
            handle.write(json.dumps(product_item(i, rng, prefix="IMP")) + "\n")
    return path
