"""The quoted reservation reads the catalog by index, whatever the catalog's size: as a prepared statement's
generic plan (what asyncpg runs after five executions), with 20,000 products, it locks and updates the
two lines' rows by index and never scans the inventory.

A deferred write of several rows that joins the catalog must say how many rows it brings: `unnest` of a
bind is guessed at 10 rows, `json_to_recordset` at 100, which tips this join into a hash join over a
sequential scan of every inventory row (decision 044)."""

from __future__ import annotations

import json

import asyncpg

from emporium.modules.catalog.services import RESERVE_AT_COMMIT
from emporium.platform.ids import new_id

_BINDS = ("product_ids", "skus", "names", "prices", "currencies", "qtys", "org")
PRODUCTS = 20_000


def _plan_nodes(plan: dict[str, object]) -> list[dict[str, object]]:
    nodes = [plan]
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        nodes.extend(_plan_nodes(child))
    return nodes


async def test_the_generic_plan_of_the_quoted_reservation_scans_no_inventory(pg: asyncpg.Connection) -> None:
    org = new_id("org")
    sql = RESERVE_AT_COMMIT.sql
    for n, name in enumerate(_BINDS, start=1):
        sql = sql.replace(f":{name}", f"${n}")
    await pg.execute("INSERT INTO identity.org (id, name) VALUES ($1, 'plan probe')", org)
    try:
        await pg.execute(
            """
            INSERT INTO catalog.product (id, org_id, sku, name, price_amount, price_currency)
            SELECT $1 || '_' || g, $1, 'PLAN-' || g, 'Plan ' || g, 1000 + g, 'EUR' FROM generate_series(1, $2::int) g;
            """,
            org,
            PRODUCTS,
        )
        await pg.execute(
            "INSERT INTO catalog.inventory (product_id, org_id, on_hand) "
            "SELECT id, org_id, 100 FROM catalog.product WHERE org_id = $1",
            org,
        )
        await pg.execute("ANALYZE catalog.inventory, catalog.product")  # the planner knows the 20,000 rows
        await pg.execute(f"PREPARE reserve_probe AS {sql}")
        await pg.execute("SET plan_cache_mode = force_generic_plan")
        try:
            explained = await pg.fetchval(  # EXECUTE takes literals only (ids and names here are plain)
                f"EXPLAIN (FORMAT JSON) EXECUTE reserve_probe('{{{org}_5,{org}_9}}', '{{PLAN-5,PLAN-9}}', "
                f"'{{\"Plan 5\",\"Plan 9\"}}', '{{1005,1009}}', '{{EUR,EUR}}', '{{1,1}}', '{org}')"
            )
        finally:
            await pg.execute("RESET plan_cache_mode")
            await pg.execute("DEALLOCATE reserve_probe")
        nodes = _plan_nodes(json.loads(explained)[0]["Plan"])
        scanned = {(node.get("Node Type"), node.get("Relation Name")) for node in nodes}
        assert ("Seq Scan", "inventory") not in scanned, scanned
        assert ("Seq Scan", "product") not in scanned, scanned
        assert ("Index Scan", "inventory") in scanned, scanned
    finally:
        await pg.execute("DELETE FROM catalog.inventory WHERE org_id = $1", org)
        await pg.execute("DELETE FROM catalog.product WHERE org_id = $1", org)
        await pg.execute("DELETE FROM identity.org WHERE id = $1", org)
