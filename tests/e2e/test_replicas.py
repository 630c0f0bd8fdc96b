"""Three `emporium serve` replicas behind nginx (deploy/nginx.conf), sharing PostgreSQL, Redis and NATS,
with one `emporium worker --source broker` handling the events: the layout of docs/deployment.md.

The tests share one cluster (module scope) and run in file order: checkout load and idempotency across
replicas, SIGTERM to one replica under load, 30 s of cron ticks (which the earlier tests' time counts
towards; 60 s under `make soak`, where this test runs on its own), then Redis, NATS and PostgreSQL each
stopped and started again under load. Every server here is private to the test, so stopping one disturbs
nothing else.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from emporium.platform.db.engine import Database
from tests.services import IN_CI, scaled
from tests.support.bus import wait_for
from tests.support.catalog import make_product
from tests.support.cluster import Cluster, running_cluster
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.nats_server import nats_binary
from tests.support.nginx import nginx_binary
from tests.support.orders import key, order_body, order_charges
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e

_MISSING = [name for name, found in (("nginx", nginx_binary()), ("nats-server", nats_binary())) if not found]
if not RedisServer.available():
    _MISSING.append("redis-server")
if _MISSING and not IN_CI:
    pytest.skip(f"needs {', '.join(_MISSING)} (apt-get install nginx-light; see README)", allow_module_level=True)


@dataclass(frozen=True)
class Answer:
    key: str
    status: int  # -1: no HTTP answer at all (refused or reset)
    order_id: str | None
    code: str | None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="module")
async def cluster_db(cluster: Cluster) -> AsyncIterator[Database]:
    database = Database(cluster.postgres.url)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def shop(cluster_db: Database) -> Tenant:
    return await make_tenant(cluster_db, "Replicated")


@pytest.fixture
async def cpg(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(cluster.postgres.url)
    yield conn
    await conn.close()


async def checkout(client: httpx.AsyncClient, shop: Tenant, sku: str, idem: str | None = None) -> Answer:
    idem = idem or key()
    try:
        response = await client.post(
            "/v1/orders",
            headers={**bearer(shop.storefront_key), "Idempotency-Key": idem},
            json=order_body((sku, 1)),
        )
    except httpx.TransportError:
        return Answer(idem, -1, None, None)
    body: dict[str, Any] = response.json()
    order_id = body.get("id") if response.status_code in (200, 201, 202) else None
    return Answer(idem, response.status_code, order_id, body.get("code"))


async def traffic(
    base_url: str, shop: Tenant, sku: str, count: int, *, lanes: int = 16, at: dict[float, asyncio.Event] | None = None
) -> list[Answer]:
    """`count` checkouts, `lanes` at a time; each event in `at` is set once that fraction has been answered."""
    gate = asyncio.Semaphore(lanes)
    answers: list[Answer] = []
    milestones = at or {}

    async def one(client: httpx.AsyncClient) -> None:
        async with gate:
            answers.append(await checkout(client, shop, sku))
            for fraction, reached in milestones.items():
                if len(answers) >= count * fraction:
                    reached.set()

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    return answers


async def assert_paid_once(cpg: asyncpg.Connection, order_ids: list[str]) -> None:
    statuses = await cpg.fetch("SELECT id, status FROM orders.order WHERE id = ANY($1::text[])", order_ids)
    assert {r["id"] for r in statuses} == set(order_ids), "an acknowledged order is missing"
    assert {r["status"] for r in statuses} <= {"paid"}, Counter(r["status"] for r in statuses)
    charges = [await order_charges(cpg, order_id) for order_id in order_ids]
    assert set(charges) <= {1}, Counter(charges)


async def assert_events_handled_once(cluster: Cluster, cpg: asyncpg.Connection, order_ids: list[str]) -> None:
    """Every OrderPaid of these (paid) orders reached the broker worker, which sent one confirmation each."""

    async def drained() -> bool:
        return not await cpg.fetchval("SELECT count(*) FROM platform.outbox WHERE delivered_at IS NULL")

    await wait_for(drained, 60, "the outbox to be forwarded")
    events = [
        r["id"]
        for r in await cpg.fetch(
            "SELECT id FROM platform.outbox WHERE name = 'orders.order_paid' AND aggregate_id = ANY($1::text[])",
            order_ids,
        )
    ]
    assert len(events) == len(order_ids)
    wanted = {f"<{event}.notifications.order_confirmation@emporium>" for event in events}

    def sent() -> Counter[str]:
        with cluster.smtp.lock:
            ids = (str(m["Message-ID"]).strip() for m in cluster.smtp.messages)  # a long header arrives folded
            return Counter(i for i in ids if i in wanted)

    async def all_sent() -> bool:
        return set(sent()) == wanted

    try:
        # The broker consumer takes one message at a time (max_ack_pending=1 keeps each aggregate's order).
        await wait_for(all_sent, 120, "a confirmation email for every order")
    except AssertionError:
        handled = await cpg.fetch("SELECT consumer, count(*) FROM platform.inbox GROUP BY consumer")
        messages = await cpg.fetch("SELECT channel, status, count(*) FROM notifications.message GROUP BY 1, 2")
        raise AssertionError(
            f"{len(sent())} of {len(wanted)} confirmations; smtp got {len(cluster.smtp.messages)}; "
            f"inbox {handled}; messages {messages}"
        ) from None
    assert set(sent().values()) == {1}

    async def recorded() -> bool:  # the inbox row commits just after the SMTP server took the message
        return bool(
            await cpg.fetchval(
                "SELECT count(*) FROM platform.inbox "
                "WHERE consumer = 'notifications.order_confirmation' AND event_id = ANY($1::text[])",
                events,
            )
            == len(events)
        )

    await wait_for(recorded, 10, "the inbox to record every confirmation")


async def test_checkout_through_nginx_spreads_over_replicas_never_oversells_and_charges_once(
    cluster: Cluster, cluster_db: Database, shop: Tenant, cpg: asyncpg.Connection
) -> None:
    product = await make_product(cluster_db, shop, on_hand=40)
    answers = await traffic(cluster.base_url, shop, str(product["sku"]), 120, lanes=24)

    assert Counter(a.status for a in answers) == {201: 40, 409: 80}, Counter((a.status, a.code) for a in answers)
    assert {a.code for a in answers if a.status == 409} == {"out_of_stock"}
    assert cluster.nginx is not None
    served = Counter(cluster.nginx.upstreams())
    assert {f"127.0.0.1:{port}" for port in cluster.ports} <= set(served), served
    stock = await cpg.fetchrow("SELECT on_hand, reserved FROM catalog.inventory WHERE product_id = $1", product["id"])
    sold = await cpg.fetchval(
        "SELECT coalesce(sum(l.quantity), 0) FROM orders.order_line l JOIN orders.order o ON o.id = l.order_id "
        "WHERE l.product_id = $1 AND o.status <> 'cancelled'",
        product["id"],
    )
    assert sold == 40 and stock["on_hand"] - stock["reserved"] == 0
    paid = [a.order_id for a in answers if a.order_id]
    await assert_paid_once(cpg, paid)
    await assert_events_handled_once(cluster, cpg, paid)


async def test_the_same_key_sent_to_two_replicas_at_once_makes_one_order(
    cluster: Cluster, cluster_db: Database, shop: Tenant, cpg: asyncpg.Connection
) -> None:
    product = await make_product(cluster_db, shop, on_hand=1_000)
    sku = str(product["sku"])
    clients = [httpx.AsyncClient(base_url=replica.base_url, timeout=30) for replica in cluster.replicas]
    try:
        for _ in range(15):
            idem = key()
            answers = await asyncio.gather(*(checkout(client, shop, sku, idem) for client in clients))
            statuses = {a.status for a in answers}
            assert 201 in statuses and statuses <= {201, 409}, answers
            assert all(a.code == "idempotency_key_in_flight" for a in answers if a.status == 409), answers
            assert len({a.order_id for a in answers if a.order_id}) == 1, answers  # replays name the same order
    finally:
        for client in clients:
            await client.aclose()
    orders = await cpg.fetchval(
        "SELECT count(DISTINCT o.id) FROM orders.order o JOIN orders.order_line l ON l.order_id = o.id "
        "WHERE l.product_id = $1",
        product["id"],
    )
    assert orders == 15


async def test_sigterm_to_one_replica_under_checkout_load_fails_nothing_and_loses_nothing(
    cluster: Cluster, cluster_db: Database, shop: Tenant, cpg: asyncpg.Connection
) -> None:
    product = await make_product(cluster_db, shop, on_hand=10_000)
    midway = asyncio.Event()
    load = asyncio.create_task(traffic(cluster.base_url, shop, str(product["sku"]), 400, lanes=16, at={0.2: midway}))
    await midway.wait()
    leaving = cluster.replicas[1]
    leaving.process.send_signal(signal.SIGTERM)
    answers = await load
    assert await asyncio.to_thread(leaving.process.wait, 30) == 0, leaving.output()

    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {201, 503}, (statuses, Counter((a.status, a.code) for a in answers))
    await assert_paid_once(cpg, [a.order_id for a in answers if a.order_id])

    rejoined = cluster.start_replica(1)  # the cluster is whole again for the tests that follow
    await asyncio.to_thread(rejoined.wait_ready, 60)


@pytest.mark.soak
async def test_three_replicas_run_every_cron_tick_exactly_once_over_a_minute(
    cluster: Cluster, cpg: asyncpg.Connection
) -> None:
    """recover_checkouts ticks every second on all three schedulers (in `make test` through the tests above:
    load, and a replica stopped and started again); each tick must run on exactly one replica, and none be
    missed. `make test` reads a 30-tick window, which the tests above mostly fill; `make soak` the minute."""
    ticks = scaled(30, 60)

    async def enough_recorded() -> bool:
        span = await cpg.fetchval("SELECT max(slot) - min(slot) FROM platform.job_run WHERE job = 'recover_checkouts'")
        return span is not None and span >= ticks

    await wait_for(enough_recorded, 120, f"{ticks} s of recover_checkouts ticks")
    ran = [line for line in cluster.logs() if line.get("event") == "cron_tick_ran"]
    per_tick = Counter((line["job"], line["slot"]) for line in ran)
    assert set(per_tick.values()) == {1}, [tick for tick, n in per_tick.items() if n > 1]
    slots = sorted(slot for job, slot in per_tick if job == "recover_checkouts")
    assert slots == list(range(slots[0], slots[-1] + 1)), "a tick was missed"
    recorded = await cpg.fetch("SELECT slot, instance, outcome FROM platform.job_run WHERE job = 'recover_checkouts'")
    finished = {r["slot"] for r in recorded if r["outcome"] != "running"}
    assert set(slots) <= finished <= set(slots) | {slots[-1] + 1}  # the newest may have ended after the logs were read
    assert {r["outcome"] for r in recorded} <= {"succeeded", "running"}
    assert len({line["instance"] for line in ran}) >= 2, "one scheduler ran everything: nothing was contended"


async def _settle(client: httpx.AsyncClient, shop: Tenant, sku: str, answers: list[Answer]) -> list[Answer]:
    """The clients' retries: each unanswered or 503 request again with its key until it settles; the clients
    retry side by side, as independent clients would (eight at a time), each with its own back-off."""
    lanes = asyncio.Semaphore(8)

    async def settle(first: Answer) -> Answer:
        latest = first
        for _ in range(100):
            if latest.status not in (-1, 503) and latest.code != "idempotency_key_in_flight":
                break
            await asyncio.sleep(0.2)  # a client's back-off between retries (Retry-After), bounded
            async with lanes:
                latest = await checkout(client, shop, sku, first.key)
        return latest

    return list(await asyncio.gather(*(settle(first) for first in answers)))


async def test_redis_nats_and_postgres_each_stopped_and_restarted_under_load_lose_nothing(
    cluster: Cluster, cluster_db: Database, shop: Tenant
) -> None:
    product = await make_product(cluster_db, shop, on_hand=10_000)
    sku = str(product["sku"])
    outages = {
        "redis": (cluster.redis.kill, cluster.redis.start, {201}),
        "nats": (cluster.nats.stop, cluster.nats.start, {201}),  # events wait in the outbox meanwhile
        # 202: the sandbox provider lost its database mid-charge, an unknown outcome that recovery settles.
        "postgres": (cluster.postgres.stop, cluster.postgres.start, {201, 202, 503}),
    }
    everything: list[Answer] = []
    for name, (stop, start, allowed) in outages.items():
        down, back = asyncio.Event(), asyncio.Event()
        load = asyncio.create_task(traffic(cluster.base_url, shop, sku, 80, lanes=8, at={0.2: down, 0.6: back}))
        await down.wait()
        await asyncio.to_thread(stop)
        await back.wait()
        await asyncio.to_thread(start)
        answers = await load
        statuses = Counter(a.status for a in answers)
        assert set(statuses) <= allowed, (name, statuses, Counter((a.status, a.code) for a in answers))
        if name == "postgres":
            assert statuses[503] > 0, "the outage did not overlap the traffic"
        async with httpx.AsyncClient(base_url=cluster.base_url, timeout=30) as client:
            everything += await _settle(client, shop, sku, answers)

    # 202: the provider's answer was lost; recovery settles it. Never 200: a checkout the outage cut short
    # and recovery cancelled without a charge is placed again by the retry (its key was released).
    assert {a.status for a in everything} <= {201, 202}, Counter((a.status, a.code) for a in everything)
    order_ids = [a.order_id for a in everything if a.order_id]
    assert len(set(order_ids)) == len(everything) == 240
    cpg = await asyncpg.connect(cluster.postgres.url)  # after the restart: the test's own view of the data
    try:
        await _check_settled(cluster, cpg, everything)
    finally:
        await cpg.close()


async def _check_settled(cluster: Cluster, cpg: asyncpg.Connection, everything: list[Answer]) -> None:
    order_ids = [a.order_id for a in everything if a.order_id]

    async def all_settled() -> bool:
        return not await cpg.fetchval(
            "SELECT count(*) FROM orders.order WHERE id = ANY($1::text[]) AND status NOT IN ('paid', 'cancelled')",
            order_ids,
        )

    await wait_for(all_settled, 60, "recovery to settle the checkouts whose outcome was unknown")
    cancelled = {
        r["id"]
        for r in await cpg.fetch(
            "SELECT id FROM orders.order WHERE id = ANY($1::text[]) AND status = 'cancelled'", order_ids
        )
    }
    assert cancelled <= {a.order_id for a in everything if a.status == 202}  # never a 201 one
    assert all([await order_charges(cpg, order_id) == 0 for order_id in cancelled])
    paid = [order_id for order_id in order_ids if order_id not in cancelled]
    await assert_paid_once(cpg, paid)
    await assert_events_handled_once(cluster, cpg, paid)
