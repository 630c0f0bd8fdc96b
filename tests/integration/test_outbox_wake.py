"""The dispatchers' wake-up (decision 021): a publishing transaction does not NOTIFY itself (its COMMIT
would queue for PostgreSQL's notify lock); once it has committed, the process sends one NOTIFY on another
connection, however many events it published. A rolled-back transaction sends nothing."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
from sqlalchemy import text

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from emporium.platform.events.store import WAKE_CHANNEL
from tests.support.bus import ThingHappened


async def test_one_notify_per_committed_transaction_sent_after_its_commit_and_none_for_a_rollback(
    db: Database, database_url: str, pg: asyncpg.Connection
) -> None:
    thing = f"thg_{secrets.token_hex(4)}"
    senders: list[int] = []  # backend pid of each NOTIFY's sender
    woken = asyncio.Event()

    def on_notify(_conn: object, pid: int, _channel: str, _payload: str) -> None:
        senders.append(pid)
        woken.set()

    await db.notifier.flush()  # nothing of earlier tests still on its way
    listener = await asyncpg.connect(database_url)  # what a dispatcher's WakeListener does
    await listener.add_listener(WAKE_CHANNEL, on_notify)
    try:
        async with transaction(db) as tx:  # rolled back
            await publish(tx, ThingHappened(thing_id=thing, n=0))
        async with transaction(db) as tx:
            publisher = await tx.scalar(text("SELECT pg_backend_pid()"))
            for n in range(1, 4):
                await publish(tx, ThingHappened(thing_id=thing, n=n))
            await tx.commit()
            # Still holding this transaction's connection, so the NOTIFY cannot be sent on it.
            await asyncio.wait_for(woken.wait(), 30)
        committed = await pg.fetchval("SELECT count(*) FROM platform.outbox WHERE aggregate_id = $1", thing)
        assert committed == 3  # woken for rows that are there
        await db.notifier.flush()
        await listener.fetchval("SELECT 1")  # NOTIFYs already sent reach the listener before this answer
        assert len(senders) == 1, senders  # one for three events; none for the rollback
        assert senders[0] != publisher  # not sent by the publishing transaction
    finally:
        await listener.close()
