"""Each tick of each job runs once across replicas — with Redis claims, and with only PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from emporium.platform.cron import Job, Scheduler
from emporium.platform.db.engine import Database
from tests.services import configured


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    url = configured("TEST_REDIS_URL")
    if url is None:
        pytest.skip("no Redis configured: set TEST_REDIS_URL to run the Redis cron test")
    client = Redis.from_url(url)
    yield client
    await client.aclose()


async def _three_replicas_tick(db: Database, redis: Redis | None, ticks: int) -> Counter[int]:
    ran: Counter[int] = Counter()
    clock = Clock()
    name = f"probe_{secrets.token_hex(4)}"

    async def work() -> str:
        ran[int(clock.now // 10)] += 1
        await asyncio.sleep(0)  # let the other replicas race for the same slot meanwhile
        return "ok"

    job = Job(name, 10.0, work)
    replicas = [Scheduler(db, [job], redis=redis, clock=clock) for _ in range(3)]
    for _ in range(ticks):
        results = await asyncio.gather(*(replica.tick(job) for replica in replicas))
        assert sorted(results) == [False, False, True]
        clock.now += 10
    return ran


async def test_with_redis_every_tick_runs_exactly_once(db: Database, redis: Redis, pg: asyncpg.Connection) -> None:
    ran = await _three_replicas_tick(db, redis, ticks=60)
    assert len(ran) == 60
    assert set(ran.values()) == {1}


async def test_without_redis_the_recorded_slot_is_the_claim(db: Database, pg: asyncpg.Connection) -> None:
    ran = await _three_replicas_tick(db, None, ticks=30)
    assert len(ran) == 30
    assert set(ran.values()) == {1}


async def test_runs_are_recorded_with_their_outcome(db: Database, pg: asyncpg.Connection) -> None:
    name = f"fails_{secrets.token_hex(4)}"

    async def broken() -> None:
        raise RuntimeError("nope")

    clock = Clock()
    assert await Scheduler(db, [Job(name, 5.0, broken)], clock=clock).tick(Job(name, 5.0, broken))
    row = await pg.fetchrow("SELECT outcome, detail, finished_at FROM platform.job_run WHERE job = $1", name)
    assert row["outcome"] == "failed"
    assert "nope" in row["detail"]
    assert row["finished_at"] is not None
