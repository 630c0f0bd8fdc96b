"""Test-only events, subscribers and an effects table for the event bus tests.

The effects table has no unique constraint on purpose: a duplicated effect
shows up as a second row, so "exactly once" is checked by counting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import ClassVar

import asyncpg
import pytest
from sqlalchemy import text

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.events import store
from emporium.platform.events.contracts import Event
from emporium.platform.events.outbox import envelope_of
from emporium.platform.events.subscriptions import Delivery, Subscription
from emporium.platform.events.workflows import handle_once
from tests.services import configured

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS public.bus_effect (
    row_id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    event_id text NOT NULL,
    aggregate_id text NOT NULL,
    n integer NOT NULL
)
"""


class ThingHappened(Event):
    event_name: ClassVar[str] = "testbus.thing_happened"
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "thing"
    aggregate_field: ClassVar[str] = "thing_id"

    thing_id: str
    n: int


class ThingHappenedV2(Event):
    event_name: ClassVar[str] = "testbus.thing_happened"
    event_version: ClassVar[int] = 2
    aggregate_type: ClassVar[str] = "thing"
    aggregate_field: ClassVar[str] = "thing_id"

    thing_id: str
    n: int
    label: str


THING_V1 = ThingHappened.key()


async def record_effect(tx: Tx, delivery: Delivery) -> None:
    await tx.execute(
        text("INSERT INTO public.bus_effect (consumer, event_id, aggregate_id, n) VALUES (:c, :e, :a, :n)"),
        {
            "c": delivery.consumer,
            "e": delivery.event.id,
            "a": delivery.event.aggregate_id,
            "n": delivery.event.payload["n"],
        },
    )


def recording(consumer: str = "testbus.recorder") -> Subscription:
    """Records each event once (inbox in the effect's transaction)."""

    async def handle(db: Database, delivery: Delivery) -> None:
        await handle_once(db, delivery, lambda tx: record_effect(tx, delivery))

    return Subscription(consumer, handle, {THING_V1: frozenset({"thing_id", "n"})})


def failing(consumer: str, times: int, calls: list[Delivery]) -> Subscription:
    """Fails its first `times` calls, then records the effect once."""

    async def handle(db: Database, delivery: Delivery) -> None:
        calls.append(delivery)
        if len(calls) <= times:
            raise RuntimeError(f"downstream unavailable (call {len(calls)})")
        await handle_once(db, delivery, lambda tx: record_effect(tx, delivery))

    return Subscription(consumer, handle, {THING_V1: frozenset({"thing_id", "n"})})


async def prepare(pg: asyncpg.Connection) -> None:
    """Create the effects table, empty it, and take every event left by earlier tests off the queue."""
    await pg.execute(EFFECTS_DDL)
    await pg.execute("TRUNCATE public.bus_effect")
    await drop_leftover_events(pg)


async def drop_leftover_events(pg: asyncpg.Connection) -> None:
    """Mark every undelivered event of earlier tests delivered, so a dispatcher here sees only this test's."""
    await pg.execute(
        "UPDATE platform.outbox SET delivered_at = now(), delivered_via = 'subscribers', "
        "claimed_by = NULL, claimed_until = NULL WHERE delivered_at IS NULL"
    )


def nats_url_or_skip() -> str:
    """TEST_NATS_URL (under CI=true: the machine's server), or skip the test saying what is missing."""
    url = configured("TEST_NATS_URL")
    if url is None:
        pytest.skip("TEST_NATS_URL is not set (a NATS JetStream server, e.g. nats://127.0.0.1:4222)")
    return url


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "condition") -> None:
    """Poll an observable condition until it holds (bounded); never a fixed sleep."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


async def pending_count(pg: asyncpg.Connection) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM platform.outbox WHERE delivered_at IS NULL"))


async def effect_counts(pg: asyncpg.Connection, consumer: str) -> dict[str, int]:
    rows = await pg.fetch(
        "SELECT event_id, count(*) AS n FROM public.bus_effect WHERE consumer = $1 GROUP BY event_id", consumer
    )
    return {r["event_id"]: r["n"] for r in rows}


async def make_dead_letter(db: Database, org_id: str, consumer: str = "testbus.recorder") -> str:
    """A dead letter of `org_id` for a consumer the test app hosts (so a replay can succeed)."""
    event = envelope_of(ThingHappened(thing_id="thg_matrix", n=0), org_id=org_id)
    async with transaction(db) as tx:
        await tx.execute(text(EFFECTS_DDL))
        dead_letter_id = await store.insert_dead_letter(
            tx, event, consumer, error="RuntimeError: boom", attempts=3, first_failed_at=datetime.now(UTC)
        )
        await tx.commit()
    return dead_letter_id
