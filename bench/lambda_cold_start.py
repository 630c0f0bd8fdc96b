"""Lambda cold start and warm invoke, measured with AWS's runtime client (`awslambdaric`) as the function's
process, against the Runtime API stub on loopback (bench/lambda_runtime.py).

- cold: from starting the process (interpreter, imports, the first invocation opening the pool and the
  runtime) to the first answer, over `--colds` fresh processes;
- warm: the stub's time from handing an event out to the answer, over `--warms` invocations of one process.

HTTP: `GET /readyz` (one query on the pool) and `GET /v1/orders?limit=20` with an API key (authentication,
a cached principal, one list query). Consumer: one SQS record with an `orders.order_paid` v2 envelope, so an
invoice is numbered, rendered and stored each time (filesystem storage).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.lambda_cold_start [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, create_database, drop_database, server_url
from bench.lambda_runtime import LambdaRuntimeStub

BEGIN = "<!-- lambda:begin (written by `make bench` / `python -m bench.lambda_cold_start`) -->"
END = "<!-- lambda:end -->"


def http_event(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
                           "requestId": "r", "routeKey": "$default", "stage": "$default"},
        "isBase64Encoded": False,
    }  # fmt: skip


def sqs_event(org_id: str, n: int) -> dict[str, Any]:
    from emporium.modules.orders.events import EventLine, OrderPaid
    from emporium.platform.events.contracts import Envelope
    from emporium.platform.ids import new_id

    line = EventLine(sku="MUG-1", name="Mug", quantity=2, unit_price_minor=799, line_total_minor=1598)
    paid = OrderPaid(
        order_id=new_id("ord"), order_number=1000 + n, payment_id=new_id("pay"), customer_email="c@example.com",
        customer_name="Cy", customer_phone=None, currency="EUR", subtotal_minor=1598, shipping_minor=0,
        total_minor=1598, lines=[line],
    )  # fmt: skip
    envelope = Envelope(
        new_id("evt"), paid.event_name, paid.event_version, "order", paid.order_id, org_id,
        paid.model_dump(mode="json"), datetime.now(UTC),
    )  # fmt: skip
    body = json.dumps(envelope.to_json())
    return {"Records": [{"messageId": f"m{n}", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}]}


def _spawn(handler: str, api: LambdaRuntimeStub, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", handler],
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_RUNTIME_API": api.address,
                 "LOG_LEVEL": "warning", "LOG_FORMAT": "json", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc): less sensitive to a busy machine than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _function(
    handler: str, env: dict[str, str], events: list[Any], colds: int, warms: int, log: Path
) -> dict[str, Any]:
    cold, init, first_invoke, warm, cold_cpu = [], [], [], [], []
    for attempt in range(colds):
        with LambdaRuntimeStub() as api:
            started = time.perf_counter()
            process = _spawn(handler, api, env, log)
            try:
                first = api.invoke(events[0](attempt))
                cold.append(time.perf_counter() - started)
                assert first.kind == "response", first
                assert api.first_poll_at is not None
                init.append(api.first_poll_at - started)
                cold_cpu.append(_cpu_seconds(process.pid))
                first_invoke.append(first.seconds)
                if attempt == colds - 1:
                    for n in range(warms):
                        outcome = api.invoke(events[1 + n % (len(events) - 1)](n))
                        assert outcome.kind == "response", outcome
                        warm.append(outcome.seconds)
            finally:
                process.kill()
                process.wait(10)
    return {
        "cold": _ms(cold),
        "cold_cpu": _ms(cold_cpu),
        "init": _ms(init),
        "first_invoke": _ms(first_invoke),
        "warm": _ms(warm),
    }


async def measure(server: str, work: Path, *, colds: int = 3, warms: int = 200) -> dict[str, Any]:
    from emporium.modules.identity import workflows as identity

    db_name, url = await create_database(server, "emporium_lambda")
    try:
        from emporium.platform.db.engine import Database

        db = Database(url)
        try:
            issued = await identity.create_org(db, name="Lambda shop", owner_email="owner@lambda.example.com")
        finally:
            await db.dispose()
        env = {"DATABASE_URL": url, "DATA_DIR": str(work / "lambda-data")}
        auth = {"authorization": f"Bearer {issued.secret}"}
        http_events = [
            lambda n: http_event("/readyz"),
            lambda n: http_event("/readyz"),
            lambda n: http_event("/v1/orders", auth),
        ]
        org = issued.key.org_id
        consumer_events = [lambda n: sqs_event(org, n), lambda n: sqs_event(org, 10_000 + n)]
        log = work / "lambda.log"
        http = await asyncio.to_thread(
            _function, "emporium.serverless.http_handler", env, http_events, colds, warms, log
        )
        consumer = await asyncio.to_thread(
            _function, "emporium.serverless.consumer_handler", env, consumer_events, colds, max(20, warms // 10), log
        )
    finally:
        await drop_database(server, db_name)
    return {
        "http": http,
        "consumer": consumer,
        "load_average_at_end": os.getloadavg(),
        "measured_at": datetime.now(UTC).isoformat()[:19] + "Z",
    }


def write_docs(result: dict[str, Any], doc: Path, command: str) -> None:
    from bench.report import replace_section

    def row(name: str, part: dict[str, Any]) -> str:
        c, w = part["cold"], part["warm"]
        return (
            f"| {name} | {c['p50_ms']:.0f} ms (max {c['max_ms']:.0f}, n={c['n']}) | "
            f"{part['cold_cpu']['p50_ms']:.0f} ms | "
            f"{part['init']['p50_ms']:.0f} ms | "
            f"{part['first_invoke']['p50_ms']:.0f} ms | {w['p50_ms']:.1f} ms | {w['p99_ms']:.1f} ms | {w['n']} |"
        )

    load = ", ".join(f"{x:.2f}" for x in result["load_average_at_end"])
    section = "\n".join(
        [
            BEGIN,
            "## Lambda: cold start and warm invoke",
            "",
            f"Measured {result['measured_at']} with `{command}` (load average at the end: {load}; the machine's "
            "two cores are shared, so read these as upper bounds). The function is AWS's runtime client "
            "(`awslambdaric`) running `emporium.serverless`, fed by a Runtime API stub on loopback; PostgreSQL on "
            "loopback. Cold = process start + imports + the first invocation (configuration, app, pool, first "
            "query, answer); init = process start to the first poll for an event (interpreter, runtime client, "
            "`emporium.serverless`, which imports little); first invoke = the rest (the app, the pool, the answer). "
            "Warm = event handed out to answer, same process. CPU = the function process's user + system time up to "
            "its first answer, which a busy machine inflates less than wall time.",
            "",
            "| function | cold start, wall (median) | its CPU | of which init | of which first invoke | warm p50 | "
            "warm p99 | warm n |",
            "|---|---|---|---|---|---|---|---|",
            row("HTTP API (`/readyz`, `/v1/orders` with a key)", result["http"]),
            row("consumer (1 `order_paid` record -> invoice PDF stored)", result["consumer"]),
            END,
        ]
    )
    replace_section(doc, BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 cold starts, 50 warm invokes")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = parser.parse_args()
    colds, warms = (2, 50) if args.quick else (3, 200)
    work = Path(os.environ.get("BENCH_WORKDIR", f"/tmp/emporium-lambda-{int(time.time())}"))
    work.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(measure(server_url(), work, colds=colds, warms=warms))
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        command = "python -m bench.lambda_cold_start" + (" --quick" if args.quick else "")
        write_docs(result, ROOT / "docs" / "performance.md", command)


if __name__ == "__main__":
    main()
