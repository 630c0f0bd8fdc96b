"""Pooled connections are not pinged at check-out (a round trip per transaction), so a connection that died
while idle is found by a request's first statement: that request answers a retryable 503 (never a 500), the
pool replaces every connection that died with it, and the client's retry with the same Idempotency-Key
places the order once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import httpx

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import open_runtime
from emporium.config import Config
from emporium.platform.db.engine import Database
from emporium.platform.events.store import WAKE_CHANNEL
from tests.support.catalog import make_product
from tests.support.identity import Tenant
from tests.support.orders import key, order_body, order_charges, place

_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


async def _backends(pg: asyncpg.Connection) -> set[int]:
    return {row["pid"] for row in await pg.fetch(_BACKENDS)}


async def test_a_connection_killed_while_idle_answers_503_once_and_the_retry_places_the_order(
    db: Database, tenant: Tenant, pg: asyncpg.Connection, config: Config, database_url: str
) -> None:
    product = await make_product(db, tenant, price=1200, on_hand=5)
    body = order_body((str(product["sku"]), 1))
    woken = asyncio.Event()
    listener = await asyncpg.connect(database_url)  # a dispatcher's wake-up connection
    await listener.add_listener(WAKE_CHANNEL, lambda *_args: woken.set())
    others = await _backends(pg)  # the session's other pools and the listener, left alone
    try:
        application = create_app(lambda: open_runtime(replace(config), database_url), config)
        async with application.router.lifespan_context(application):
            await application.state.runtime.backlog.stop()  # it shares the pool: the request must meet the dead one
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
                first = await place(client, tenant.storefront_key, body)
                assert first.status_code == 201, first.text
                await application.state.database.notifier.flush()  # its wake-up sent: the NOTIFY connection is open now

                app_backends = await _backends(pg) - others
                assert app_backends, "the app's pool holds idle connections"
                terminated = await pg.fetch(
                    "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", app_backends
                )
                assert all(row[0] for row in terminated)
                for _ in range(100):  # the server ends them on its own; bounded wait for that state
                    if not app_backends & await _backends(pg):
                        break
                    await asyncio.sleep(0.05)
                assert not app_backends & await _backends(pg)
                woken.clear()

                idem = key()
                lost = await place(client, tenant.storefront_key, body, idem)
                assert lost.status_code == 503, lost.text
                assert lost.headers["content-type"] == "application/problem+json"
                assert lost.json()["code"] == "database_unavailable"
                assert int(lost.headers["retry-after"]) >= 1

                retried = await place(client, tenant.storefront_key, body, idem)
                assert retried.status_code == 201, retried.text
                assert await order_charges(pg, retried.json()["id"]) == 1
                # The process's NOTIFY connection died too: the wake-up goes out on a new one.
                await asyncio.wait_for(woken.wait(), 30)
                replayed = await place(client, tenant.storefront_key, body, idem)
                assert replayed.json()["id"] == retried.json()["id"]
    finally:
        await listener.close()
    placed = await pg.fetchval(
        "SELECT count(*) FROM platform.idempotency_key WHERE org_id = $1 AND key = $2", tenant.org_id, idem
    )
    assert placed == 1
