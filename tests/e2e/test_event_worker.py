"""The event worker as a real process: SIGKILL at random points loses and repeats nothing; SIGTERM stops cleanly."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from tests.services import ROOT, scaled
from tests.support.bus import ThingHappened, effect_counts, make_dead_letter, pending_count, prepare, wait_for
from tests.support.workers import ForkedWorker, ForkServer, WorkerProcess

pytestmark = pytest.mark.e2e
CONSUMER = "testbus.recorder"


async def _publish_many(db: Database, aggregates: int, per_aggregate: int) -> list[str]:
    ids = []
    for n in range(per_aggregate):
        async with transaction(db) as tx:
            for a in range(aggregates):
                ids.append((await publish(tx, ThingHappened(thing_id=f"thg_kill_{a}", n=n))).id)
            await tx.commit()
    return ids


async def _effects(pg: asyncpg.Connection) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM public.bus_effect"))


KILLS = scaled(10, 50)  # every kill lands mid-work either way; `make soak` kills fifty times
AGGREGATES, PER_AGGREGATE = 200, 8  # enough pending work for every kill to land mid-work, little more


@pytest.mark.soak
async def test_a_worker_killed_with_sigkill_fifty_times_mid_work_applies_every_effect_exactly_once_in_order(
    db: Database, pg: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    await prepare(pg)
    ids = await _publish_many(db, aggregates=AGGREGATES, per_aggregate=PER_AGGREGATE)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    workers = ForkServer({"DATABASE_URL": database_url}, tmp_path / "worker.log")
    claims_left_behind = 0
    try:
        for kill in range(1, KILLS + 1):
            worker = workers.start()
            target = await _effects(pg) + rng.randint(1, 20)

            async def progressed(target: int = target, worker: ForkedWorker = worker) -> bool:
                return await _effects(pg) >= target or worker.poll() is not None

            await wait_for(progressed, 30, f"worker {kill} to make progress (seed {seed})")
            assert worker.poll() is None, worker.output()
            # At an arbitrary point: mid-handler, between commit and mark, mid-claim.
            assert worker.kill() == -signal.SIGKILL
            assert await _effects(pg) < len(ids), f"kill {kill} came after the work was done (seed {seed})"
            if await pg.fetchval("SELECT count(*) FROM platform.outbox WHERE claimed_until > now()"):
                claims_left_behind += 1  # it died holding a batch, which waits for the lease to run out
        final = workers.start()

        async def drained() -> bool:
            return await pending_count(pg) == 0 or final.poll() is not None

        await wait_for(drained, 60, "the last worker to drain the outbox")
        assert final.stop() == 0, final.output()  # SIGTERM: a clean exit at a safe point
    finally:
        workers.close()
    assert claims_left_behind >= KILLS // 2, f"only {claims_left_behind} kills caught a worker holding a batch"
    assert await pending_count(pg) == 0
    counts = await effect_counts(pg, CONSUMER)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
    order: dict[str, list[int]] = defaultdict(list)
    for row in await pg.fetch("SELECT aggregate_id, n FROM public.bus_effect ORDER BY row_id"):
        order[row["aggregate_id"]].append(row["n"])
    assert len(order) == AGGREGATES
    assert all(ns == list(range(PER_AGGREGATE)) for ns in order.values())


def _emporium(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emporium.main", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LOG_FORMAT": "json", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_emporium_worker_runs_until_sigterm_and_refuses_options_it_cannot_honour(
    database_url: str, tmp_path: Path
) -> None:
    refused = _emporium("worker", "--module", "identity", env={"DATABASE_URL": database_url})
    assert refused.returncode == 2 and "--module needs --source broker" in refused.stderr
    no_broker = _emporium("worker", "--source", "broker", env={"DATABASE_URL": database_url})
    assert no_broker.returncode == 2 and "BROKER_URL" in no_broker.stderr

    worker = WorkerProcess({"DATABASE_URL": database_url}, tmp_path / "cli.log", args=("-m", "emporium.main", "worker"))

    async def started() -> bool:
        return "events_dispatcher_started" in worker.output() or worker.process.poll() is not None

    await wait_for(started, 30, "emporium worker to start")
    assert worker.stop() == 0, worker.output()
    assert "events_dispatcher_stopped" in worker.output()


async def test_the_dlq_commands_list_show_and_replay(db: Database, database_url: str) -> None:
    letter = await make_dead_letter(db, "org_cli", consumer="testbus.nobody")
    env = {"DATABASE_URL": database_url, "COLUMNS": "250"}
    listed = _emporium("events", "dlq", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert letter in listed.stdout and "testbus.nobody" in listed.stdout
    shown = _emporium("events", "dlq", "show", letter, env=env)
    assert shown.returncode == 0 and '"consumer": "testbus.nobody"' in shown.stdout
    assert '"thing_id": "thg_matrix"' in shown.stdout
    missing = _emporium("events", "dlq", "show", "dlq_nope", env=env)
    assert missing.returncode == 1
    # No module hosts the test consumer, so the CLI (which hosts every module's subscribers) cannot replay it.
    replay = _emporium("events", "dlq", "replay", letter, env=env)
    assert replay.returncode == 1 and "consumer_not_hosted" in replay.stderr
