"""The reporting projection on PostgreSQL and on MariaDB: random order histories delivered out of order across
aggregates and with duplicates, one event at a time or in batches (decision 038), give the reports computed
straight from the history; so do concurrent redeliveries, a dispatcher dying between applying a batch and
its ack, and a rebuild from the outbox while nothing else runs."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emporium.modules.reporting import subscribers, workflows
from emporium.modules.reporting.domain import Granularity, ProductSort
from emporium.platform.db.engine import Database
from emporium.platform.events import workflows as bus
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.subscriptions import Delivery, Subscriptions
from tests.services import configured
from tests.support.bus import drop_leftover_events, pending_count
from tests.support.reporting import (
    FROM,
    TO,
    History,
    OrderStory,
    build_history,
    deliver,
    deliver_batches,
    expected_reports,
    mariadb_database,
    open_store,
    order_stories,
    reports_of,
)


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Database]:
    """The reporting store on each dialect: the main PostgreSQL (schema `reporting`), or a MariaDB database."""
    if request.param == "postgresql":
        db = open_store(database_url)
        yield db
        await db.dispose()
        return
    server = configured("TEST_MARIADB_URL")
    if server is None:
        pytest.skip("TEST_MARIADB_URL is not set (CI=true uses the MariaDB server at 127.0.0.1:3306)")
    async with mariadb_database(server) as url:
        db = open_store(url)
        yield db
        await db.dispose()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stories=order_stories(), seed=st.integers(0, 2**32 - 1))
async def test_any_delivery_order_with_duplicates_gives_the_reports_of_the_history(
    store: Database, stories: list[OrderStory], seed: int
) -> None:
    history = build_history(stories)
    await deliver(store, history.delivered(random.Random(seed)))
    for org in history.orgs:
        assert await reports_of(store, org) == expected_reports(history, org)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stories=order_stories(), seed=st.integers(0, 2**32 - 1))
async def test_batches_in_any_delivery_order_with_duplicates_give_the_reports_of_the_history(
    store: Database, stories: list[OrderStory], seed: int
) -> None:
    history = build_history(stories)
    rnd = random.Random(seed)
    await deliver_batches(store, history.delivered(rnd), rnd)
    for org in history.orgs:
        assert await reports_of(store, org) == expected_reports(history, org)


async def test_a_currency_filter_keeps_only_that_currency(store: Database) -> None:
    stories = [
        OrderStory(0, c, (("SKU-A", 2, 500),), 100, "paid", True, (), False, True, 60 * i, 30)
        for i, c in enumerate(["EUR", "USD", "EUR"])
    ]
    history = build_history(stories)
    await deliver(store, history.delivered(random.Random(1), duplicates=0))
    org = history.orgs[0]
    rows = await workflows.sales_report(store, org, FROM, TO, Granularity.MONTH, "EUR")
    assert [(r.currency, r.orders, r.gross_minor, r.shipped) for r in rows] == [("EUR", 2, 2200, 2)]
    products = await workflows.products_report(store, org, FROM, TO, "USD", ProductSort.UNITS, 10)
    assert [(p.currency, p.sku, p.units, p.revenue_minor) for p in products] == [("USD", "SKU-A", 2, 1000)]


async def test_concurrent_redeliveries_apply_each_event_once(store: Database) -> None:
    stories = [
        OrderStory(i % 2, "EUR", (("SKU-B", 1, 1000 + i),), 0, "paid", True, (300,), i % 3 == 0, i % 2 == 0, 37 * i, 20)
        for i in range(12)
    ]
    history = build_history(stories)
    # Eight consumers (dispatchers after a lease expiry, a broker redelivery...) deliver everything at once.
    await asyncio.gather(*(deliver(store, history.delivered(random.Random(n), duplicates=0)) for n in range(8)))
    for org in history.orgs:
        assert await reports_of(store, org) == expected_reports(history, org)
    status = await workflows.status(store)
    assert status.applied_events >= len(history.events)
    assert status.newest_event_at is not None and status.lag_seconds is not None


async def test_concurrent_batches_of_the_same_events_apply_each_event_once(store: Database) -> None:
    stories = [
        OrderStory(i % 3, ["EUR", "USD"][i % 2], (("SKU-D", 1 + i % 2, 700 + i),), 100, "paid", True,
                   (200,) if i % 4 == 0 else (), i % 5 == 0, i % 2 == 1, 53 * i, 25)
        for i in range(16)
    ]  # fmt: skip
    history = build_history(stories)
    # Four dispatchers (leases expired under them) apply overlapping batches of the same events at once.
    await asyncio.gather(
        *(
            deliver_batches(store, history.delivered(random.Random(n), duplicates=0.2), random.Random(n))
            for n in range(4)
        )
    )
    for org in history.orgs:
        assert await reports_of(store, org) == expected_reports(history, org)


async def _publish_pending(pg: asyncpg.Connection, history: History) -> None:
    """The history in the outbox as committed and not yet delivered, each aggregate's events in order."""
    await pg.executemany(
        "INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload,"
        " trace_context, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, '{}'::jsonb, $8)",
        [
            (e.id, e.name, e.version, e.aggregate_type, e.aggregate_id, e.org_id, json.dumps(e.payload), e.occurred_at)
            for e in history.delivered(random.Random(5), duplicates=0)
        ],
    )


