"""The outbox backlog in the bench (issue 21): the sampler's cost at growing backlogs, and the outbox's state
after each scenario.

`cost_at` fills the outbox of a database of its own with one `INSERT ... SELECT generate_series` per
step and times `platform.events.backlog.read` (what each server process runs every 2 s) next to the
exact `count(*)` it replaced. `state` is the same reading between scenarios; `drain` waits for the
bench's event worker to empty the outbox, so each scenario starts as production would.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import asyncpg

from bench.common import create_database, drop_database

FILL = """
INSERT INTO platform.outbox
    (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at)
SELECT 'evt_fill' || g, 'bench.backlog_filler', 1, 'order', 'ord_fill' || g, 'org_bench',
    jsonb_build_object('order_id', 'ord_fill' || g, 'total_minor', 3998, 'currency', 'EUR'), '{}'::jsonb,
    now() - interval '1 minute'
FROM generate_series($1::bigint, $2::bigint) AS g
"""
SAMPLES = 40
COUNT = "SELECT count(*) FROM platform.outbox WHERE delivered_at IS NULL"


async def _executions_ms(conn: asyncpg.Connection, sql: str, times: int) -> list[float]:
    """PostgreSQL's own execution time of `sql` (EXPLAIN ANALYZE), free of the client's scheduling noise."""
    out = []
    for _ in range(times):
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        out.append(float(json.loads(plan)[0]["Execution Time"]))
    return out


async def cost_at(server: str, steps: list[int], log: Any) -> dict[str, Any]:
    from emporium.platform.db.engine import Database
    from emporium.platform.events.backlog import _SAMPLE, read

    name, url = await create_database(server, "emporium_backlog")
    conn = await asyncpg.connect(url)
    db = Database(url)
    rows: list[dict[str, Any]] = []
    try:
        have = 0
        for step in steps:
            started = time.perf_counter()
            await conn.execute(FILL, have + 1, step)  # no VACUUM after it: the worst case, freshly written
            fill_s = time.perf_counter() - started
            have = step
            await read(db)  # the pooled connection and its prepared statement, as in a running server
            timings = []
            for _ in range(SAMPLES):
                t0 = time.perf_counter()
                reading = await read(db)
                timings.append((time.perf_counter() - t0) * 1000)
            server_ms = await _executions_ms(conn, str(_SAMPLE.text), SAMPLES)
            t0 = time.perf_counter()
            exact = int(await conn.fetchval(COUNT))
            count_ms = (time.perf_counter() - t0) * 1000
            count_server_ms = await _executions_ms(conn, COUNT, 3)
            size = int(await conn.fetchval("SELECT pg_total_relation_size('platform.outbox')"))
            rows.append(
                {
                    "undelivered": exact,
                    "estimate": reading.size,
                    "oldest_age_s": round(reading.oldest_age_seconds, 1),
                    "sample_p50_ms": round(statistics.median(timings), 3),
                    "sample_max_ms": round(max(timings), 3),
                    "sample_server_p50_ms": round(statistics.median(server_ms), 3),
                    "count_ms": round(count_ms, 1),
                    "count_server_p50_ms": round(statistics.median(count_server_ms), 1),
                    "outbox_mb": round(size / 1e6, 1),
                    "fill_s": round(fill_s, 1),
                }
            )
            log(
                f"backlog {exact:,}: sample p50 {rows[-1]['sample_p50_ms']} ms (in PostgreSQL "
                f"{rows[-1]['sample_server_p50_ms']} ms), count(*) {rows[-1]['count_ms']} ms"
            )
    finally:
        await db.dispose()
        await conn.close()
        await drop_database(server, name)
    p50s = [r["sample_server_p50_ms"] for r in rows]
    client = [r["sample_p50_ms"] for r in rows]
    return {
        "steps": rows,
        "samples_per_step": SAMPLES,
        # The database's cost (what issue 21 is about); the client-side figure carries the machine's noise.
        "largest_over_smallest_p50": round(max(p50s) / min(p50s), 2) if rows and min(p50s) else None,
        "largest_over_smallest_client_p50": round(max(client) / min(client), 2) if rows and min(client) else None,
    }


async def state(db: Any) -> dict[str, Any]:
    """The sampler's reading now: estimated size and the oldest undelivered event's age."""
    from emporium.platform.events.backlog import read

    reading = await read(db)
    return {"outbox_estimate": reading.size, "oldest_age_s": round(reading.oldest_age_seconds, 1)}


async def drain(db: Any, within: float) -> float:
    """Wait until nothing is pending (the event worker delivers); the seconds it took."""
    from emporium.platform.events.backlog import read

    started = time.perf_counter()
    while time.perf_counter() - started < within:
        if (await read(db)).head_seq is None:
            break
        await asyncio.sleep(0.2)  # polling the pipeline's progress
    return round(time.perf_counter() - started, 1)
