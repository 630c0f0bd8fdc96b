"""The catalog cache never serves a price older than the last acknowledged update.

Checked with concurrent readers and writers over 250 updates (1,000 under `make soak`), with the
in-process cache and with Redis shared by two "replicas" (two engine
instances, each with its own single-flight), and through Redis outages.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emporium.modules.catalog.resources import Catalog, product_resource
from emporium.modules.catalog.schemas import MoneyIn, ProductUpdate
from emporium.platform.cache import MemoryCache, RedisCache, VersionedCache
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.db.engine import Database
from tests.services import configured, scaled
from tests.support.catalog import make_product
from tests.support.identity import Tenant, make_tenant, setup_audit
from tests.support.redis_server import RedisServer

# Each update on MongoDB is a compare-and-set that the other writer's makes retry, on a test server that is
# slower than PostgreSQL: its run proves the property on fewer updates (`make soak`: 1,000 on both).
UPDATES = {"postgres": scaled(250, 1_000), "mongodb": scaled(40, 1_000)}


@pytest.fixture
async def redis_cache() -> AsyncIterator[RedisCache]:
    url = configured("TEST_REDIS_URL")
    if url is None:
        pytest.skip("no Redis configured: set TEST_REDIS_URL to run the Redis cache tests")
    cache = RedisCache.from_url(url)
    cache._ns = f"test-{secrets.token_hex(4)}:"  # isolate from other runs sharing the server
    yield cache
    await cache.close()


def _engine(catalog: Catalog) -> CrudWorkflows:
    """A replica's product workflows on the catalog's store (its own single-flight)."""
    return CrudWorkflows(product_resource, catalog.store.products, port=catalog.store)


async def _race(
    db: Database,
    catalog: Catalog,
    shop: Tenant,
    writer: CrudWorkflows,
    readers: list[tuple[CrudWorkflows, VersionedCache]],
    cache: VersionedCache,
) -> int:
    """Writers update the price UPDATES times; readers check every read against the last acknowledged version."""
    product = await make_product(db, shop, price=0, catalog=catalog)
    owner = shop.owner_principal
    acknowledged = 1  # the highest version whose update has returned
    stale_reads: list[tuple[int, int]] = []
    done = asyncio.Event()
    reads = 0

    async def read_forever(engine: CrudWorkflows, reader_cache: VersionedCache) -> None:
        nonlocal reads
        while not done.is_set():
            floor = acknowledged
            model = await engine.get(db, reader_cache, owner, str(product["id"]))
            reads += 1
            if model.version < floor:  # type: ignore[attr-defined]
                stale_reads.append((floor, model.version))  # type: ignore[attr-defined]
            await asyncio.sleep(0)  # a cache hit never suspends: yield so writers get the loop

    async def write(amount: int) -> None:
        nonlocal acknowledged
        row = await writer.update(
            db, cache, owner, setup_audit(owner), str(product["id"]),
            ProductUpdate(price=MoneyIn(amount=amount, currency="EUR")), None,
        )  # fmt: skip
        acknowledged = max(acknowledged, row["version"])
        after = await writer.get(db, cache, owner, str(product["id"]))
        if after.version < row["version"]:  # type: ignore[attr-defined]
            stale_reads.append((row["version"], after.version))  # type: ignore[attr-defined]

    tasks = [asyncio.create_task(read_forever(engine, c)) for engine, c in readers for _ in range(3)]
    try:
        for start in range(0, UPDATES[catalog.store.kind], 2):  # two concurrent writers per round
            await asyncio.gather(write(start), write(start + 1))
    finally:
        done.set()
        await asyncio.gather(*tasks)
    assert stale_reads == []
    return reads


@pytest.mark.soak
async def test_memory_cache_never_serves_an_acknowledged_old_price(db: Database, catalog: Catalog) -> None:
    shop = await make_tenant(db, "Cache")
    engine, cache = _engine(catalog), MemoryCache()
    reads = await _race(db, catalog, shop, engine, [(engine, cache)], cache)
    assert reads > UPDATES[catalog.store.kind]


@pytest.mark.soak
async def test_redis_cache_across_two_replicas_never_serves_an_acknowledged_old_price(
    db: Database, redis_cache: RedisCache, catalog: Catalog
) -> None:
    shop = await make_tenant(db, "Redis cache")
    replica_a, replica_b = _engine(catalog), _engine(catalog)
    reads = await _race(db, catalog, shop, replica_a, [(replica_a, redis_cache), (replica_b, redis_cache)], redis_cache)
    assert reads > UPDATES[catalog.store.kind]


@pytest.fixture
def private_redis(tmp_path: Path) -> RedisServer:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed: the outage tests start their own Redis")
    server = RedisServer(tmp_path)
    server.start()
    return server


async def test_reads_succeed_when_redis_dies_mid_test(
    db: Database, private_redis: RedisServer, catalog: Catalog
) -> None:
    shop = await make_tenant(db, "Outage")
    owner = shop.owner_principal
    product = await make_product(db, shop, price=700, catalog=catalog)
    engine, cache = _engine(catalog), RedisCache.from_url(private_redis.url)
    try:
        for i in range(300):
            if i == 100:
                private_redis.kill()
            model = await engine.get(db, cache, owner, str(product["id"]))
            assert model.price.amount == 700  # type: ignore[attr-defined]
        assert not cache.available  # the failures were noticed, and reads went to PostgreSQL
    finally:
        await cache.close()
        private_redis.kill()


async def test_an_update_during_a_redis_pause_is_not_hidden_by_the_old_entry(
    db: Database, private_redis: RedisServer, catalog: Catalog
) -> None:
    shop = await make_tenant(db, "Pause")
    owner = shop.owner_principal
    product = await make_product(db, shop, price=100, catalog=catalog)
    engine, cache = _engine(catalog), RedisCache.from_url(private_redis.url)
    try:
        assert (await engine.get(db, cache, owner, str(product["id"]))).price.amount == 100  # type: ignore[attr-defined]
        private_redis.pause()  # the old entry stays in Redis, unreachable
        update = ProductUpdate(price=MoneyIn(amount=200, currency="EUR"))
        await engine.update(db, cache, owner, setup_audit(owner), str(product["id"]), update, None)
        assert (await engine.get(db, cache, owner, str(product["id"]))).price.amount == 200  # type: ignore[attr-defined]
        private_redis.resume()
        await asyncio.sleep(1.1)  # let the cache's retry window pass (a documented interval, not a race)
        for _ in range(20):
            assert (await engine.get(db, cache, owner, str(product["id"]))).price.amount == 200  # type: ignore[attr-defined]
        assert cache.available
    finally:
        private_redis.resume()
        await cache.close()
        private_redis.kill()
