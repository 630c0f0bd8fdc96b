"""Overload: offer several times the measured checkout capacity to one `emporium serve` and report what
the accepted requests, the shed ones and the recovery look like.

1. A fresh database and one `emporium serve` with a small concurrency limit (`SHED_MAX_CONCURRENT`).
2. Unloaded: one closed-loop client for a while -> the unloaded p50/p99.
3. Capacity: closed-loop clients filling exactly the admitted slots (limit x workers) -> orders/s.
4. Overload: open-loop (Poisson) arrivals at `--factor` x capacity, latency counted from when each
   request was due.
5. Recovery: one client again, from the moment the load stops.

Figures are reported against targets, never asserted (`tests/e2e/test_overload.py` asserts the
behaviour). Writes `bench/results/<ts>-overload.json` and the overload section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import report, seed
from bench.common import (
    ROOT,
    create_database,
    drop_database,
    emporium_server,
    free_port,
    machine,
    server_settings,
    start_run,
)
from bench.loadgen import Answer, MakeRequest, closed_loop, open_loop, percentile

RESULTS = ROOT / "bench" / "results"
BEGIN = "<!-- overload:begin (written by `make overload`; edit bench/overload.py instead) -->"
END = "<!-- overload:end -->"
STOCKED = 200


def log(message: str) -> None:
    print(f"[overload {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make overload", description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="server WORKERS (default 1: one worker's limit)")
    parser.add_argument("--limit", type=int, default=2, help="SHED_MAX_CONCURRENT per worker (default 2)")
    parser.add_argument(
        "--adaptive",
        type=float,
        metavar="SECONDS",
        help="SHED_ADAPTIVE=true with this SHED_LATENCY_TARGET; --limit is then the ceiling it moves under",
    )
    parser.add_argument(
        "--capacity-clients", type=int, help="closed-loop clients of the capacity run (default: limit x workers)"
    )
    parser.add_argument("--pool-size", type=int, default=10, help="server DB_POOL_SIZE")
    parser.add_argument("--factor", type=float, default=5.0, help="offered load / measured capacity (default 5)")
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of the unloaded and capacity runs")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of overload")
    parser.add_argument("--recovery", type=float, default=15.0, help="seconds probed after the load stops")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def latency_summary(values_ms: list[float]) -> dict[str, Any]:
    values = sorted(values_ms)
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(values[-1], 1),
    }


def summarize_overload(answers: list[Answer], duration: float) -> dict[str, Any]:
    statuses = Counter(a.status for a in answers)
    shed = [a for a in answers if a.status == "503"]
    well_formed = [
        a for a in shed if a.content_type == "application/problem+json" and a.code == "overloaded" and a.retry_after
    ]
    return {
        "offered": len(answers),
        "offered_per_s": round(len(answers) / duration, 1),
        "statuses": dict(statuses),
        "accepted": latency_summary([a.latency_ms for a in answers if a.status == "201"]),
        "accepted_per_s": round(statuses["201"] / duration, 1),
        "shed": latency_summary([a.latency_ms for a in shed]),
        "shed_well_formed": len(well_formed),
        "generator_late": latency_summary([a.late_ms for a in answers]),
        "failures": sum(n for status, n in statuses.items() if status not in ("201", "503")),
    }


async def probe_recovery(base_url: str, make: MakeRequest, seconds: float, normal_ms: float) -> dict[str, Any]:
    """One client from the moment the load stopped: when was the first normal answer (201 within `normal_ms`)?"""
    samples: list[tuple[float, float, int]] = []
    rng = random.Random(11)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while time.perf_counter() - started < seconds:
            method, path, headers, body = make(rng)
            t0 = time.perf_counter()
            response = await http.request(method, path, headers=headers, json=body)
            samples.append((t0 - started, (time.perf_counter() - t0) * 1000, response.status_code))
    normal = [at for at, ms, status in samples if status == 201 and ms <= normal_ms]
    return {
        "first_normal_after_s": round(normal[0], 2) if normal else None,
        "answers": len(samples),
        "statuses": dict(Counter(str(s) for _, _, s in samples)),
        **latency_summary([ms for _, ms, status in samples if status == 201]),
    }


def server_durations(log_path: Path, status: int) -> list[float]:
    """The server's own duration_ms of the answers with `status`, from its JSON access log."""
    durations = []
    for line in log_path.read_text(errors="replace").splitlines():
        if f'"status": {status}' in line and '"event": "request"' in line:
            with contextlib.suppress(ValueError, KeyError):
                durations.append(float(json.loads(line)["duration_ms"]))
    return durations


def verdicts(r: dict[str, Any]) -> list[dict[str, Any]]:
    unloaded_p99 = r["unloaded"]["p99_ms"]
    overload = r["overload"]
    accepted_p99 = overload["accepted"].get("p99_ms")
    shed_p99 = overload["shed"].get("p99_ms")
    recovered = r["recovery"]["first_normal_after_s"]
    failures = overload["failures"]
    ratio = round(accepted_p99 / unloaded_p99, 2) if accepted_p99 and unloaded_p99 else None
    return [
        {"target": "accepted p99 within 2x the unloaded p99", "measured": ratio, "met": bool(ratio and ratio <= 2)},
        {
            "target": "shed requests answered 503 within 10 ms (p99, at the client)",
            "measured": shed_p99,
            "met": (shed_p99 or 0) <= 10,
        },
        {"target": "no answer other than 201 or 503", "measured": failures, "met": not failures},
        {
            "target": "every 503 is problem+json `overloaded` with Retry-After",
            "measured": f"{overload['shed_well_formed']}/{overload['shed'].get('count', 0)}",
            "met": overload["shed_well_formed"] == overload["shed"].get("count", 0),
        },
        {"target": "server alive after the overload", "measured": r["alive"], "met": r["alive"]},
        {
            "target": "back to normal within 30 s after the load drops",
            "measured": recovered,
            "met": recovered is not None and recovered <= 30,
        },
    ]


