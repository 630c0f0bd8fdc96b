"""Commits/s of a transaction publishing two events to the outbox, for each way of writing them.

    .venv/bin/python -m bench.outbox_publish [--clients 8] [--seconds 5] [--rounds 2]

A fresh migrated database on the server in DATABASE_URL (else the embedded
PostgreSQL); each client is one asyncpg connection running `BEGIN; <statements>; COMMIT` in a loop for
`--seconds`, with prepared statements (what the app sends, without the app's Python around it), so the
numbers show the database's side: the NOTIFY queue lock taken at commit, the advisory lock, the
inserts. Each transaction publishes two events of two new aggregates (like a checkout's OrderPaid
and PaymentCaptured). Variants run interleaved, `--rounds` times each; the best round is reported.
Decision 021 records the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.common import create_database, drop_database, server_url
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.notify import CommitNotifier
from emporium.platform.events.store import WAKE_CHANNEL

_COLUMNS = "(id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at)"
_VALUES = "($1, 'bench.event', 1, 'bench', $2, NULL, '{}'::jsonb, '{}'::jsonb, now())"
_INSERT = f"INSERT INTO platform.outbox {_COLUMNS} VALUES {_VALUES}"
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('bench/' || $2, 0))"
# The statement `publish` sent per event before decision 021: advisory lock + NOTIFY + insert.
_LOCK_NOTIFY_INSERT = f"""
    WITH aggregate_lock AS ({_LOCK}), wake AS (SELECT pg_notify('emporium_outbox', ''))
    INSERT INTO platform.outbox {_COLUMNS}
    SELECT $1, 'bench.event', 1, 'bench', $2, NULL, '{{}}'::jsonb, '{{}}'::jsonb, now() FROM aggregate_lock, wake
"""
_NOTIFY_INSERT = f"""
    WITH wake AS (SELECT pg_notify('emporium_outbox', ''))
    INSERT INTO platform.outbox {_COLUMNS}
    SELECT $1, 'bench.event', 1, 'bench', $2, NULL, '{{}}'::jsonb, '{{}}'::jsonb, now() FROM wake
"""
_LOCK_INSERT = f"""
    WITH aggregate_lock AS ({_LOCK})
    INSERT INTO platform.outbox {_COLUMNS}
    SELECT $1, 'bench.event', 1, 'bench', $2, NULL, '{{}}'::jsonb, '{{}}'::jsonb, now() FROM aggregate_lock
"""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    meaning: str
    statements: tuple[str, ...]  # one per event, in order
    notify_after_commit: bool = False  # ask the app's CommitNotifier for the wake-up after each COMMIT


VARIANTS: tuple[Variant, ...] = (
    Variant("lock_notify_each", "before: advisory lock + NOTIFY + insert, per event", (_LOCK_NOTIFY_INSERT,) * 2),
    Variant(
        "lock_each_notify_once",
        "advisory lock per event, NOTIFY once per transaction",
        (_LOCK_NOTIFY_INSERT, _LOCK_INSERT),
    ),
    Variant("notify_each_no_lock", "NOTIFY + insert per event, no advisory lock", (_NOTIFY_INSERT,) * 2),
    Variant("notify_once_no_lock", "NOTIFY once per transaction, no advisory lock", (_NOTIFY_INSERT, _INSERT)),
    Variant(
        "after_notify_after_commit",
        "after: advisory lock + insert per event (of 2 aggregates), NOTIFY after commit, merged (CommitNotifier)",
        (_LOCK_INSERT,) * 2,
        notify_after_commit=True,
    ),
    Variant("lock_no_notify", "advisory lock + insert per event, no NOTIFY", (_LOCK_INSERT,) * 2),
    Variant("insert_only", "plain inserts (the floor: no lock, no NOTIFY)", (_INSERT,) * 2),
)


async def _client(url: str, variant: Variant, notifier: CommitNotifier, until: float) -> int:
    conn = await asyncpg.connect(url)
    try:
        prepared = [await conn.prepare(sql) for sql in variant.statements]
        commits = 0
        while time.monotonic() < until:
            async with conn.transaction():
                for statement in prepared:
                    await statement.fetch(f"evt_{secrets.token_hex(12)}", f"agg_{secrets.token_hex(8)}")
            if variant.notify_after_commit:
                notifier.request((WAKE_CHANNEL,))
            commits += 1
        return commits
    finally:
        await conn.close()


async def _run(url: str, variant: Variant, clients: int, seconds: float) -> tuple[float, int]:
    """(commits/s, NOTIFYs a dispatcher's listener received)."""
    received = 0

    def count(*_args: object) -> None:
        nonlocal received
        received += 1

    listener = await asyncpg.connect(url)  # what a dispatcher does
    await listener.add_listener(WAKE_CHANNEL, count)
    db = Database(url, PoolSettings(size=2))
    try:
        started = time.monotonic()
        counts = await asyncio.gather(*(_client(url, variant, db.notifier, started + seconds) for _ in range(clients)))
        elapsed = time.monotonic() - started
        await db.notifier.flush()
        await asyncio.sleep(0.2)  # let the last NOTIFYs arrive before counting
        return sum(counts) / elapsed, received
    finally:
        await db.dispose()
        await listener.close()


async def main(clients: int, seconds: float, rounds: int) -> dict[str, Any]:
    server = server_url()
    name, url = await create_database(server, "emporium_bench_outbox")
    try:
        best: dict[str, float] = {}
        wakeups: dict[str, int] = {}
        for _ in range(rounds):
            for variant in VARIANTS:
                rate, received = await _run(url, variant, clients, seconds)
                if rate > best.get(variant.name, 0.0):
                    best[variant.name], wakeups[variant.name] = rate, received
        conn = await asyncpg.connect(url)
        try:
            settings = {s: await conn.fetchval(f"SHOW {s}") for s in ("server_version", "synchronous_commit", "fsync")}
        finally:
            await conn.close()
    finally:
        await drop_database(server, name)
    return {
        "clients": clients,
        "seconds": seconds,
        "rounds": rounds,
        "postgres": settings,
        "commits_per_second": {v.name: round(best[v.name]) for v in VARIANTS},
        "notifications_received": wakeups,
        "meaning": {v.name: v.meaning for v in VARIANTS},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.clients, args.seconds, args.rounds)), indent=2))
