"""The catalog on each store (decision 026): product GET uncached and cached, and a filtered list.

For each store a server of its own (a fresh PostgreSQL database; for MongoDB also a SecantusDB process,
the dev dependency the tests use, with `emporium catalog mongo-init` run first), the same products
seeded through `POST /v1/products:bulk`, then:

- `get_product_uncached`: every product read once (each read misses the in-process cache);
- `get_product_cached`: the same paths again under closed-loop load (hits);
- `list_products_filtered`: `?price[gte]=..&price[lt]=..&limit=20`, as the main run's scenario.

SecantusDB is single-process Python and sorts matches in memory: its figures say what the adapter costs
on that server, not what a production MongoDB would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench import seed
from bench.common import ROOT, Process, create_database, drop_database, emporium_server, free_port
from bench.loadgen import get_load, percentile

SERVER_SETTINGS = {
    "CRON_ENABLED": "false",
    "EVENTS_DISPATCH": "false",
    "MIGRATE_ON_START": "false",
    "LOG_LEVEL": "warning",
    "RATE_LIMIT_PER_KEY": "1000000",
    "RATE_LIMIT_PER_ORG": "1000000",
}


def start_secantus(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    binary = Path(sys.executable).parent / "secantusd-py"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"mongodb://127.0.0.1:{port}/bench_catalog"


def mongo_init(database_url: str, catalog_url: str) -> None:
    """`emporium catalog mongo-init`, retried while the server is still starting (bounded)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "DATABASE_URL": database_url, "CATALOG_DATABASE_URL": catalog_url, "LOG_LEVEL": "warning"}  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "emporium.main", "catalog", "mongo-init"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"mongo-init failed: {done.stderr[-2000:]}")
        time.sleep(0.5)  # the server may not listen yet; bounded by the deadline


async def each_once(base_url: str, paths: list[str], auth: str, concurrency: int) -> dict[str, Any]:
    """Every path requested exactly once (so every read misses the cache), `concurrency` at a time."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    queue = list(paths)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers={"Authorization": auth}) as client:

        async def lane() -> None:
            while queue:
                path = queue.pop()
                began = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "name": "get_product_uncached",
        "requests": len(latencies),
        "concurrency": concurrency,
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "statuses": statuses,
    }


async def measure_store(
    store: str, server: str, work: Path, *, products: int, duration: float, warmup: float, tool: str
) -> dict[str, Any]:
    db_name, url = await create_database(server, f"emporium_bench_{store}")
    settings = dict(SERVER_SETTINGS)
    mongo: subprocess.Popen[bytes] | None = None
    app: Process | None = None
    try:
        if store == "mongodb":
            mongo, catalog_url = start_secantus(work / "secantus.log")
            await asyncio.to_thread(mongo_init, url, catalog_url)
            settings["CATALOG_DATABASE_URL"] = catalog_url
        app = emporium_server(url, work / f"server-{store}.log", free_port(), **settings).start()
        await asyncio.to_thread(app.wait_ready)
        _org_id, owner_key = seed.create_shop(url)
        async with httpx.AsyncClient(base_url=app.base_url, timeout=120) as http:
            storefront = await seed.storefront_key(http, owner_key)
            ids, seconds = await seed.bulk_products(http, owner_key, products)
        reads = f"Bearer {storefront}"
        paths = [f"/v1/products/{p}" for p in ids]
        uncached = await each_once(app.base_url, paths, reads, concurrency=8)
        cached = await get_load(
            "get_product_cached", app.base_url, paths, reads,
            concurrency=32, duration=duration, warmup=warmup, tool=tool,
        )  # fmt: skip
        lists = [f"/v1/products?price[gte]={lo}&price[lt]={lo + 2000}&limit=20" for lo in range(1000, 90_000, 1000)]
        listed = await get_load(
            "list_products_filtered", app.base_url, lists, reads,
            concurrency=8, duration=duration, warmup=warmup, tool=tool,
        )  # fmt: skip
        return {
            "products": len(ids),
            "seed_bulk_per_s": round(len(ids) / seconds, 1) if seconds else None,
            "get_product_uncached": uncached,
            "get_product_cached": cached.row(),
            "list_products_filtered": listed.row(),
        }
    finally:
        if app is not None:
            app.stop()
        if mongo is not None:
            mongo.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                mongo.wait(10)
        with contextlib.suppress(Exception):
            await drop_database(server, db_name)


async def measure(server: str, work: Path, *, quick: bool, duration: float, warmup: float, tool: str) -> dict[str, Any]:
    """Both stores, one after the other, with the same plan; a failure of one is reported, not fatal."""
    products = 300 if quick else 1_000  # SecantusDB upserts ~100 documents a second: seeding bounds this
    result: dict[str, Any] = {"products": products}
    for store in ("postgres", "mongodb"):
        try:
            result[store] = await measure_store(
                store, server, work, products=products, duration=duration, warmup=warmup, tool=tool
            )
        except Exception as error:  # reported in the results, the rest of the bench goes on
            result[store] = {"error": f"{type(error).__name__}: {error}"}
    return result


def table(result: dict[str, Any]) -> str:
    lines = ["catalog store            uncached GET rps/p99   cached GET rps/p99   filtered list rps/p99"]
    for store in ("postgres", "mongodb"):
        row = result.get(store, {})
        if "error" in row or not row:
            lines.append(f"{store:<24} {row.get('error', 'not run')}")
            continue
        u, c, f = row["get_product_uncached"], row["get_product_cached"], row["list_products_filtered"]
        lines.append(
            f"{store:<24} {u['rps']:>8} / {u['p99_ms']:>7} ms   {c['rps']:>7} / {c['p99_ms']:>6} ms"
            f"   {f['rps']:>7} / {f['p99_ms']:>6} ms"
        )
    return "\n".join(lines)
