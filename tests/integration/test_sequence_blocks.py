"""`SequenceBlocks`: a sequence's values a block at a time, one read per block, never shared across databases."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.sequence import SequenceBlocks
from emporium.platform.db.transaction import transaction


@pytest.fixture
async def sequence(pg: asyncpg.Connection) -> AsyncIterator[str]:
    name = f"public.blocks_{secrets.token_hex(3)}"
    await pg.execute(f"CREATE SEQUENCE {name} START 100")
    yield name
    await pg.execute(f"DROP SEQUENCE {name}")


async def _taken(db: Database, blocks: SequenceBlocks) -> int:
    async with transaction(db) as tx:
        return await blocks.next(tx)


async def test_values_are_unique_and_read_a_block_at_a_time(
    db: Database, pg: asyncpg.Connection, sequence: str
) -> None:
    blocks = SequenceBlocks(f"'{sequence}'", 5)
    values = await asyncio.gather(*(_taken(db, blocks) for _ in range(23)))
    assert len(set(values)) == 23 and min(values) >= 100
    async with transaction(db) as tx:
        assert blocks.take(tx) is not None  # what is left of the last block, without a round trip
    # 23 values and one more from blocks of 5: five blocks read, unless concurrent refills read one more each
    assert 124 <= await pg.fetchval(f"SELECT last_value FROM {sequence}") < 100 + 5 * 24


async def test_another_database_gets_its_own_block(database_url: str, db: Database, sequence: str) -> None:
    blocks = SequenceBlocks(f"'{sequence}'", 10)
    first = await _taken(db, blocks)
    other = Database(database_url, PoolSettings(size=1))  # another engine: its values are its own
    try:
        assert await _taken(other, blocks) == first + 10
        assert await _taken(db, blocks) == first + 1
    finally:
        await other.dispose()
