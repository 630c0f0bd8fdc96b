"""Batch subscribers on the outbox dispatcher (decision 038): a subscription with a batch handler gets each
claimed batch's events in one call, next to one-event subscribers; a batch that fails falls back to one
event at a time, and an event being retried is never batched again."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events import inbox
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import publish
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.subscriptions import Delivery, Subscription, Subscriptions
from emporium.platform.events.workflows import handle_once
from tests.support.bus import THING_V1, ThingHappened, effect_counts, pending_count, prepare, record_effect, recording

BATCHED = "testbus.batched"
SETTINGS = DispatchSettings(batch_size=10, concurrency=4, poll_interval=0.2, retry=RetryPolicy(5, 0.05, 0.1))


@pytest.fixture
async def clean(pg: asyncpg.Connection) -> None:
    await prepare(pg)


def batched(batches: list[list[Delivery]], singles: list[Delivery], *, refuse: str | None = None) -> Subscription:
    """Records each event once, a whole batch in one transaction; refuses any batch holding the event `refuse`
    (all of it, with nothing written). Its one-event handler fails the first time it sees `refuse`."""

    async def one(db: Database, delivery: Delivery) -> None:
        singles.append(delivery)
        if delivery.event.id == refuse and sum(d.event.id == refuse for d in singles) == 1:
            raise RuntimeError("downstream unavailable")
        await handle_once(db, delivery, lambda tx: record_effect(tx, delivery))

    async def many(db: Database, deliveries: Sequence[Delivery]) -> None:
        batches.append(list(deliveries))
        async with transaction(db) as tx:
            for delivery in deliveries:
                if await inbox.first_delivery(tx, delivery):
                    await record_effect(tx, delivery)
            if any(d.event.id == refuse for d in deliveries):
                raise RuntimeError("this batch holds an event the downstream refuses")  # rolled back
            await tx.commit()

    return Subscription(BATCHED, one, {THING_V1: frozenset({"thing_id", "n"})}, batch_handler=many)


async def _publish_things(db: Database, things: int, per_thing: int) -> list[str]:
    """`per_thing` events for each of `things` aggregates, in one transaction per event."""
    prefix = secrets.token_hex(3)
    ids = []
    for n in range(per_thing):
        for thing in range(things):
            async with transaction(db) as tx:
                ids.append((await publish(tx, ThingHappened(thing_id=f"thg_{prefix}_{thing}", n=n))).id)
                await tx.commit()
    return ids


async def _drain(dispatcher: Dispatcher, pg: asyncpg.Connection) -> None:
    """Run batches until nothing is pending (a retried event comes due after its short back-off)."""
    while await pending_count(pg):
        await dispatcher.run_once()


async def test_a_batch_subscriber_gets_each_claimed_batch_in_one_call_next_to_a_one_event_subscriber(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    batches: list[list[Delivery]] = []
    singles: list[Delivery] = []
    ids = await _publish_things(db, things=12, per_thing=3)
    dispatcher = Dispatcher(db, Subscriptions([batched(batches, singles), recording()]), SETTINGS)
    await _drain(dispatcher, pg)

    assert await effect_counts(pg, BATCHED) == dict.fromkeys(ids, 1)
    assert await effect_counts(pg, "testbus.recorder") == dict.fromkeys(ids, 1)
    assert singles == []  # nothing fell back
    assert sum(len(b) for b in batches) == len(ids) and len(batches) < len(ids)
    for batch in batches:  # a claim holds one event per aggregate
        assert len({d.event.aggregate_id for d in batch}) == len(batch)
        assert all(d.consumer == BATCHED and d.attempt == 1 for d in batch)
    rows = await pg.fetch("SELECT aggregate_id, n FROM public.bus_effect WHERE consumer = $1 ORDER BY row_id", BATCHED)
    seen: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        seen[row["aggregate_id"]].append(row["n"])
    assert all(ns == [0, 1, 2] for ns in seen.values())  # each aggregate's events in order


async def test_a_failing_batch_falls_back_to_one_event_at_a_time_and_a_retried_event_is_not_batched_again(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    ids = await _publish_things(db, things=8, per_thing=2)
    poison = ids[3]
    batches: list[list[Delivery]] = []
    singles: list[Delivery] = []
    dispatcher = Dispatcher(db, Subscriptions([batched(batches, singles, refuse=poison)]), SETTINGS)
    await _drain(dispatcher, pg)

    assert await effect_counts(pg, BATCHED) == dict.fromkeys(ids, 1)
    refused = [b for b in batches if any(d.event.id == poison for d in b)]
    assert len(refused) == 1  # tried once in a batch; after its failure, only on its own
    # The refused batch's events went one at a time; the poison failed once there and was retried alone.
    assert {d.event.id for d in singles} == {d.event.id for d in refused[0]}
    assert [d.attempt for d in singles if d.event.id == poison] == [1, 2]
    assert await pg.fetchval("SELECT count(*) FROM platform.dead_letter WHERE event_id = ANY($1)", ids) == 0
