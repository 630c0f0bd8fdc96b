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
    async with pg.transaction():
        await pg.execute("SET LOCAL enable_seqscan = off")  # the plan's shape, whatever the table's size now
        plan = json.loads(await pg.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", ["a", "b"], ["evt_1", "evt_2"]))
    conditions = list(_index_conditions(plan[0]["Plan"]))
    assert conditions, plan  # through the primary key's index (a plain or a bitmap index scan)
    assert all("consumer = ANY" in c and "event_id = ANY" in c for c in conditions), conditions


def _index_conditions(node: dict[str, Any]) -> Iterator[str]:
    if "Index Cond" in node:
        yield node["Index Cond"]
    for child in node.get("Plans", ()):
        yield from _index_conditions(child)
