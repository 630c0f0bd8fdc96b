"""Connections kept checked out between transactions (`Database.connect`/`release`, decision 044) behave as
the pool's own: bounded by its size, nobody left waiting while one idles, no state carried from one
transaction to the next, and none kept past a failure that invalidated the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.transaction import DatabaseUnavailable, transaction

_BACKEND = text("SELECT pg_backend_pid()")
_ISOLATION = text("SELECT current_setting('transaction_isolation')")


@pytest.fixture
async def small(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, PoolSettings(size=2, timeout=30), application_name="emporium-reuse-test")
    yield database
    await database.dispose()


async def _backend(db: Database) -> int:
    async with transaction(db) as tx:
        pid = int(await tx.scalar(_BACKEND))
        await tx.commit()
    return pid


async def _app_backends(pg: asyncpg.Connection) -> set[int]:
    rows = await pg.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'emporium-reuse-test'")
    return {row["pid"] for row in rows}


async def test_a_transaction_takes_the_connection_the_last_one_left(small: Database) -> None:
    first = await _backend(small)
    assert await _backend(small) == first
    assert small.connections_in_use() == 0  # the idle one is not counted as in use


async def test_concurrent_transactions_never_open_more_connections_than_the_pool_size(
    small: Database, pg: asyncpg.Connection
) -> None:
    seen = await asyncio.gather(*(_backend(small) for _ in range(40)))
    assert len(set(seen)) <= 2
    assert len(await _app_backends(pg)) <= 2


async def test_a_caller_waiting_for_the_pool_gets_a_released_connection_at_once(small: Database) -> None:
    held = [await small.connect(), await small.connect()]  # the whole pool
    waiting = asyncio.create_task(small.connect())
    for _ in range(20):  # let it reach the pool's queue and wait there
        await asyncio.sleep(0)
    assert not waiting.done()
    await small.release(held.pop(), reusable=True)  # kept idle here, it would wait out the 30 s timeout
    got = await asyncio.wait_for(waiting, 10)
    await small.release(got, reusable=True)
    await small.release(held.pop(), reusable=True)


async def test_an_isolation_level_does_not_outlive_its_transaction(small: Database) -> None:
    for _ in range(3):
        async with transaction(small, isolation="SERIALIZABLE") as tx:
            assert await tx.scalar(_ISOLATION) == "serializable"
            await tx.commit()
        async with transaction(small) as tx:
            assert await tx.scalar(_ISOLATION) == "read committed"
            await tx.commit()


async def test_a_failed_transaction_leaves_no_transaction_open_for_the_next(small: Database) -> None:
    with pytest.raises(sa_exc.DBAPIError):
        async with transaction(small) as tx:
            await tx.execute(text("SELECT 1 / 0"))
    for _ in range(3):  # whichever connection comes next, it is not in an aborted transaction
        async with transaction(small) as tx:
            assert await tx.scalar(text("SELECT 1")) == 1
            await tx.commit()


async def test_connections_that_died_idle_are_replaced_after_the_first_failure(
    small: Database, pg: asyncpg.Connection
) -> None:
    await asyncio.gather(*(_backend(small) for _ in range(8)))  # two connections, both idle here now
    doomed = await _app_backends(pg)
    assert doomed
    assert all(row[0] for row in await pg.fetch("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", doomed))
    for _ in range(100):  # the server ends them on its own; bounded wait for that state
        if not doomed & await _app_backends(pg):
            break
        await asyncio.sleep(0.05)
    with pytest.raises(DatabaseUnavailable):
        await _backend(small)  # the first statement finds its connection dead: a retryable 503
    for _ in range(3):  # every other idle one is older than that failure: none is handed out again
        assert await _backend(small) not in doomed
