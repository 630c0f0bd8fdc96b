"""The unit-of-work rule on a real PostgreSQL: commit is explicit, everything else rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import TransactionClosed, Tx
from emporium.platform.errors import Unavailable


@pytest.fixture
async def scratch(pg: asyncpg.Connection) -> AsyncIterator[str]:
    await pg.execute("CREATE TABLE IF NOT EXISTS platform.tx_probe (v text primary key)")
    await pg.execute("TRUNCATE platform.tx_probe")
    yield "platform.tx_probe"
    await pg.execute("DROP TABLE platform.tx_probe")


async def _insert(tx: Tx, value: str) -> None:
    await tx.execute(text("INSERT INTO platform.tx_probe (v) VALUES (:v)"), {"v": value})


async def _values(pg: asyncpg.Connection) -> list[str]:
    return [r["v"] for r in await pg.fetch("SELECT v FROM platform.tx_probe ORDER BY v")]


async def test_committed_work_is_visible(db: Database, pg: asyncpg.Connection, scratch: str) -> None:
    async with transaction(db) as tx:
        await _insert(tx, "a")
        await tx.commit()
    assert await _values(pg) == ["a"]


async def test_leaving_without_commit_rolls_back(db: Database, pg: asyncpg.Connection, scratch: str) -> None:
    async with transaction(db) as tx:
        await _insert(tx, "forgotten")
    assert await _values(pg) == []


async def test_an_exception_rolls_back_and_propagates(db: Database, pg: asyncpg.Connection, scratch: str) -> None:
    async def fail_midway() -> None:
        async with transaction(db) as tx:
            await _insert(tx, "doomed")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    assert await _values(pg) == []


async def test_statements_after_commit_are_refused(db: Database, pg: asyncpg.Connection, scratch: str) -> None:
    async with transaction(db) as tx:
        await _insert(tx, "first")
        await tx.commit()
        with pytest.raises(TransactionClosed):
            await _insert(tx, "second")
    assert await _values(pg) == ["first"]


async def test_executemany_runs_in_the_same_transaction(db: Database, pg: asyncpg.Connection, scratch: str) -> None:
    async with transaction(db) as tx:
        await tx.execute(text("INSERT INTO platform.tx_probe (v) VALUES (:v)"), [{"v": "x"}, {"v": "y"}])
        assert await tx.scalar(text("SELECT count(*) FROM platform.tx_probe")) == 2
    assert await _values(pg) == []


async def test_an_unreachable_database_is_reported_as_unavailable() -> None:
    dead = Database("postgresql://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(Unavailable):
            async with transaction(dead):
                pass
    finally:
        await dead.dispose()
