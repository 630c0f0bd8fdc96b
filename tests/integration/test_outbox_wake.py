"""The dispatchers' wake-up (decisions 021, 040): at most one NOTIFY per merge window per process.

A transaction ending with its deferred-writes statement carries the NOTIFY in it when the process sent
none within the window (no transaction of its own); otherwise the wake-up goes after the commit, merged
with every other one due, on the notifier's own connection. A rollback sends nothing; a wake-up that may
wait is carried by the next transaction that NOTIFYs, or sent at its deadline."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy import text

from emporium.platform.db.engine import Database
from emporium.platform.db.notify import CommitNotifier
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from emporium.platform.events.store import WAKE_CHANNEL
from tests.support.bus import ThingHappened


@dataclass
class Listener:
    """What a dispatcher's WakeListener does: LISTEN, and note which backend sent each NOTIFY."""

    conn: asyncpg.Connection
    senders: list[int] = field(default_factory=list)
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def on_notify(self, _conn: object, pid: int, _channel: str, _payload: str) -> None:
        self.senders.append(pid)
        self.woken.set()

    async def settled(self) -> list[int]:
        await self.conn.fetchval("SELECT 1")  # NOTIFYs already sent reach the listener before this answer
        return self.senders


@pytest.fixture
async def listener(database_url: str) -> AsyncIterator[Listener]:
    conn = await asyncpg.connect(database_url)
    heard = Listener(conn)
    await conn.add_listener(WAKE_CHANNEL, heard.on_notify)
    yield heard
    await conn.close()


def _own_notifier(db: Database, monkeypatch: pytest.MonkeyPatch, merge_window: float) -> CommitNotifier:
    """A notifier of this test's own (the shared one may have a window open from earlier tests)."""
    notifier = CommitNotifier(db.url.replace("+asyncpg", "", 1), "test-notifier", merge_window=merge_window)
    monkeypatch.setattr(db, "notifier", notifier)
    return notifier


async def _publish(db: Database, thing: str, count: int, *, commit: bool = True, wait: float | None = None) -> int:
    """Publish `count` events in one transaction; its backend pid."""
    async with transaction(db) as tx:
        if wait is not None:
            tx.wakeups_may_wait(wait)
        pid = int(await tx.scalar(text("SELECT pg_backend_pid()")))
        for n in range(count):
            await publish(tx, ThingHappened(thing_id=thing, n=n))
        if commit:
            await tx.commit()
    return pid


async def _events(pg: asyncpg.Connection, thing: str) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM platform.outbox WHERE aggregate_id = $1", thing))


async def test_a_quiet_process_lets_the_committing_transaction_carry_one_notify_and_a_rollback_none(
    db: Database, pg: asyncpg.Connection, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = _own_notifier(db, monkeypatch, merge_window=0.01)
    thing = f"thg_{secrets.token_hex(4)}"
    await _publish(db, thing, 1, commit=False)
    publisher = await _publish(db, thing, 3)
    await asyncio.wait_for(listener.woken.wait(), 30)
    assert await _events(pg, thing) == 3  # woken for rows that are there
    await notifier.flush()
    assert await listener.settled() == [publisher]  # one for three events, none for the rollback, sent in it
    await notifier.close()


async def test_a_busy_process_sends_one_merged_notify_after_the_commits(
    db: Database, pg: asyncpg.Connection, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = _own_notifier(db, monkeypatch, merge_window=3600)  # every commit after the first is "within"
    thing = f"thg_{secrets.token_hex(4)}"
    first = await _publish(db, thing, 1)
    second = await _publish(db, thing, 1)
    third = await _publish(db, thing, 1)
    assert await listener.settled() == [first]  # the first carried it; the others wait for the merged one
    await notifier.flush()
    senders = await listener.settled()
    assert len(senders) == 2 and senders[1] not in {first, second, third}, senders  # one, on its own connection
    assert await _events(pg, thing) == 3
    await notifier.close()


async def test_a_wakeup_that_may_wait_rides_with_the_next_notify(
    db: Database, pg: asyncpg.Connection, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = _own_notifier(db, monkeypatch, merge_window=0)
    thing = f"thg_{secrets.token_hex(4)}"
    await _publish(db, thing, 2, wait=3600)
    assert await listener.settled() == []  # not woken yet
    carrier = await _publish(db, thing, 1)
    await asyncio.wait_for(listener.woken.wait(), 30)
    assert await listener.settled() == [carrier]
    assert await _events(pg, thing) == 3  # the waiting transaction's rows too
    await notifier.flush()
    assert await listener.settled() == [carrier]  # nothing was left due
    await notifier.close()


async def test_a_wakeup_that_may_wait_is_sent_at_its_deadline_if_nothing_carries_it(
    db: Database, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = _own_notifier(db, monkeypatch, merge_window=0.01)
    publisher = await _publish(db, f"thg_{secrets.token_hex(4)}", 1, wait=0.05)
    await asyncio.wait_for(listener.woken.wait(), 30)
    senders = await listener.settled()
    assert len(senders) == 1 and senders[0] != publisher, senders
    await notifier.close()
