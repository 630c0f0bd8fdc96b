"""`make bench`: measure Emporium against ceilings measured in the same run.

    .venv/bin/python -m bench.run [--quick] [--duration S] [--sweep 1,8,32,128] [--max-orders N] [--no-docs]

A fresh database `emporium_bench_<ts>` on the server in DATABASE_URL (else the embedded PostgreSQL),
`emporium serve` as a real process on a free loopback port, seeding through the API (products, stock)
and SQL (historical orders), then fixed-time runs after a warm-up. Results go to
bench/results/<ts>.json (+ a PNG) and a summary table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import report, seed
from bench.common import (
    ROOT,
    Process,
    create_database,
    drop_database,
    emporium_cli,
    emporium_server,
    free_port,
    machine,
    start_run,
)
from bench.loadgen import closed_loop, get_load, wrk_available

RESULTS = ROOT / "bench" / "results"
CEILINGS = ROOT / "bench" / "ceilings"


@dataclass
class Plan:
    quick: bool
    duration: float
    warmup: float
    list_duration: float
    read_concurrency: int
    sweep: list[int]
    main_concurrency: int
    products: int
    stocked: int
    order_steps: list[int]
    import_count: int
    workers: int
    pool_size: int
    log_level: str
    tool: str
    profile: bool
    docs: bool
    keep_db: bool
    notes: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, no 1M orders (about 1-2 minutes)")
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 15, quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each run (default 3, quick 1)")
    parser.add_argument("--sweep", default="1,8,32,128", help="checkout concurrency levels")
    parser.add_argument("--max-orders", type=int, help="largest order count for the growth curve (default 1M)")
    parser.add_argument("--import-count", type=int, help="products for `emporium catalog import` (default 20000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server WORKERS (default: cores)")
    parser.add_argument("--pool-size", type=int, default=10, help="server DB_POOL_SIZE")
    parser.add_argument("--log-level", default="info", help="server LOG_LEVEL (info writes one access line/request)")
    parser.add_argument("--no-wrk", action="store_true", help="use the httpx load generator even if wrk is installed")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy sample of a checkout run")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    max_orders = args.max_orders or (100_000 if quick else 1_000_000)
    steps = [n for n in (10_000, 100_000, 1_000_000) if n <= max_orders] or [max_orders]
    plan = Plan(
        quick=quick,
        duration=args.duration or (3.0 if quick else 15.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        list_duration=(args.duration or (2.0 if quick else 6.0)),
        read_concurrency=32,
        sweep=[int(x) for x in args.sweep.split(",") if x],
        main_concurrency=32,
        products=10_000,
        stocked=1_000,
        order_steps=steps,
        import_count=args.import_count or (2_000 if quick else 20_000),
        workers=args.workers,
        pool_size=args.pool_size,
        log_level=args.log_level,
        tool="wrk" if wrk_available() and not args.no_wrk else "httpx",
        profile=not args.no_profile,
        docs=not args.no_docs,
        keep_db=bool(args.keep_db),
    )
    if plan.main_concurrency not in plan.sweep:
        plan.main_concurrency = max(plan.sweep)
    if quick:
        plan.notes.append("--quick: 3 s runs, growth curve stops at 100,000 orders")
    return plan


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def granian(app: str, port: int, workers: int, log_path: Path) -> Process:
    """A ceiling app on Granian with the settings `emporium serve` uses (ASGI, uvloop, same workers)."""
    argv = [
        str(Path(sys.executable).parent / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        app,
    ]
    return Process(argv, {}, log_path, port, ready_path="/")


def pgbench(url: str, org_id: str, stocked: int, clients: int, seconds: float) -> dict[str, Any]:
    before = time.perf_counter()
    done = subprocess.run(
        [
            "pgbench",
            "-n",
            "-f",
            str(CEILINGS / "checkout.pgbench.sql"),
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(max(1, round(seconds))),
            "-D",
            f"org={org_id}",
            "-D",
            f"nskus={stocked}",
            "--max-tries=5",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    text = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{text}")
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    latency = re.search(r"latency average = ([0-9.]+) ms", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return {
        "clients": clients,
        "seconds": round(time.perf_counter() - before, 1),
        "tps": float(tps.group(1)) if tps else 0.0,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
    }


async def deep_cursor(conn: asyncpg.Connection, org_id: str, depth: int) -> str:
    from emporium.platform.pagination import encode_cursor

    row = await conn.fetchrow(
        'SELECT created_at, id FROM orders."order" WHERE org_id = $1 '
        "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
        org_id,
        depth,
    )
    assert row is not None
    return encode_cursor([row["created_at"].isoformat(), row["id"]])


async def list_orders_at(
    plan: Plan, base_url: str, conn: asyncpg.Connection, shop: seed.Shop, total: int
) -> dict[str, Any]:
    auth = f"Bearer {shop.owner_key}"
    count = int(await conn.fetchval('SELECT count(*) FROM orders."order" WHERE org_id = $1', shop.org_id))
    cursor = await deep_cursor(conn, shop.org_id, int(count * 0.9))
    first = await get_load(
        f"list_orders_first@{total}",
        base_url,
        ["/v1/orders?limit=50"],
        auth,
        concurrency=8,
        duration=plan.list_duration,
        warmup=plan.warmup,
        tool=plan.tool,
    )
    deep = await get_load(
        f"list_orders_deep@{total}",
        base_url,
        [f"/v1/orders?limit=50&cursor={cursor}"],
        auth,
        concurrency=8,
        duration=plan.list_duration,
        warmup=plan.warmup,
        tool=plan.tool,
    )
    async with httpx.AsyncClient(base_url=base_url) as http:  # the deep page really is a full page
        page = (await http.get(f"/v1/orders?limit=50&cursor={cursor}", headers={"Authorization": auth})).json()
    return {
        "orders": count,
        "deep_offset": int(count * 0.9),
        "deep_page_items": len(page.get("items", [])),
        "first": first.row(),
        "deep": deep.row(),
        "deep_over_first_p50": round(deep.p50_ms / first.p50_ms, 2) if first.p50_ms else None,
    }


async def event_lag(conn: asyncpg.Connection, since: datetime, until: datetime) -> dict[str, Any]:
    row = await conn.fetchrow(
        """
        SELECT count(*) AS events, count(delivered_at) AS delivered,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
                   (ORDER BY extract(epoch FROM delivered_at - occurred_at) * 1000) AS pcts,
               max(extract(epoch FROM delivered_at - occurred_at) * 1000) AS max_ms
        FROM platform.outbox
        WHERE name = 'orders.order_created' AND occurred_at >= $1 AND occurred_at < $2
        """,
        since,
        until,
    )
    assert row is not None
    pcts = row["pcts"] or [None, None, None]
    seconds = (until - since).total_seconds()
    return {
        "events": row["events"],
        "delivered": row["delivered"],
        "events_per_s": round(row["events"] / seconds, 1) if seconds > 0 else None,
        "lag_p50_ms": _round(pcts[0]),
        "lag_p95_ms": _round(pcts[1]),
        "lag_p99_ms": _round(pcts[2]),
        "lag_max_ms": _round(row["max_ms"]),
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


async def drain_outbox(conn: asyncpg.Connection, within: float) -> float:
    """Wait until every order_created event is delivered; returns the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        left = await conn.fetchval(
            "SELECT count(*) FROM platform.outbox WHERE name = 'orders.order_created' AND delivered_at IS NULL"
        )
        if left == 0:
            break
        await asyncio.sleep(0.2)  # polling the pipeline's progress
    return round(time.perf_counter() - started, 1)


