"""What ONE immediate-capture checkout costs: transactions, statements, round trips and spans.

The bench's own measuring run, on a database of its own, with the application in this process
(default settings: no OTLP endpoint, dispatcher, cron and webhook delivery off, the outbox sampler
stopped so only the checkout talks to the database):

- PostgreSQL's side: the statement log (`log_statement = all` set on that database only; lines picked
  by the `user@database` prefix; transactions are BEGIN...COMMIT/ROLLBACK blocks per backend pid, or
  statements alone), and `xact_commit + xact_rollback` of `pg_stat_database` for the dedicated database
  (read from another database, after the backends have flushed their counters).
  `pg_stat_statements` is used when the server preloads it; it is reported as unavailable otherwise.
- The driver's side: `bench.wire.WireCounter`, a loopback proxy between the pool and PostgreSQL
  counting round trips and Execute/Query messages.
- Spans: the SDK provider `open_runtime` installs by default, with an in-memory exporter added.

A few checkouts run first, so every pooled connection has its prepared statements and every product has
been priced once in the process (decision 043: a checkout reserves at the price last seen); then three are
measured one at a time (they should agree; the median by round trips is the headline).
`pg_stat_database` is read around the three together, since its counters take up to 10 s to settle.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx

from bench import seed
from bench.common import create_database, drop_database, in_process_config
from bench.wire import WireCounter

WARMUP_CHECKOUTS = 20
STATS_SETTLE_SECONDS = 11
STATS_SETTLE_LIMIT_SECONDS = 40
MEASURED = 3


def _upstream(url: str) -> tuple[str, int]:
    """Where the server listens: host and port, or the unix socket directory (`?host=/dir`) and port."""
    parts = urlsplit(url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    return (socket_dir or parts.hostname or "127.0.0.1", parts.port or 5432)


def _proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])  # TCP to the proxy, not the socket
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host, query=query))


def _log_path(logfile: str | None, data_directory: str, major: str) -> Path | None:
    candidates = []
    if logfile:
        candidates.append(Path(logfile) if logfile.startswith("/") else Path(data_directory) / logfile)
    candidates.append(Path(f"/var/log/postgresql/postgresql-{major}-main.log"))
    for path in candidates:
        with contextlib.suppress(OSError):
            path.open("rb").close()
            return path
    return None


async def _xacts(admin: asyncpg.Connection, name: str) -> tuple[int, int]:
    """(committed, rolled back) transactions of `name`, once every backend has flushed its counters.

    A PostgreSQL 15 backend that flushed less than a second ago keeps new counts for up to 10 s of
    idleness (PGSTAT_IDLE_INTERVAL), so the value counts once it has not moved for 11 s.
    """
    last, since, started = (-1, -1), time.monotonic(), time.monotonic()
    while time.monotonic() - started < STATS_SETTLE_LIMIT_SECONDS:
        row = await admin.fetchrow("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name)
        assert row is not None
        value = (int(row["xact_commit"]), int(row["xact_rollback"]))
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since >= STATS_SETTLE_SECONDS:
            return value
        await asyncio.sleep(1)  # waiting out the statistics flush interval, not a race
    return last  # still moving (autovacuum in that database): the report says it is an upper bound


def _log_transactions(lines: list[str]) -> int:
    """Transactions in the statement log: per backend, a BEGIN ... COMMIT/ROLLBACK block, or one statement alone."""
    open_block: dict[str, bool] = {}
    count = 0
    for line in lines:
        match = re.search(r"\[(\d+)\]", line)
        pid = match.group(1) if match else "?"
        word = _statement_kind(line.split("LOG:  ", 1)[1])
        if word == "BEGIN":
            open_block[pid] = True
        elif word in ("COMMIT", "ROLLBACK", "END", "ABORT"):
            if open_block.pop(pid, False):
                count += 1
        elif not open_block.get(pid):
            count += 1
    return count


def _statement_lines(path: Path | None, start: int, db_name: str) -> tuple[int, list[str]]:
    if path is None:
        return 0, []
    with path.open("rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", "replace")
    picked = []
    for line in text.splitlines():
        if f"@{db_name} " in line and ("LOG:  statement: " in line or "LOG:  execute " in line):
            picked.append(line)
    return len(picked), picked


def _statement_kind(line: str) -> str:
    sql = line.split(": ", 1)[1].strip() if ": " in line else line
    return sql.split(None, 1)[0].upper().rstrip(";") if sql else "(starts on a new line: WITH / text())"


async def measure(server: str, work: Path, *, pg_stat_database: bool = True) -> dict[str, Any]:
    """`pg_stat_database=False` (quick mode) skips its counters, which take 20 s or more to settle."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from emporium.bootstrap.app import create_app
    from emporium.bootstrap.runtime import open_runtime
    from emporium.platform.telemetry.logging import configure_logging
    from emporium.platform.telemetry.tracing import configure_tracing

    db_name, url = await create_database(server, "emporium_measure")
    admin = await asyncpg.connect(server)
    result: dict[str, Any] = {"database": db_name}
    proxy: WireCounter | None = None
    try:
        preloaded = str(await admin.fetchval("SHOW shared_preload_libraries"))
        result["pg_stat_statements"] = (
            "preloaded" if "pg_stat_statements" in preloaded else "not preloaded by the server: statement log used"
        )
        try:
            await admin.execute(f"ALTER DATABASE \"{db_name}\" SET log_statement = 'all'")
            logfile = await admin.fetchval("SELECT pg_current_logfile()")
            data_directory = str(await admin.fetchval("SHOW data_directory"))
            major = str(await admin.fetchval("SHOW server_version")).split(".")[0]
            log_path = _log_path(logfile, data_directory, major)
        except asyncpg.PostgresError as error:
            log_path = None
            result["statement_log"] = f"unavailable: {error}"
        result["statement_log_file"] = str(log_path) if log_path else None

        _org_id, owner_key = seed.create_shop(url)
        proxy = await WireCounter(*_upstream(url)).start()
        proxied = _proxied(url, proxy.port)
        config = in_process_config(proxied, "warning")
        configure_logging("warning", "json")
        provider = configure_tracing(config.service_name, config.otlp_endpoint)  # what open_runtime installs
        spans = InMemorySpanExporter()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(SimpleSpanProcessor(spans))
        app = create_app(lambda: open_runtime(config, proxied), config)
        async with app.router.lifespan_context(app):
            await app.state.runtime.backlog.stop()  # its samples are not the checkout's
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emporium.bench", timeout=60) as http:
                storefront = await seed.storefront_key(http, owner_key)
                ids, _ = await seed.bulk_products(http, owner_key, 20)
                await seed.restock(http, owner_key, ids, 100_000)
                rng = random.Random(11)

                all_skus = [f"BENCH-{i:06d}" for i in range(20)]

                async def checkout(skus: list[str] | None = None) -> httpx.Response:
                    """Two lines, immediate capture, the sandbox's success token."""
                    skus = skus or rng.sample(all_skus, 2)
                    body = {
                        "lines": [{"sku": sku, "quantity": 1} for sku in skus],
                        "shipping_amount": 490,
                        "customer": {"email": "buyer@example.com", "name": "Ada Buyer", "phone": "+4915112345678"},
                        "shipping_address": seed.ADDRESS,
                        "payment": {"provider": "sandbox", "card_token": "tok_success"},
                    }
                    headers = {"Authorization": f"Bearer {storefront}", "Idempotency-Key": uuid.uuid4().hex}
                    response = await http.post("/v1/orders", headers=headers, json=body)
                    if response.status_code != 201:
                        raise RuntimeError(f"measuring checkout answered {response.status_code}: {response.text}")
                    return response

                for n in range(0, len(all_skus), 2):  # each product once: the process has seen its price
                    await checkout(all_skus[n : n + 2])
                for _ in range(WARMUP_CHECKOUTS):
                    await checkout()
                runs = []
                # pg_stat_database over the measured checkouts together (its counters settle slowly, see _xacts)
                before_xacts = await _xacts(admin, db_name) if pg_stat_database else (0, 0)
                for _ in range(MEASURED):
                    log_start = log_path.stat().st_size if log_path else 0
                    wire_before = proxy.counts.snapshot()
                    spans.clear()
                    started = time.perf_counter()
                    response = await checkout()
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    wire = proxy.counts.since(wire_before)
                    finished = spans.get_finished_spans()
                    count, lines = _statement_lines(log_path, log_start, db_name)
                    kinds = Counter(_statement_kind(line.split("LOG:  ", 1)[1]) for line in lines)
                    runs.append(
                        {
                            "status": response.status_code,
                            "lines": len(response.json()["lines"]),
                            "capture_mode": response.json().get("capture_mode"),
                            "order_status": response.json().get("status"),
                            "elapsed_ms_in_process": round(elapsed_ms, 1),
                            "transactions_pg_log": _log_transactions(lines) if log_path else None,
                            "transactions_driver": wire["transactions"],
                            "idle_returns_driver": wire["idle_returns"],
                            "begins_pg_log": kinds.get("BEGIN", 0),
                            "statements_pg_log": count if log_path else None,
                            "statements_pg_log_by_kind": dict(kinds.most_common()),
                            "driver_round_trips": wire["round_trips"],
                            "driver_statements": wire["statements"],
                            "driver_new_connections": wire["new_connections"],
                            "spans": len(finished),
                            "spans_by_name": dict(Counter(s.name.split(" ")[0] for s in finished).most_common(12)),
                        }
                    )
                    (work / f"one-checkout-{len(runs)}.log").write_text("\n".join(lines) + "\n")
                if pg_stat_database:
                    after_xacts = await _xacts(admin, db_name)
                    result["pg_stat_database_per_checkout"] = {
                        "transactions": round((sum(after_xacts) - sum(before_xacts)) / MEASURED, 2),
                        "committed": round((after_xacts[0] - before_xacts[0]) / MEASURED, 2),
                        "rolled_back": round((after_xacts[1] - before_xacts[1]) / MEASURED, 2),
                    }
        result["runs"] = runs
        result["checkout"] = sorted(runs, key=lambda run: run["driver_round_trips"])[len(runs) // 2]  # the median
        result["settings"] = "defaults; no OTLP endpoint; dispatcher, cron and webhook delivery off"
    finally:
        if proxy is not None:
            await proxy.close()
        with contextlib.suppress(Exception):
            await admin.execute(f'ALTER DATABASE "{db_name}" RESET log_statement')
        await admin.close()
        with contextlib.suppress(Exception):
            await drop_database(server, db_name)
    return result


if __name__ == "__main__":
    import json
    import os
    import tempfile

    from bench.common import server_url

    work = Path(os.environ.get("BENCH_WORKDIR", tempfile.mkdtemp()))
    print(json.dumps(asyncio.run(measure(server_url(), work)), indent=2))
