"""An outbox backlog with no consumer: checkout stays open, browsing is shed first, and all recovers once drained.

The outbox is filled with one INSERT ... SELECT (not through the API), past a small threshold set
for this test, on a database of its own so no other test's events count. The pressure is sampled
by calling the runtime's sampler (what its background loop does every couple of seconds), so the
test waits on nothing but the real consumer draining the outbox.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import asyncpg
import httpx
import pytest

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import Runtime, open_runtime
from emporium.config import Config
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import upgrade
from emporium.platform.events.backlog import Pressure, read
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.subscriptions import Subscriptions
from tests.support.bus import pending_count, wait_for
from tests.support.catalog import make_product
from tests.support.databases import DatabaseServer
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.orders import order_body, place

THRESHOLD = 2_000
FILL = 3_000

_FILL = """
INSERT INTO platform.outbox
    (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at)
SELECT 'evt_fill' || g, 'testbus.filler', 1, 'filler', 'fil_' || g, NULL, '{}'::jsonb, '{}'::jsonb, now()
FROM generate_series(1, $1) AS g
"""


@dataclass
class Shop:
    client: httpx.AsyncClient
    runtime: Runtime
    db: Database
    pg: asyncpg.Connection
    tenant: Tenant
    sku: str
    product_id: str


@pytest.fixture
async def shop(database_server: DatabaseServer, config: Config) -> AsyncIterator[Shop]:
    name = f"emporium_backlog_{secrets.token_hex(4)}"
    url = await database_server.create_database(name)
    try:
        await upgrade(url)
        # Behind, not stalled, until the test says the stall window has passed (see below).
        settings = replace(config, outbox_shed_threshold=THRESHOLD, outbox_shed_age=3_600, outbox_stall_seconds=3_600)
        app = create_app(lambda: open_runtime(settings, url), settings)
        async with app.router.lifespan_context(app):
            runtime: Runtime = app.state.runtime
            tenant = await make_tenant(runtime.db, "Backlog shop")
            product = await make_product(runtime.db, tenant, on_hand=100)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            pg = await asyncpg.connect(database_server.url_for(name))
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
                    yield Shop(client, runtime, runtime.db, pg, tenant, str(product["sku"]), str(product["id"]))
            finally:
                await pg.close()
    finally:
        await database_server.drop_database(name)


async def browse(shop: Shop) -> httpx.Response:
    return await shop.client.get(f"/v1/products/{shop.product_id}", headers=bearer(shop.tenant.storefront_key))


async def categorise(shop: Shop) -> httpx.Response:
    """A non-critical write."""
    return await shop.client.post(
        "/v1/categories", headers=bearer(shop.tenant.owner_key), json={"name": f"Cat {secrets.token_hex(3)}"}
    )


async def checkout(shop: Shop) -> httpx.Response:
    return await place(shop.client, shop.tenant.storefront_key, order_body((shop.sku, 1)))


def assert_shed(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "overloaded"
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_backlog_with_no_consumer_sheds_browsing_then_writes_never_checkout_and_clears_when_drained(
    shop: Shop,
) -> None:
    sampler = shop.runtime.backlog
    await sampler.sample()
    assert sampler.pressure is Pressure.NONE
    assert (await browse(shop)).status_code == 200
    assert (await categorise(shop)).status_code == 201

    await shop.pg.execute(_FILL, FILL)
    reading = await sampler.sample()
    # The estimate is an upper bound that at least counts every pending row.
    assert reading.size >= await pending_count(shop.pg) >= FILL
    assert sampler.pressure is Pressure.BEHIND  # nobody delivered yet, but the stall window has not passed

    # Behind: browsing is shed first; writes and checkout go on.
    assert_shed(await browse(shop))
    assert (await categorise(shop)).status_code == 201
    assert (await checkout(shop)).status_code == 201

    # The stall window passes with the head where it was: consumers are gone.
    sampler.settings = replace(sampler.settings, stall_seconds=0)
    await sampler.sample()
    assert sampler.pressure is Pressure.STALLED
    assert_shed(await browse(shop))
    assert_shed(await categorise(shop))
    assert (await shop.client.get("/v1/orders", headers=bearer(shop.tenant.owner_key))).status_code == 200
    placed = await checkout(shop)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "paid"

    # A consumer comes back and drains the outbox: everything is served again.
    consumer = Dispatcher(shop.db, Subscriptions([]), DispatchSettings(batch_size=500, poll_interval=0.2))
    consumer.start()
    try:

        async def drained() -> bool:
            return await pending_count(shop.pg) == 0

        await wait_for(drained, 120, "the consumer to drain the outbox")
    finally:
        await consumer.stop()
    await sampler.sample()
    assert sampler.pressure is Pressure.NONE
    assert (await read(shop.db)).size == 0
    assert (await browse(shop)).status_code == 200
    assert (await categorise(shop)).status_code == 201
    assert (await checkout(shop)).status_code == 201
