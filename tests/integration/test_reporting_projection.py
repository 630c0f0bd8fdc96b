"""The reporting projection on PostgreSQL and on MariaDB: random order histories delivered out of order across
aggregates and with duplicates give the reports computed straight from the history; so do concurrent
redeliveries and a rebuild from the outbox while nothing else runs."""

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
from tests.services import configured
from tests.support.reporting import (
    FROM,
    TO,
    OrderStory,
    build_history,
    deliver,
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
