"""The dispatcher's inbox read probes the primary key by (consumer, event id): by event id alone it was a
scan of the whole inbox for every claimed batch, a cost that grows with the inbox (decision 038's notes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg

from emporium.platform.events import store


async def test_the_inbox_read_for_a_batch_is_an_index_probe_by_consumer_and_event(pg: asyncpg.Connection) -> None:
    sql = str(store._PROCESSED).replace(":p_consumers", "$1").replace(":p_event_ids", "$2")
    tx = pg.transaction()
    await tx.start()
    try:
        await pg.execute("SET LOCAL enable_seqscan = off")  # the plan's shape, whatever the table's size now
        # The read is for consumers that have processed events: with statistics that say a consumer has
        # no rows (what the inbox looked like when other tests had filled it with other consumers), the
        # planner rightly probes by consumer alone. So the consumers asked for have rows, in the
        # statistics too (rolled back with the rows, but for pg_class's row estimate).
        await pg.execute(
            "INSERT INTO platform.inbox (consumer, event_id)"
            " SELECT c, 'evt_probe_' || c || g"
            " FROM unnest(ARRAY['probe.a', 'probe.b']) AS c, generate_series(1, 2000) AS g"
        )
        await pg.execute("ANALYZE platform.inbox")
        plan = json.loads(await pg.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", ["probe.a", "probe.b"], ["evt_1", "evt_2"]))
    finally:
        await tx.rollback()
    conditions = list(_index_conditions(plan[0]["Plan"]))
    assert conditions, plan  # through the primary key's index (a plain or a bitmap index scan)
    assert all("consumer = ANY" in c and "event_id = ANY" in c for c in conditions), conditions


def _index_conditions(node: dict[str, Any]) -> Iterator[str]:
    if "Index Cond" in node:
        yield node["Index Cond"]
    for child in node.get("Plans", ()):
        yield from _index_conditions(child)
