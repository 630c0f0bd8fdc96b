"""The event worker as a real process: SIGKILL at random points loses and repeats nothing; SIGTERM stops cleanly."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from tests.services import ROOT
from tests.support.bus import ThingHappened, effect_counts, make_dead_letter, pending_count, prepare, wait_for
from tests.support.workers import WorkerProcess

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


async def test_a_worker_killed_with_sigkill_again_and_again_applies_every_effect_exactly_once_in_order(
    db: Database, pg: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    await prepare(pg)
    ids = await _publish_many(db, aggregates=100, per_aggregate=15)
    rng = random.Random()
    log = tmp_path / "worker.log"
    kills = 0
    for _ in range(12):
        before = await _effects(pg)
        if before >= len(ids):
            break
        worker = WorkerProcess({"DATABASE_URL": database_url}, log)
        target = min(len(ids), before + rng.randint(10, 120))

        async def progressed(target: int = target, worker: WorkerProcess = worker) -> bool:
            return await _effects(pg) >= target or worker.process.poll() is not None

        await wait_for(progressed, 30, "the worker to make progress")
        assert worker.process.poll() is None, worker.output()
        worker.kill()  # at an arbitrary point: mid-handler, between commit and mark, mid-claim
        kills += 1
    assert kills >= 10, "the worker finished too fast for the kills to mean anything"

    final = WorkerProcess({"DATABASE_URL": database_url}, log)
    try:

        async def drained() -> bool:
            return await pending_count(pg) == 0

        await wait_for(drained, 60, "the last worker to drain the outbox")
    finally:
        assert final.stop() == 0, final.output()  # SIGTERM: a clean exit at a safe point
    counts = await effect_counts(pg, CONSUMER)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
    order: dict[str, list[int]] = defaultdict(list)
    for row in await pg.fetch("SELECT aggregate_id, n FROM public.bus_effect ORDER BY row_id"):
        order[row["aggregate_id"]].append(row["n"])
    assert all(ns == list(range(15)) for ns in order.values())


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