def profile_workers(server: Process, seconds: float, out: Path) -> dict[str, Any]:
    """py-spy samples of every server process for `seconds`; returns where the time goes."""
    pyspy = Path(sys.executable).parent / "py-spy"
    children = [p for p in server.pids() if server.process is not None and p != server.process.pid]
    if not pyspy.exists() or not children:
        return {"skipped": "py-spy or server workers not found"}
    procs = [
        subprocess.Popen(
            [
                str(pyspy),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(round(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out.with_suffix(f".{pid}.txt")),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in children
    ]
    for proc in procs:
        proc.wait(seconds + 30)
    return report.summarize_profiles(sorted(out.parent.glob(out.name.replace(".txt", "") + ".*.txt")))


async def main(plan: Plan) -> dict[str, Any]:
    begun = await start_run("bench")
    started_at, stamp, work, server = begun.started_at, begun.stamp, begun.work, begun.server
    pg_version = begun.pg_version
    result: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "machine": machine(pg_version),
        "plan": {k: v for k, v in plan.__dict__.items() if k != "notes"},
        "notes": plan.notes,
        "command": "make bench" + (" ARGS=--quick" if plan.quick else ""),
        "database": "DATABASE_URL server" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL",
    }
    log(f"machine: {result['machine']}; load generator: {plan.tool}")
    db_name, url = await create_database(server, "emporium_bench")
    result["database_name"] = db_name
    settings = {
        "WORKERS": str(plan.workers),
        "DB_POOL_SIZE": str(plan.pool_size),
        "CRON_ENABLED": "false",
        "EVENTS_DISPATCH": "false",  # bench.event_worker delivers events in its own process
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": plan.log_level,
        # the bench measures throughput, not the per-key/per-org rate limits (their own tests do)
        "RATE_LIMIT_PER_KEY": "1000000",
        "RATE_LIMIT_PER_ORG": "1000000",
    }
    result["server_settings"] = settings
    port = free_port()
    app = emporium_server(url, work / "server.log", port, **settings).start()
    worker: Process | None = None
    conn = await asyncpg.connect(url)
    try:
        await asyncio.to_thread(app.wait_ready)
        log(f"emporium serve on {app.base_url} ({settings}); database {db_name}")
        org_id, owner_key = seed.create_shop(url)
        async with httpx.AsyncClient(base_url=app.base_url, timeout=60) as http:
            shop = seed.Shop(org_id, owner_key, await seed.storefront_key(http, owner_key))
            ids, seconds = await seed.bulk_products(http, owner_key, plan.products)
            result["seed_products_bulk_api"] = {
                "products": len(ids),
                "seconds": round(seconds, 1),
                "per_s": round(len(ids) / seconds, 1),
            }
            log(f"{len(ids)} products through POST /v1/products:bulk in {seconds:.1f}s")
            stocked = ids[: plan.stocked]
            await seed.restock(http, owner_key, stocked, 1_000_000)
        await seed.sku_table(conn, stocked)
        skus = [f"BENCH-{i:06d}" for i in range(plan.stocked)]

        growth: list[dict[str, Any]] = []
        have = 0
        for target in [n for n in plan.order_steps if n <= 100_000]:
            seconds = await seed.seed_orders(conn, org_id, ids[0], have, target)
            have = target
            log(f"seeded {target} orders with SQL ({seconds:.1f}s); listing")
            growth.append({**await list_orders_at(plan, app.base_url, conn, shop, target), "seed_s": round(seconds, 1)})

        reads = f"Bearer {shop.storefront_key}"
        product_paths = [f"/v1/products/{p}" for p in random.Random(5).sample(ids, 1000)]
        log("GET /v1/products/{id}")
        get_one = await get_load(
            "get_product_cached",
            app.base_url,
            product_paths,
            reads,
            concurrency=plan.read_concurrency,
            duration=plan.duration,
            warmup=plan.warmup,
            tool=plan.tool,
        )
        log("GET /v1/products with a filter")
        list_filtered = await get_load(
            "list_products_filtered",
            app.base_url,
            [f"/v1/products?price[gte]={lo}&price[lt]={lo + 2000}&limit=20" for lo in range(1000, 90_000, 1000)],
            reads,
            concurrency=plan.read_concurrency,
            duration=plan.duration,
            warmup=plan.warmup,
            tool=plan.tool,
        )

        ceilings: dict[str, Any] = {}
        for name, target_app in (
            ("bare_asgi", "bench.ceilings.bare_asgi:app"),
            ("fastapi_hello", "bench.ceilings.hello_fastapi:app"),
        ):
            log(f"ceiling {name}")
            ceiling = granian(target_app, free_port(), plan.workers, work / f"{name}.log").start()
            try:
                await asyncio.to_thread(ceiling.wait_ready)
                ceilings[name] = (
                    await get_load(
                        name,
                        ceiling.base_url,
                        ["/"],
                        "",
                        concurrency=plan.read_concurrency,
                        duration=plan.duration,
                        warmup=plan.warmup,
                        tool=plan.tool,
                    )
                ).row()
            finally:
                ceiling.stop()
        pg_runs = []
        for clients in sorted({8, plan.main_concurrency}):
            log(f"ceiling pgbench checkout transaction, {clients} clients")
            pg_runs.append(await asyncio.to_thread(pgbench, url, org_id, plan.stocked, clients, plan.duration))
        ceilings["pgbench_checkout"] = {"runs": pg_runs, "tps": max(r["tps"] for r in pg_runs)}
        await conn.execute("DELETE FROM platform.outbox WHERE id LIKE 'evt_pgb%'")

        worker = Process(
            [sys.executable, "-m", "bench.event_worker"], {"DATABASE_URL": url}, work / "event_worker.log", 0, None
        ).start()
        sweep: list[dict[str, Any]] = []
        for clients in plan.sweep:
            log(f"POST /v1/orders, {clients} clients")
            since = datetime.now(UTC)
            run = await closed_loop(
                f"checkout@{clients}",
                app.base_url,
                seed.checkout_maker(shop.storefront_key, skus),
                concurrency=clients,
                duration=plan.duration,
                warmup=plan.warmup,
                ok=lambda status: status == 201,
            )
            until = datetime.now(UTC)
            sweep.append({**run.row(), "window": [since.isoformat(), until.isoformat()]})
        drained = await drain_outbox(conn, 120)
        main_run = next(r for r in sweep if r["concurrency"] == plan.main_concurrency)
        events = await event_lag(
            conn, datetime.fromisoformat(main_run["window"][0]), datetime.fromisoformat(main_run["window"][1])
        )
        events["drain_after_sweep_s"] = drained
        events["all_sweep"] = await event_lag(
            conn, datetime.fromisoformat(sweep[0]["window"][0]), datetime.fromisoformat(sweep[-1]["window"][1])
        )
        log(f"event pipeline: {events}")

        profile: dict[str, Any] = {"skipped": "--no-profile"}
        profile_get: dict[str, Any] = {"skipped": "--no-profile"}
        if plan.profile:
            log("py-spy sample of a GET /v1/products/{id} run")
            seconds = min(plan.duration, 8.0)
            load = asyncio.create_task(
                get_load(
                    "get_profiled",
                    app.base_url,
                    product_paths,
                    reads,
                    concurrency=plan.read_concurrency,
                    duration=seconds + 2,
                    warmup=0,
                    tool=plan.tool,
                )
            )
            await asyncio.sleep(1)  # let the profiled run reach steady state
            profile_get = await asyncio.to_thread(profile_workers, app, seconds, work / "profile-get.txt")
            await load
            log("py-spy sample of a checkout run")
            maker = seed.checkout_maker(shop.storefront_key, skus)
            seconds = min(plan.duration, 8.0)
            load = asyncio.create_task(
                closed_loop(
                    "checkout_profiled",
                    app.base_url,
                    maker,
                    concurrency=plan.main_concurrency,
                    duration=seconds + 2,
                    warmup=0.5,
                    ok=lambda status: status == 201,
                )
            )
            await asyncio.sleep(1)  # let the profiled run reach steady state
            profile = await asyncio.to_thread(profile_workers, app, seconds, work / "profile.txt")
            await load

        log(f"emporium catalog import of {plan.import_count} products")
        path = seed.import_file(work / "import.jsonl", plan.import_count)
        t0 = time.perf_counter()
        await asyncio.to_thread(emporium_cli, url, "catalog", "import", str(path), "--org", org_id)
        import_s = time.perf_counter() - t0
        catalog_import = {
            "products": plan.import_count,
            "wall_s": round(import_s, 1),
            "per_s": round(plan.import_count / import_s, 1),
            "note": "wall time of the whole command, including process start and migration check",
        }

        for target in [n for n in plan.order_steps if n > 100_000]:
            log(f"seeding up to {target} orders with SQL")
            seconds = await seed.seed_orders(conn, org_id, ids[0], have, target)
            have = target
            growth.append({**await list_orders_at(plan, app.base_url, conn, shop, target), "seed_s": round(seconds, 1)})
    finally:
        await conn.close()
        if worker is not None:
            worker.stop()
        app.stop()
        if not plan.keep_db:
            with contextlib.suppress(Exception):
                await drop_database(server, db_name)

    result.update(
        {
            "finished_at": datetime.now(UTC).isoformat(),
            "scenarios": {
                "get_product_cached": get_one.row(),
                "list_products_filtered": list_filtered.row(),
                "checkout": main_run,
                "events": events,
            },
            "ceilings": ceilings,
            "checkout_sweep": sweep,
            "list_orders_growth": growth,
            "catalog_import": catalog_import,
            "profile_checkout": profile,
            "profile_get_product": profile_get,
        }
    )
    result["ratios"] = report.ratios(result)
    result["targets"] = report.targets(result)
    out = RESULTS / f"{stamp}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    chart = report.chart(result, RESULTS / f"{stamp}-checkout-latency.png")
    result["chart"] = str(chart.relative_to(ROOT)) if chart else None
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"results: {out.relative_to(ROOT)}")
    if plan.docs:
        report.write_docs(result, out.relative_to(ROOT), ROOT / "docs" / "performance.md")
        log("docs/performance.md updated")
    print(report.table(result))
    return result


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
