"""The outbox and the dispatcher on real PostgreSQL: atomic publish, nothing lost, exactly-once effects, order."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import defaultdict

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import publish
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.subscriptions import Delivery, Subscription, Subscriptions
from emporium.platform.events.workflows import backlog, handle_once
from tests.support.bus import (
    ThingHappened,
    effect_counts,
    pending_count,
    prepare,
    record_effect,
    recording,
    wait_for,
)

FAST = DispatchSettings(batch_size=100, concurrency=4, poll_interval=0.2, stop_timeout=10)
CONSUMER = "testbus.recorder"


@pytest.fixture
async def clean(pg: asyncpg.Connection) -> None:
    await prepare(pg)


async def _publish(db: Database, thing_id: str, n: int, *, commit: bool = True) -> str:
    async with transaction(db) as tx:
        envelope = await publish(tx, ThingHappened(thing_id=thing_id, n=n), org_id="org_test")
        if commit:
            await tx.commit()
    return envelope.id


async def _drain(pg: asyncpg.Connection, within: float = 30) -> None:
    async def drained() -> bool:
        return await pending_count(pg) == 0

    await wait_for(drained, within, "the outbox to drain")


async def test_a_rolled_back_publish_leaves_nothing_and_a_committed_one_is_delivered_once(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    thing = f"thg_{secrets.token_hex(4)}"
    rolled_back = await _publish(db, thing, 1, commit=False)
    committed = await _publish(db, thing, 2)
    assert await pg.fetchval("SELECT count(*) FROM platform.outbox WHERE id = $1", rolled_back) == 0

    dispatcher = Dispatcher(db, Subscriptions([recording()]), FAST)
    dispatcher.start()
    try:
        await _drain(pg)
    finally:
        await dispatcher.stop()
    assert await effect_counts(pg, CONSUMER) == {committed: 1}
    row = await pg.fetchrow("SELECT delivered_via, claimed_by FROM platform.outbox WHERE id = $1", committed)
    assert row["delivered_via"] == "subscribers" and row["claimed_by"] is None


async def test_ten_thousand_events_a_fifth_rolled_back_two_dispatchers_deliver_exactly_the_committed_ones(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    subscriptions = Subscriptions([recording()])
    dispatchers = [Dispatcher(db, subscriptions, FAST, name=f"d{i}") for i in range(2)]
    for dispatcher in dispatchers:
        dispatcher.start()
    committed_ids: set[str] = set()
    rng = random.Random(7)
    plan = [rng.random() >= 0.2 for _ in range(1000)]  # 1,000 transactions of 10 events; ~20 % roll back
    assert 150 < plan.count(False) < 250

    async def publisher(worker: int) -> None:
        for index in range(worker, len(plan), 5):
            async with transaction(db) as tx:
                ids = [
                    (await publish(tx, ThingHappened(thing_id=f"thg_{index % 97}_{k}", n=index))).id for k in range(10)
                ]
                if plan[index]:
                    await tx.commit()
                    committed_ids.update(ids)

    try:
        await asyncio.gather(*(publisher(w) for w in range(5)))
        await _drain(pg, within=240)  # a bound, not a timing: a loaded 2-core CI box is slow
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
    counts = await effect_counts(pg, CONSUMER)
    assert len(committed_ids) == plan.count(True) * 10
    assert set(counts) == committed_ids
    assert set(counts.values()) == {1}


async def test_a_transaction_holding_a_lower_seq_open_loses_nothing_when_it_commits_late(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    dispatcher = Dispatcher(db, Subscriptions([recording()]), FAST)
    dispatcher.start()
    try:
        async with transaction(db) as slow:
            late = await publish(slow, ThingHappened(thing_id="thg_late", n=0))  # takes the lower seq
            early = [await _publish(db, f"thg_early_{i}", i) for i in range(20)]

            async def early_ones_delivered() -> bool:
                return set(await effect_counts(pg, CONSUMER)) == set(early)

            await wait_for(early_ones_delivered, 30, "the later events to be delivered")
            late_seq = await pg.fetchval("SELECT min(seq) FROM platform.outbox WHERE id = ANY($1)", early)
            assert late_seq is not None
            await slow.commit()
        await _drain(pg)
    finally:
        await dispatcher.stop()
    counts = await effect_counts(pg, CONSUMER)
    assert counts == dict.fromkeys([*early, late.id], 1)
    assert await pg.fetchval("SELECT seq FROM platform.outbox WHERE id = $1", late.id) < late_seq


async def test_three_dispatchers_handle_every_event_once_and_keep_each_aggregates_order(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    subscriptions = Subscriptions([recording()])
    dispatchers = [
        Dispatcher(db, subscriptions, DispatchSettings(batch_size=7, concurrency=3, poll_interval=0.2), name=f"d{i}")
        for i in range(3)
    ]
    for dispatcher in dispatchers:
        dispatcher.start()
    aggregates = [f"thg_{secrets.token_hex(3)}" for _ in range(30)]

    async def publish_in_order(thing: str) -> None:
        for n in range(20):
            await _publish(db, thing, n)

    try:
        await asyncio.gather(*(publish_in_order(a) for a in aggregates))
        await _drain(pg, within=240)  # a bound, not a timing: a loaded 2-core CI box is slow
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
    rows = await pg.fetch("SELECT aggregate_id, n FROM public.bus_effect WHERE consumer = $1 ORDER BY row_id", CONSUMER)
    seen: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        seen[row["aggregate_id"]].append(row["n"])
    assert seen == {a: list(range(20)) for a in aggregates}  # all once, each aggregate in publish order


async def test_publishers_of_one_aggregate_take_their_seq_in_commit_order(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    async with transaction(db) as first:
        await publish(first, ThingHappened(thing_id="thg_shared", n=1))
        second = asyncio.create_task(_publish(db, "thg_shared", 2))

        async def second_is_waiting() -> bool:
            return bool(await pg.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))

        await wait_for(second_is_waiting, 10, "the second publisher to wait for the aggregate lock")
        assert not second.done()
        await first.commit()
    await second
    ns = await pg.fetch("SELECT payload->>'n' AS n FROM platform.outbox WHERE aggregate_id = 'thg_shared' ORDER BY seq")
    assert [r["n"] for r in ns] == ["1", "2"]


async def test_a_redelivered_event_runs_its_effect_once(db: Database, pg: asyncpg.Connection, clean: None) -> None:
    """Concurrent deliveries of one event (an expired lease, a broker redelivery) commit one effect."""
    event_id = await _publish(db, "thg_dup", 1)
    envelope_row = await pg.fetchrow("SELECT * FROM platform.outbox WHERE id = $1", event_id)
    envelope = Envelope(
        id=event_id,
        name=envelope_row["name"],
        version=envelope_row["version"],
        aggregate_type="thing",
        aggregate_id="thg_dup",
        org_id=None,
        payload={"thing_id": "thg_dup", "n": 1},
        occurred_at=envelope_row["occurred_at"],
    )
    delivery = Delivery(envelope, CONSUMER)
    results = await asyncio.gather(
        *(handle_once(db, delivery, lambda tx: record_effect(tx, delivery)) for _ in range(8))
    )
    assert sorted(results) == [False] * 7 + [True]
    assert await effect_counts(pg, CONSUMER) == {event_id: 1}


async def test_an_expired_lease_is_taken_over_and_the_effect_still_happens_once(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()
    calls: list[str] = []

    async def slow(db_: Database, delivery: Delivery) -> None:
        calls.append(delivery.event.id)
        if len(calls) == 1:
            started.set()
            await release.wait()  # the first dispatcher stalls past its lease
        await handle_once(db_, delivery, lambda tx: record_effect(tx, delivery))

    subscription = Subscriptions([Subscription(CONSUMER, slow, {ThingHappened.key(): frozenset({"n"})})])
    short_lease = DispatchSettings(lease_seconds=1, poll_interval=0.1)
    first = Dispatcher(db, subscription, short_lease, name="stalled")
    second = Dispatcher(db, subscription, short_lease, name="rescuer")
    event_id = await _publish(db, "thg_lease", 1)
    first.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        second.start()
        await _drain(pg)  # the rescuer takes the expired claim and delivers
        release.set()

        async def both_called() -> bool:
            return len(calls) == 2

        await wait_for(both_called, 10, "the stalled handler to finish")
    finally:
        release.set()
        await first.stop()
        await second.stop()
    assert calls == [event_id, event_id]
    assert await effect_counts(pg, CONSUMER) == {event_id: 1}


async def test_stop_releases_the_claims_it_has_not_started(db: Database, pg: asyncpg.Connection, clean: None) -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def blocking(db_: Database, delivery: Delivery) -> None:
        entered.set()
        await gate.wait()
        await handle_once(db_, delivery, lambda tx: record_effect(tx, delivery))

    subscriptions = Subscriptions([Subscription(CONSUMER, blocking, {ThingHappened.key(): frozenset({"n"})})])
    ids = [await _publish(db, f"thg_stop_{i}", i) for i in range(10)]
    dispatcher = Dispatcher(db, subscriptions, DispatchSettings(batch_size=10, concurrency=1, lease_seconds=300))
    dispatcher.start()
    await asyncio.wait_for(entered.wait(), 10)
    stopping = asyncio.create_task(dispatcher.stop())
    gate.set()
    await stopping
    counts = await effect_counts(pg, CONSUMER)
    assert len(counts) == 1 and set(counts.values()) == {1}  # the handler in progress finished
    leftover = await pg.fetch(
        "SELECT claimed_by, delivered_at FROM platform.outbox WHERE id = ANY($1) AND delivered_at IS NULL", ids
    )
    assert len(leftover) == 9
    assert all(r["claimed_by"] is None for r in leftover)  # released, not left to a 300 s lease


async def test_backlog_counts_pending_events_and_the_oldest_ones_age(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    assert (await backlog(db)).size == 0
    await _publish(db, "thg_backlog", 1)
    await pg.execute(
        "UPDATE platform.outbox SET occurred_at = now() - interval '90 seconds' WHERE delivered_at IS NULL"
    )
    await _publish(db, "thg_backlog", 2)
    current = await backlog(db)
    assert current.size == 2
    assert 89 <= current.oldest_lag_seconds < 200


def test_retry_delays_grow_with_equal_jitter_and_stop_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=12, base_delay=1, max_delay=60)
    lows = [policy.delay_after(n, rand=lambda: 0.0) for n in range(1, 10)]
    highs = [policy.delay_after(n, rand=lambda: 1.0) for n in range(1, 10)]
    assert lows[:4] == [0.5, 1, 2, 4] and highs[:4] == [1, 2, 4, 8]
    # every draw of attempt n+1 is at least every draw of attempt n
    assert all(highs[i] <= lows[i + 1] for i in range(5))
    assert max(highs) == 60
    assert not policy.exhausted(11) and policy.exhausted(12)