def _row(name: str, offered: str, per_s: float, run: dict[str, Any]) -> str:
    return (
        f"| {name} | {offered} | {per_s:,.1f} | {run.get('p50_ms', '-')} | {run.get('p99_ms', '-')} "
        f"| {run.get('max_ms', '-')} |"
    )


def section(r: dict[str, Any], result_path: Path) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in r["server_settings"].items())
    unloaded, capacity, overload, recovery = r["unloaded"], r["capacity"], r["overload"], r["recovery"]
    statuses = ", ".join(f"{status}: {n:,}" for status, n in sorted(overload["statuses"].items()))
    shed_per_s = overload["shed"].get("count", 0) / r["duration"]
    lines = [
        BEGIN,
        "## Overload (`make overload`)",
        "",
        f"Run {r['started_at'][:19]}Z on {report.machine_line(r)}. Server: one `emporium serve` ({settings}). "
        f"Checkout (`POST /v1/orders`, 1-3 lines, `tok_success`) from an httpx generator on the same machine "
        f"(its CPU during the overload: {r['overload_client_cpu_pct']:.0f} % of a core). Raw results: "
        f"`{result_path}`.",
        "",
        "| Phase | offered | answered/s | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        _row("unloaded: 1 client", "closed loop", unloaded["rps"], unloaded),
        _row(
            f"capacity: {capacity['concurrency']} clients",
            "closed loop",
            r["capacity_per_s"],
            capacity,
        ),
        _row(
            f"overload, accepted ({r['factor']:g}x capacity)",
            f"{overload['offered_per_s']:,.1f}/s",
            overload["accepted_per_s"],
            overload["accepted"],
        ),
        _row("overload, shed: 503 at the client", "", shed_per_s, overload["shed"]),
        _row("overload, shed: 503 in the server (access log)", "", shed_per_s, r["server_shed"]),
        _row("after the load drops: 1 client", "closed loop", recovery["answers"] / r["recovery_s"], recovery),
        "",
        f"Overload answers: {statuses}. Latency under overload counts from when each request was due "
        "(open loop, Poisson arrivals), so a generator falling behind would show here rather than hide.",
        "",
        "Targets (reported, not asserted; `tests/e2e/test_overload.py` asserts the behaviour):",
        "",
        *(f"- {'met' if v['met'] else '**missed**'}: {v['target']} — measured {v['measured']}" for v in r["verdicts"]),
        "",
        "Reproduce: `make overload` (`ARGS=--help` for the knobs; `DATABASE_URL` names a server, as for `make bench`).",
        END,
    ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    begun = await start_run("overload")
    started_at, stamp, work, server = begun.started_at, begun.stamp, begun.work, begun.server
    pg_version = begun.pg_version
    db_name, url = await create_database(server, "emporium_overload")
    settings = {**server_settings(args.workers, args.pool_size), "SHED_MAX_CONCURRENT": str(args.limit)}
    if args.adaptive is not None:
        settings |= {"SHED_ADAPTIVE": "true", "SHED_LATENCY_TARGET": str(args.adaptive)}
    result: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "machine": machine(pg_version),
        "database": "DATABASE_URL server" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL",
        "server_settings": settings,
        "factor": args.factor,
        "duration": args.duration,
        "recovery_s": args.recovery,
        "command": "make overload",
    }
    app = emporium_server(url, work / "server.log", free_port(), **settings).start()
    try:
        await asyncio.to_thread(app.wait_ready)
        shop, _ = await seed.stocked_shop(url, app.base_url, STOCKED, restock_concurrency=1)  # under the small limit
        make = seed.checkout_maker(shop.storefront_key, [f"BENCH-{i:06d}" for i in range(STOCKED)])
        created = lambda status: status == 201  # noqa: E731

        log(f"unloaded: 1 client, {args.baseline:g} s")
        unloaded = await closed_loop("unloaded", app.base_url, make, concurrency=1, duration=args.baseline, warmup=3)
        slots = args.capacity_clients or args.limit * args.workers
        log(f"capacity: {slots} clients, {args.baseline:g} s")
        capacity = await closed_loop(
            "capacity", app.base_url, make, concurrency=slots, duration=args.baseline, warmup=2, ok=created
        )
        capacity_per_s = (capacity.requests - capacity.errors) / args.baseline
        rate = args.factor * capacity_per_s
        log(f"capacity {capacity_per_s:.1f} orders/s; overload: {rate:.1f} req/s for {args.duration:g} s")
        answers, client_cpu = await open_loop(app.base_url, make, rate=rate, duration=args.duration)
        alive = app.process is not None and app.process.poll() is None
        log("load stopped; probing recovery")
        recovery = await probe_recovery(app.base_url, make, args.recovery, 2 * unloaded.p99_ms)
    finally:
        app.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                await drop_database(server, db_name)
    result.update(
        {
            "finished_at": datetime.now(UTC).isoformat(),
            "unloaded": unloaded.row(),
            "capacity": capacity.row(),
            "capacity_per_s": round(capacity_per_s, 1),
            "overload": summarize_overload(answers, args.duration),
            "overload_client_cpu_pct": round(client_cpu, 1),
            "alive": alive,
            "recovery": recovery,
            "server_shed": latency_summary(server_durations(work / "server.log", 503)),
        }
    )
    result["verdicts"] = verdicts(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}-overload.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = section(result, out.relative_to(ROOT))
    if not args.no_docs:
        report.replace_section(ROOT / "docs" / "performance.md", BEGIN, END, text)
        log("docs/performance.md updated")
    print(text)
    return result


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
