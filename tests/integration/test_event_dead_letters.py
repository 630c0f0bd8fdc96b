"""Retries with growing delays, dead letters after N attempts, and replay that handles the event once."""

from __future__ import annotations

import itertools
import time

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import Conflict, NotFound
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import publish
from emporium.platform.events.replay import ConsumerNotHosted, ReplayFailed, replay_dead_letter
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.subscriptions import Delivery, Subscriptions
from emporium.platform.events.workflows import get_dead_letter, list_dead_letters
from tests.support.bus import ThingHappened, effect_counts, failing, prepare, recording, wait_for

CONSUMER = "testbus.flaky"
POLICY = RetryPolicy(max_attempts=5, base_delay=0.2, max_delay=10)


@pytest.fixture
async def clean(pg: asyncpg.Connection) -> None:
    await prepare(pg)


async def _publish(db: Database, thing_id: str, org_id: str = "org_dlq") -> str:
    async with transaction(db) as tx:
        envelope = await publish(tx, ThingHappened(thing_id=thing_id, n=1), org_id=org_id)
        await tx.commit()
    return envelope.id


async def _dead_letter_for(pg: asyncpg.Connection, event_id: str) -> asyncpg.Record | None:
    return await pg.fetchrow("SELECT * FROM platform.dead_letter WHERE event_id = $1", event_id)


async def test_a_handler_failing_n_times_is_retried_with_growing_delays_then_dead_lettered_then_replayed_once(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    calls: list[Delivery] = []
    times: list[float] = []
    flaky = failing(CONSUMER, times=POLICY.max_attempts, calls=calls)
    original = flaky.handler

    async def timed(db_: Database, delivery: Delivery) -> None:
        times.append(time.monotonic())
        await original(db_, delivery)

    subscriptions = Subscriptions([type(flaky)(CONSUMER, timed, flaky.reads), recording()])
    dispatcher = Dispatcher(db, subscriptions, DispatchSettings(poll_interval=0.05, retry=POLICY))
    event_id = await _publish(db, "thg_flaky")
    dispatcher.start()
    try:

        async def dead() -> bool:
            return await _dead_letter_for(pg, event_id) is not None

        await wait_for(dead, 30, "the dead letter")
    finally:
        await dispatcher.stop()

    assert [c.attempt for c in calls] == [1, 2, 3, 4, 5]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for attempt, gap in enumerate(gaps, start=1):
        low = POLICY.delay_after(attempt, rand=lambda: 0.0)
        high = POLICY.delay_after(attempt, rand=lambda: 1.0)
        assert low - 0.01 <= gap <= high + 1.5, (attempt, gap, gaps)  # the upper slack absorbs a loaded machine
    assert gaps[-1] > 3 * POLICY.delay_after(1, rand=lambda: 1.0)  # the 4th wait exceeds any possible 1st

    letter = await _dead_letter_for(pg, event_id)
    assert letter is not None
    assert letter["consumer"] == CONSUMER and letter["attempts"] == 5 and letter["replayed_at"] is None
    assert "downstream unavailable (call 5)" in letter["error"]
    assert letter["first_failed_at"] <= letter["last_failed_at"]
    outbox = await pg.fetchrow("SELECT delivered_via, attempts FROM platform.outbox WHERE id = $1", event_id)
    assert outbox["delivered_via"] == "dead_letter" and outbox["attempts"] == 5
    # The healthy consumer of the same event ran once, on the first attempt, and was not repeated by retries.
    assert await effect_counts(pg, "testbus.recorder") == {event_id: 1}
    assert await effect_counts(pg, CONSUMER) == {}

    replayed = await replay_dead_letter(db, subscriptions, letter["id"])
    assert replayed.replayed_at is not None
    assert await effect_counts(pg, CONSUMER) == {event_id: 1}
    with pytest.raises(Conflict):
        await replay_dead_letter(db, subscriptions, letter["id"])
    assert await effect_counts(pg, CONSUMER) == {event_id: 1}


async def test_a_replay_that_fails_again_is_recorded_and_stays_dead(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    calls: list[Delivery] = []
    subscriptions = Subscriptions([failing(CONSUMER, times=100, calls=calls)])
    dispatcher = Dispatcher(
        db, subscriptions, DispatchSettings(poll_interval=0.05, retry=RetryPolicy(1, base_delay=0.01))
    )
    event_id = await _publish(db, "thg_hopeless")
    dispatcher.start()
    try:

        async def dead() -> bool:
            return await _dead_letter_for(pg, event_id) is not None

        await wait_for(dead, 30, "the dead letter")
    finally:
        await dispatcher.stop()
    letter = await _dead_letter_for(pg, event_id)
    assert letter is not None
    with pytest.raises(ReplayFailed):
        await replay_dead_letter(db, subscriptions, letter["id"])
    after = await _dead_letter_for(pg, event_id)
    assert after is not None
    assert after["attempts"] == letter["attempts"] + 1 and after["replayed_at"] is None
    with pytest.raises(ConsumerNotHosted):
        await replay_dead_letter(db, Subscriptions([recording()]), letter["id"])


async def test_dead_letters_are_listed_newest_first_and_scoped_by_org(
    db: Database, pg: asyncpg.Connection, clean: None
) -> None:
    calls: list[Delivery] = []
    subscriptions = Subscriptions([failing(CONSUMER, times=100, calls=calls)])
    dispatcher = Dispatcher(db, subscriptions, DispatchSettings(poll_interval=0.05, retry=RetryPolicy(1)))
    mine = [await _publish(db, f"thg_list_{i}", org_id="org_mine") for i in range(3)]
    theirs = await _publish(db, "thg_list_other", org_id="org_theirs")
    dispatcher.start()
    try:

        async def all_dead() -> bool:
            return (
                await pg.fetchval("SELECT count(*) FROM platform.dead_letter WHERE event_id = ANY($1)", [*mine, theirs])
                == 4
            )

        await wait_for(all_dead, 30, "four dead letters")
    finally:
        await dispatcher.stop()
    first = await list_dead_letters(db, org_id="org_mine", limit=2)
    assert len(first.items) == 2 and first.next_cursor
    second = await list_dead_letters(db, org_id="org_mine", limit=2, cursor=first.next_cursor)
    listed = [d.event_id for d in [*first.items, *second.items]]
    assert sorted(listed) == sorted(mine) and second.next_cursor is None
    times = [d.last_failed_at for d in [*first.items, *second.items]]
    assert times == sorted(times, reverse=True)
    their_letter = (await list_dead_letters(db, org_id="org_theirs")).items[0]
    with pytest.raises(NotFound):
        await get_dead_letter(db, their_letter.id, org_id="org_mine")
    assert (await get_dead_letter(db, their_letter.id, org_id=None)).event.id == theirs
