"""`make bench`: measure Emporium against ceilings measured in the same run.

    .venv/bin/python -m bench.run [--quick] [--duration S] [--sweep 1,8,32,128] [--max-orders N] [--no-docs]
                                  [--only reporting | --skip reporting]

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
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import backlog, catalog_stores, lambda_cold_start, one_checkout, report, reporting_rebuild, request_log, seed
from bench.common import (
    ROOT,
    Process,
    create_database,
    drop_database,
    emporium_cli,
    emporium_server,
    free_port,
    machine,
    server_settings,
    start_run,
)
from bench.loadgen import Result, closed_loop, get_load, wrk_available

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
    backlog_steps: list[int]
    reference_sweep: list[int]
    workers: int
    pool_size: int
    log_level: str
    tool: str
    profile: bool
    docs: bool
    keep_db: bool
    notes: list[str] = field(default_factory=list)
    only: str | None = None  # run only this section ("reporting")
    skip: tuple[str, ...] = ()  # sections left out ("reporting")


def _default_backlog_steps(quick: bool) -> str:
    return "10000,100000,300000" if quick else "10000,1000000,10000000"


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, no 1M orders (about 1-2 minutes)")
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 15, quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each run (default 3, quick 1)")
    parser.add_argument("--sweep", help="checkout concurrency levels (default 1,8,32,128; quick 1,8,32)")
    parser.add_argument("--max-orders", type=int, help="largest order count for the growth curve (default 1M)")
    parser.add_argument("--import-count", type=int, help="products for `emporium catalog import` (default 20000)")
    parser.add_argument("--backlog-steps", help="undelivered events to time the backlog sample at (default 10k,1M,10M)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server WORKERS (default: cores)")
    parser.add_argument("--pool-size", type=int, default=10, help="server DB_POOL_SIZE")
    parser.add_argument("--log-level", default="info", help="server LOG_LEVEL (info writes one access line/request)")
    parser.add_argument("--no-wrk", action="store_true", help="use the httpx load generator even if wrk is installed")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy sample of a checkout run")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--only", choices=["reporting"], help="run only this section (reporting: live vs rebuild)")
    parser.add_argument("--skip", action="append", choices=["reporting"], default=[], help="leave a section out")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    max_orders = args.max_orders or (10_000 if quick else 1_000_000)
    steps = [n for n in (10_000, 100_000, 1_000_000) if n <= max_orders] or [max_orders]
    plan = Plan(
        quick=quick,
        duration=args.duration or (3.0 if quick else 15.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        list_duration=(args.duration or (2.0 if quick else 6.0)),
        read_concurrency=32,
        sweep=[int(x) for x in (args.sweep or ("1,8,32" if quick else "1,8,32,128")).split(",") if x],
        main_concurrency=32,
        products=2_000 if quick else 10_000,
        stocked=1_000,
        order_steps=steps,
        import_count=args.import_count or (2_000 if quick else 20_000),
        backlog_steps=[int(x) for x in (args.backlog_steps or _default_backlog_steps(quick)).split(",") if x],
        reference_sweep=[1, 8, 32],
        workers=args.workers,
        pool_size=args.pool_size,
        log_level=args.log_level,
        tool="wrk" if wrk_available() and not args.no_wrk else "httpx",
        profile=not args.no_profile and not quick,
        docs=not args.no_docs,
        keep_db=bool(args.keep_db),
        only=args.only,
        skip=tuple(args.skip),
    )
    if plan.main_concurrency not in plan.sweep:
        plan.main_concurrency = max(plan.sweep)
    if quick:
        plan.notes.append(
            "--quick: 3 s runs, 2,000 products, checkout sweep 1/8/32, growth curve at 10,000 orders only, "
            "no py-spy profiles, backlog sample timed up to 300k events (not 10M)"
        )
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


def reference_server(url: str, org_id: str, port: int, workers: int, pool_size: int, log_path: Path) -> Process:
    """The hand-written reference checkout (`bench/reference/app.py`) on Granian, as the ceilings are served."""
    process = granian("bench.reference.app:app", port, workers, log_path)
    process.env.update({"REFERENCE_DATABASE_URL": url, "REFERENCE_ORG_ID": org_id, "DB_POOL_SIZE": str(pool_size)})
    return process


async def with_server_cpu(server: Process, warmup: float, run: Awaitable[Result]) -> dict[str, Any]:
    """`run`'s row plus the server group's CPU over the measured window (after the warm-up), per good answer.

    The window opens `warmup` seconds after the run starts, as the load generators' own windows do.
    """
    marks: list[tuple[float, float]] = []

    async def mark() -> None:
        await asyncio.sleep(warmup)  # the measured window starts here
        marks.append(server.cpu_times())

    marker = asyncio.create_task(mark())
    result = await run
    await marker
    (user_before, system_before), (user_after, system_after) = marks[0], server.cpu_times()
    user, system = user_after - user_before, system_after - system_before
    used = user + system
    row = result.row()
    good = result.requests - result.errors
    row["server_cpu_ms_per_ok"] = round(used * 1000 / good, 3) if good else None
    row["server_user_ms_per_ok"] = round(user * 1000 / good, 3) if good else None
    row["server_system_ms_per_ok"] = round(system * 1000 / good, 3) if good else None
    row["server_cpu_pct"] = round(used / max(result.duration_s, 1e-9) * 100, 1)
    return row


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


def checkout_run(
    plan: Plan, name: str, server: Process, shop: seed.Shop, skus: list[str], clients: int
) -> Awaitable[Result]:
    """`clients` closed-loop buyers of 1-3 stocked SKUs through `POST /v1/orders` on `server`; only 201 counts."""
    return closed_loop(
        name,
        server.base_url,
        seed.checkout_maker(shop.storefront_key, skus),
        concurrency=clients,
        duration=plan.duration,
        warmup=plan.warmup,
        ok=lambda status: status == 201,
    )


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
    # bench.event_worker delivers the events in its own process
    settings = server_settings(plan.workers, plan.pool_size, plan.log_level)
    result["server_settings"] = settings
    port = free_port()
    app = emporium_server(url, work / "server.log", port, **settings).start()
    worker: Process | None = None
    conn = await asyncpg.connect(url)
    from emporium.platform.db.engine import Database

    outbox_db = Database(url, application_name="bench-outbox-reader")
    scenario_outbox: list[dict[str, Any]] = []
    background: dict[str, Any] = {"run_started": time.perf_counter()}

    async def after(scenario: str) -> None:
        """The outbox at the end of a scenario, then drained by the event worker before the next one."""
        at_end = await backlog.state(outbox_db)
        scenario_outbox.append({"scenario": scenario, **at_end, "drained_in_s": await backlog.drain(outbox_db, 120)})

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
        # Events are delivered throughout, as in production (the server runs with EVENTS_DISPATCH=false and
        # this worker, the code of `emporium worker`, consumes them); each scenario ends with the outbox drained.
        worker = Process(
            [sys.executable, "-m", "bench.event_worker"], {"DATABASE_URL": url}, work / "event_worker.log", 0, None
        ).start()
        await after("seed")

        growth: list[dict[str, Any]] = []
        have = 0
        for target in [n for n in plan.order_steps if n <= 100_000]:
            seconds = await seed.seed_orders(conn, org_id, ids[0], have, target)
            have = target
            log(f"seeded {target} orders with SQL ({seconds:.1f}s); listing")
            growth.append({**await list_orders_at(plan, app.base_url, conn, shop, target), "seed_s": round(seconds, 1)})
            await after(f"list_orders@{target}")

        reads = f"Bearer {shop.storefront_key}"
        product_paths = [f"/v1/products/{p}" for p in random.Random(5).sample(ids, 1000)]
        log("GET /v1/products/{id}")
        get_one = await with_server_cpu(
            app,
            plan.warmup,
            get_load(
                "get_product_cached",
                app.base_url,
                product_paths,
                reads,
                concurrency=plan.read_concurrency,
                duration=plan.duration,
                warmup=plan.warmup,
                tool=plan.tool,
            ),
        )
        await after("get_product_cached")
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
        await after("list_products_filtered")

        ceilings: dict[str, Any] = {}
        for name, target_app in (
            ("bare_asgi", "bench.ceilings.bare_asgi:app"),
            ("fastapi_hello", "bench.ceilings.hello_fastapi:app"),
        ):
            log(f"ceiling {name}")
            ceiling = granian(target_app, free_port(), plan.workers, work / f"{name}.log").start()
            try:
                await asyncio.to_thread(ceiling.wait_ready)
                ceilings[name] = await with_server_cpu(
                    ceiling,
                    plan.warmup,
                    get_load(
                        name,
                        ceiling.base_url,
                        ["/"],
                        "",
                        concurrency=plan.read_concurrency,
                        duration=plan.duration,
                        warmup=plan.warmup,
                        tool=plan.tool,
                    ),
                )
            finally:
                ceiling.stop()
        pg_runs = []
        for clients in sorted({8, plan.main_concurrency}):
            log(f"ceiling pgbench checkout transaction, {clients} clients")
            pg_runs.append(await asyncio.to_thread(pgbench, url, org_id, plan.stocked, clients, plan.duration))
        ceilings["pgbench_checkout"] = {"runs": pg_runs, "tps": max(r["tps"] for r in pg_runs)}
        # The ceiling's synthetic events are not the application's: taken out rather than delivered.
        await conn.execute("DELETE FROM platform.outbox WHERE id LIKE 'evt_pgb%'")
        await after("pgbench_checkout")

        sweep: list[dict[str, Any]] = []
        for clients in plan.sweep:
            log(f"POST /v1/orders, {clients} clients")
            since = datetime.now(UTC)
            row = await with_server_cpu(
                app, plan.warmup, checkout_run(plan, f"checkout@{clients}", app, shop, skus, clients)
            )
            until = datetime.now(UTC)
            sweep.append({**row, "window": [since.isoformat(), until.isoformat()]})
            await after(f"checkout@{clients}")
        drained = scenario_outbox[-1]["drained_in_s"]

        reference: list[dict[str, Any]] = []
        ref = reference_server(url, org_id, free_port(), plan.workers, plan.pool_size, work / "reference.log").start()
        try:
            await asyncio.to_thread(ref.wait_ready)
            for clients in plan.reference_sweep:
                log(f"reference checkout (bench/reference), {clients} clients")
                reference.append(
                    await with_server_cpu(
                        ref, plan.warmup, checkout_run(plan, f"reference@{clients}", ref, shop, skus, clients)
                    )
                )
                await after(f"reference@{clients}")
        finally:
            ref.stop()
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
            await after("checkout_profiled")

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
        await after("catalog_import")

        for target in [n for n in plan.order_steps if n > 100_000]:
            log(f"seeding up to {target} orders with SQL")
            seconds = await seed.seed_orders(conn, org_id, ids[0], have, target)
            have = target
            growth.append({**await list_orders_at(plan, app.base_url, conn, shop, target), "seed_s": round(seconds, 1)})
            await after(f"list_orders@{target}")

        # The same checkout run as the sweep's headline, at the end of the long run (issue 21: no slower).
        log(f"POST /v1/orders again at the end, {plan.main_concurrency} clients")
        checkout_last = await with_server_cpu(
            app, plan.warmup, checkout_run(plan, "checkout_last", app, shop, skus, plan.main_concurrency)
        )
        await after("checkout_last")
    finally:
        await outbox_db.dispose()
        await conn.close()
        if worker is not None:
            # Its CPU over the whole run: the consumer shares the two cores with every scenario.
            background["event_worker_cpu_s"] = round(worker.cpu_seconds(), 1)
            worker.stop()
        app.stop()
        if not plan.keep_db:
            with contextlib.suppress(Exception):
                await drop_database(server, db_name)

    log("one checkout, counted (in-process measuring run on its own database)")
    try:
        one = await one_checkout.measure(server, work, pg_stat_database=not plan.quick)
    except Exception as error:  # a measuring failure is reported, not fatal to the rest of the run
        one = {"error": f"{type(error).__name__}: {error}"}
    log(f"one checkout: {one.get('checkout', one)}")
    log("Lambda cold start and warm invoke (awslambdaric against a Runtime API stub)")
    try:
        lambda_figures = await lambda_cold_start.measure(
            server, work, colds=2 if plan.quick else 3, warms=50 if plan.quick else 200
        )
    except Exception as error:
        lambda_figures = {"error": f"{type(error).__name__}: {error}"}
    log("API request log: the request path with and without its buffer (in-process, no network)")
    try:
        request_log_cost = await request_log.measure()
    except Exception as error:
        request_log_cost = {"error": f"{type(error).__name__}: {error}"}
    log(f"request log: {request_log_cost}")
    log(f"backlog sample cost at {plan.backlog_steps} undelivered events")
    try:
        backlog_cost = await backlog.cost_at(server, plan.backlog_steps, log)
    except Exception as error:
        backlog_cost = {"error": f"{type(error).__name__}: {error}"}
    reporting = {} if "reporting" in plan.skip else await reporting_rebuild.run(server, quick=plan.quick)

    log("catalog on each store: product GET uncached and cached, filtered list (PostgreSQL, MongoDB)")
    try:
        stores = await catalog_stores.measure(
            server, work, quick=plan.quick, duration=plan.duration, warmup=plan.warmup, tool=plan.tool
        )
    except Exception as error:
        stores = {"error": f"{type(error).__name__}: {error}"}
    log("\n" + catalog_stores.table(stores) if "error" not in stores else f"catalog stores: {stores['error']}")

    result.update(
        {
            "finished_at": datetime.now(UTC).isoformat(),
            "load_average_at_end": os.getloadavg(),
            "scenarios": {
                "get_product_cached": get_one,
                "list_products_filtered": list_filtered.row(),
                "checkout": main_run,
                "events": events,
            },
            "ceilings": ceilings,
            "checkout_sweep": sweep,
            "reference_sweep": reference,
            "checkout_first_vs_last": {
                "first": main_run,
                "last": checkout_last,
                "last_over_first": round(checkout_last["rps"] / main_run["rps"], 3) if main_run["rps"] else None,
            },
            "outbox_after_scenarios": scenario_outbox,
            "event_worker": {
                "cpu_s": background.get("event_worker_cpu_s"),
                "run_wall_s": round(time.perf_counter() - background["run_started"], 1),
            },
            "one_checkout": one,
            "lambda": lambda_figures,
            "request_log": request_log_cost,
            "backlog_cost": backlog_cost,
            "reporting_rebuild": reporting,
            "list_orders_growth": growth,
            "catalog_import": catalog_import,
            "catalog_stores": stores,
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
        if "error" not in lambda_figures:
            lambda_cold_start.write_docs(lambda_figures, ROOT / "docs" / "performance.md", result["command"])
        if reporting:
            reporting_rebuild.write_docs(reporting, result["finished_at"], pg_version)
        log("docs/performance.md updated")
    print(report.table(result))
    if "error" not in stores:
        print(catalog_stores.table(stores))
    if reporting:
        print(reporting_rebuild.table(reporting))
        reporting_rebuild.check(reporting)  # reports that differ fail the bench, after everything is written
    return result


if __name__ == "__main__":
    chosen = parse_args()
    if chosen.only == "reporting":
        asyncio.run(reporting_rebuild.alone(quick=chosen.quick, docs=chosen.docs))
    else:
        asyncio.run(main(chosen))