async def test_a_dispatcher_dying_between_a_batch_and_its_ack_redelivers_it_without_counting_twice(
    store: Database, db: Database, pg: asyncpg.Connection
) -> None:
    stories = [
        OrderStory(0, ["EUR", "JPY"][i % 2], (("SKU-E", 1 + i % 3, 300 + 10 * i),), 50,
                   ["paid", "paid", "declined", "paid"][i % 4], True, (100,) if i % 3 == 0 else (), i % 6 == 0,
                   i % 2 == 0, 29 * i, 15)
        for i in range(20)
    ]  # fmt: skip
    history = build_history(stories, orgs=1)
    await drop_leftover_events(pg)
    await _publish_pending(pg, history)
    workflows.install(store)
    try:
        # A dispatcher claims a batch, applies it (committed), and is killed before marking it delivered.
        claimed = await bus.claim_batch(db, "killed", 100, lease_seconds=300)
        assert claimed
        await subscribers.on_events(db, [Delivery(c.event, workflows.PROJECTION) for c in claimed])
        # Its lease runs out; another dispatcher takes the batch again, and the rest, in batches of 7.
        await pg.execute("UPDATE platform.outbox SET claimed_until = now() WHERE claimed_by = 'killed'")
        survivor = Dispatcher(db, Subscriptions(subscribers.SUBSCRIPTIONS), DispatchSettings(batch_size=7))
        redelivered = 0
        while claimed_now := await survivor.run_once():
            redelivered += claimed_now
        assert await pending_count(pg) == 0
        assert redelivered == len(history.events)  # the killed batch's events came again
        assert await reports_of(store, history.orgs[0]) == expected_reports(history, history.orgs[0])
    finally:
        workflows.uninstall(store)
        await drop_leftover_events(pg)  # months-old pending events would make the shared app shed load


async def test_a_rebuild_from_the_outbox_gives_the_live_reports(
    store: Database, db: Database, pg: asyncpg.Connection
) -> None:
    history = build_history(
        [
            OrderStory(
                0,
                ["EUR", "JPY"][i % 2],
                (("SKU-A", 1 + i % 3, 250 * i), ("SKU-C", 1, 99)),
                50,
                ["paid", "paid", "declined", "pending", "paid"][i % 5],
                i % 4 != 0,
                (250, 1000)[: i % 3],
                i % 7 == 0,
                i % 2 == 1,
                91 * i,
                45,
            )
            for i in range(24)
        ],
        orgs=1,
    )
    org = history.orgs[0]
    ordered = history.delivered(random.Random(7), duplicates=0)
    # The history as the modules' transactions left it: published, and delivered (kept in the outbox). Written
    # delivered at once: months-old pending events would make the shared app shed load for every later test.
    await pg.executemany(
        "INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload,"
        " trace_context, occurred_at, delivered_at, delivered_via)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, '{}'::jsonb, $8, now(), 'subscribers')",
        [
            (e.id, e.name, e.version, e.aggregate_type, e.aggregate_id, e.org_id, json.dumps(e.payload), e.occurred_at)
            for e in ordered
        ],
    )
    await deliver(store, history.delivered(random.Random(8), duplicates=0.2))
    live = await reports_of(store, org)
    assert live == expected_reports(history, org)

    seen: list[int] = []
    summary = await subscribers.rebuild_from_history(db, store, org_id=org, page_size=37, progress=seen.append)
    assert summary.events == len(history.events) == sum(seen)
    assert await reports_of(store, org) == live
    # Redelivering after the rebuild changes nothing: the rebuilt inbox knows every event.
    await deliver(store, ordered[:10])
    assert await reports_of(store, org) == live
