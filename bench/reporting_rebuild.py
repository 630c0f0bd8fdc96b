"""The reporting read model at volume: N orders' events written, pending, to the outbox of a database of
its own; the live projection (outbox dispatchers hosting reporting's subscriber, as `emporium serve` runs
them) drains it; then `emporium reporting rebuild` recomputes the read model from that history. The reports
of both, and the same reports computed straight from the history in Python, must be equal.

`make bench` runs `run` (100,000 orders on PostgreSQL, 10,000 with the store on MariaDB; `--quick`: 10,000
and 2,000); `make bench ARGS="--only reporting"` runs that alone, `--skip reporting` leaves it out. One run:

    .venv/bin/python -m bench.reporting_rebuild [--orders 100000] [--mariadb | --store URL] [--per-event]

Results: bench/results/reporting-<ts>.json; docs/performance.md between the reporting markers (`--docs`
for a single run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import ROOT, create_database, drop_database, machine, start_run
from bench.report import replace_section

BEGIN, END = "<!-- reporting:begin (written by `make bench`) -->", "<!-- reporting:end -->"
ORGS = 3
CURRENCIES = ("EUR", "USD", "JPY")
SKUS = [f"SKU-{n:04d}" for n in range(500)]
DISPATCHERS = 2  # two dispatcher loops, as two `emporium serve` replicas (or workers) run them


def log(message: str) -> None:
    print(f"[reporting {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class _Emitter:
    """Appends one order's events, each a random while after the one before."""

    def __init__(self, out: list[Any], rnd: random.Random, org: str, order_id: str, payment_id: str, at: datetime):
        self.out, self.rnd, self.org, self.order_id, self.payment_id, self.at = out, rnd, org, order_id, payment_id, at

    def __call__(self, name: str, aggregate: str, payload: dict[str, Any], version: int = 1) -> None:
        from emporium.platform.events.contracts import Envelope
        from emporium.platform.ids import new_id

        aggregate_id = self.order_id if aggregate == "order" else self.payment_id
        self.out.append(Envelope(new_id("evt"), name, version, aggregate, aggregate_id, self.org, payload, self.at))
        self.at += timedelta(seconds=self.rnd.randint(1, 7_200))


def history(orders: int, seed: int = 1) -> list[Any]:
    """Envelopes of `orders` orders over 90 days: paid (most), declined, pending; refunds, cancellations,
    shipments, as checkout and the order API publish them. Sorted by time (= outbox order)."""
    from emporium.platform.ids import new_id

    rnd = random.Random(seed)
    orgs = [new_id("org") for _ in range(ORGS)]
    start = datetime(2026, 9, 1, tzinfo=UTC)
    out: list[Any] = []
    for _ in range(orders):
        org, currency = rnd.choice(orgs), rnd.choice(CURRENCIES)
        order_id, payment_id = new_id("ord"), new_id("pay")
        at = start + timedelta(seconds=rnd.randrange(90 * 86_400))
        lines = [
            {"sku": sku, "name": f"{sku} name", "quantity": q, "unit_price_minor": p, "line_total_minor": q * p}
            for sku, q, p in (
                (rnd.choice(SKUS), rnd.randint(1, 3), rnd.randint(100, 9_999)) for _ in range(rnd.randint(1, 3))
            )
        ]
        total = sum(x["line_total_minor"] for x in lines) + 500
        order = {
            "order_id": order_id,
            "order_number": 1,
            "customer_email": "b@example.com",
            "customer_name": None,
            "customer_phone": None,
            "currency": currency,
            "subtotal_minor": total - 500,
            "shipping_minor": 500,
            "total_minor": total,
            "lines": lines,
        }

        emit = _Emitter(out, rnd, org, order_id, payment_id, at)

        emit("orders.order_created", "order", order)
        roll = rnd.random()
        if roll < 0.04:
            continue  # still pending
        if roll < 0.1:
            emit(
                "payments.payment_failed",
                "payment",
                {"payment_id": payment_id, "order_id": order_id, "status": "declined", "reason": "card_declined"},
            )
            emit(
                "orders.order_cancelled",
                "order",
                {
                    "order_id": order_id,
                    "order_number": 1,
                    "reason": "payment_declined",
                    "was_paid": False,
                    "customer_email": "b@example.com",
                    "customer_name": None,
                    "currency": currency,
                    "total_minor": total,
                },
                version=2,
            )
            continue
        emit(
            "payments.payment_authorized",
            "payment",
            {
                "payment_id": payment_id,
                "order_id": order_id,
                "provider": "sandbox",
                "amount_minor": total,
                "currency": currency,
            },
        )
        emit(
            "payments.payment_captured",
            "payment",
            {"payment_id": payment_id, "order_id": order_id, "captured_minor": total, "currency": currency},
        )
        emit("orders.order_paid", "order", {**order, "payment_id": payment_id}, version=2)
        if rnd.random() < 0.1:
            amount = total // 2
            emit(
                "payments.payment_refunded",
                "payment",
                {
                    "payment_id": payment_id,
                    "order_id": order_id,
                    "refund_id": new_id("ref"),
                    "amount_minor": amount,
                    "refunded_total_minor": amount,
                    "currency": currency,
                },
            )
            emit(
                "orders.order_refunded",
                "order",
                {
                    "order_id": order_id,
                    "order_number": 1,
                    "customer_email": "b@example.com",
                    "currency": currency,
                    "refunded_minor": amount,
                    "total_refunded_minor": amount,
                    "fully_refunded": False,
                },
            )
        if rnd.random() < 0.04:
            emit(
                "orders.order_cancelled",
                "order",
                {
                    "order_id": order_id,
                    "order_number": 1,
                    "reason": "requested",
                    "was_paid": True,
                    "customer_email": "b@example.com",
                    "customer_name": None,
                    "currency": currency,
                    "total_minor": total,
                },
                version=2,
            )
        elif rnd.random() < 0.5:
            emit(
                "orders.order_shipped",
                "order",
                {
                    "order_id": order_id,
                    "order_number": 1,
                    "customer_email": "b@example.com",
                    "customer_name": None,
                    "customer_phone": None,
                    "carrier": "DHL",
                    "tracking_number": "1",
                },
            )
    out.sort(key=lambda e: e.occurred_at)
    return out


async def write_outbox(url: str, events: list[Any], *, delivered: bool) -> None:
    """The history as the modules' transactions left it, in `seq` order: pending (for the live projection to
    deliver), or already delivered and kept in the outbox (decision 028)."""
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC) if delivered else None
        via = "subscribers" if delivered else None
        await conn.copy_records_to_table(
            "outbox",
            schema_name="platform",
            columns=[
                "id",
                "name",
                "version",
                "aggregate_type",
                "aggregate_id",
                "org_id",
                "payload",
                "trace_context",
                "occurred_at",
                "delivered_at",
                "delivered_via",
            ],
            records=[
                (
                    e.id,
                    e.name,
                    e.version,
                    e.aggregate_type,
                    e.aggregate_id,
                    e.org_id,
                    json.dumps(e.payload),
                    "{}",
                    e.occurred_at,
                    now,
                    via,
                )
                for e in events
            ],
        )
        await conn.execute("ANALYZE platform.outbox")
    finally:
        await conn.close()


async def live(db: Any, url: str, *, per_event: bool = False, dispatchers: int = DISPATCHERS) -> float:
    """The live projection as it runs in `emporium serve`: `dispatchers` outbox dispatchers with the default
    settings (batches of 100, 4 at once) claim the pending events, each aggregate's in order, and hand them
    to reporting's subscriber (its batch handler: one transaction per batch; `per_event`: the one-event
    handler only, as before decision 038), until the outbox is drained."""
    from dataclasses import replace

    from emporium.modules.reporting import subscribers
    from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
    from emporium.platform.events.subscriptions import Subscriptions

    hosted = [replace(s, batch_handler=None) if per_event else s for s in subscribers.SUBSCRIPTIONS]
    conn = await asyncpg.connect(url)
    one_at_a_time = asyncio.Lock()  # the dispatchers share this connection

    async def pending() -> int:
        async with one_at_a_time:
            return int(await conn.fetchval("SELECT count(*) FROM platform.outbox WHERE delivered_at IS NULL"))

    async def dispatch(n: int) -> None:
        dispatcher = Dispatcher(db, Subscriptions(hosted), DispatchSettings(), name=f"bench-reporting-{n}")
        while True:
            if await dispatcher.run_once() == 0:
                # nothing ready: the rest is claimed by the other dispatcher or waits behind it (per aggregate)
                if await pending() == 0:
                    return
                await asyncio.sleep(0.01)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(dispatch(n) for n in range(dispatchers)))
        return time.perf_counter() - started
    finally:
        await conn.close()


async def reports(store: Any, orgs: list[str]) -> dict[str, Any]:
    """Each org's daily sales, weekly payments and top products, as the API renders them."""
    from emporium.modules.reporting import workflows
    from emporium.modules.reporting.domain import Granularity, ProductSort
    from emporium.modules.reporting.schemas import PaymentsRowOut, ProductRowOut, SalesRowOut

    first, last = date(2026, 1, 1), date(2026, 12, 31)
    out: dict[str, Any] = {}
    for org in orgs:
        sales = await workflows.sales_report(store, org, first, last, Granularity.DAY, None)
        payments = await workflows.payments_report(store, org, first, last, Granularity.WEEK, None)
        products = await workflows.products_report(store, org, first, last, None, ProductSort.REVENUE, 1000)
        out[org] = {
            "sales": [SalesRowOut.of(r).model_dump(mode="json") for r in sales],
            "payments": [PaymentsRowOut.of(r).model_dump(mode="json") for r in payments],
            "products": [ProductRowOut.of(r).model_dump(mode="json") for r in products],
        }
    return out


def computed(events: list[Any], orgs: list[str]) -> dict[str, Any]:
    """The same reports computed straight from the history in Python (the tests' reference computation)."""
    from tests.support.reporting import History, expected_payments, expected_products, expected_sales

    story = History(orgs)
    for e in events:
        story.by_aggregate.setdefault((e.aggregate_type, e.aggregate_id), []).append(e)
    return {
        org: {
            "sales": expected_sales(story, org, "day"),
            "payments": expected_payments(story, org, "week"),
            "products": expected_products(story, org, "revenue", 1000),
        }
        for org in orgs
    }


async def measure(
    server: str,
    orders: int,
    store_url: str | None = None,
    *,
    live_run: bool = True,
    per_event: bool = False,
    dispatchers: int = DISPATCHERS,
) -> dict[str, Any]:
    """One history of `orders` orders in a fresh database's outbox, projected live through the dispatcher,
    then rebuilt; the reports of both and the ones computed straight from the history. `live_run=False`
    writes the history delivered and only rebuilds (checked against the computed reports)."""
    from emporium.modules.reporting import subscribers, workflows
    from emporium.modules.reporting.migrate import schema_map
    from emporium.modules.reporting.migrate import upgrade as upgrade_reporting
    from emporium.platform.db.engine import Database, PoolSettings

    name, url = await create_database(server, "emporium_reporting")
    try:
        log(f"generating {orders:,} orders' events")
        events = history(orders)
        orgs = sorted({e.org_id for e in events})
        await write_outbox(url, events, delivered=not live_run)
        log(f"{len(events):,} events in the outbox")
        target = store_url or url
        if store_url:
            await upgrade_reporting(store_url)
        db = Database(url, PoolSettings(size=2 + 2 * dispatchers))
        store = Database(target, PoolSettings(size=2 + 2 * dispatchers), schema_translate_map=schema_map(target))
        workflows.install(store)
        try:
            live_s, before, load_live = None, None, None
            if live_run:
                log(f"live projection: {dispatchers} dispatcher(s), {'per event' if per_event else 'batches'}")
                live_s = await live(db, url, per_event=per_event, dispatchers=dispatchers)
                load_live = os.getloadavg()
                log(f"live projection: {live_s:.1f} s ({len(events) / live_s:,.0f} events/s)")
                before = await reports(store, orgs)
            summary = await subscribers.rebuild_from_history(db, store, org_id=None, page_size=5000)
            load_rebuild = os.getloadavg()
            log(f"rebuild: {summary.seconds:.1f} s ({summary.events_per_second:,.0f} events/s)")
            after = await reports(store, orgs)
            expected = computed(events, orgs)
        finally:
            workflows.uninstall(store)
            await store.dispose()
            await db.dispose()
        return {
            "orders": orders,
            "events": len(events),
            "orgs": len(orgs),
            "store": store.dialect_name,
            "live_s": round(live_s, 1) if live_s else None,
            "live_events_per_s": round(len(events) / live_s) if live_s else None,
            "live_orders_per_s": round(orders / live_s) if live_s else None,
            "live_dispatchers": dispatchers if live_run else None,
            "live_path": ("per event" if per_event else "batch") if live_run else None,
            "live_load_average": load_live,
            "rebuild_s": round(summary.seconds, 1),
            "rebuild_events_per_s": round(summary.events_per_second),
            "rebuild_orders_per_s": round(orders / summary.seconds) if summary.seconds else None,
            "rebuild_facts": summary.facts,
            "rebuild_load_average": load_rebuild,
            "reports_equal": (before is None or before == after) and after == expected,
            "rebuilt_equals_live": before == after if before is not None else None,
            "rebuilt_equals_computed": after == expected,
            "report_rows": sum(len(rows) for org in after.values() for rows in org.values()),
        }
    finally:
        await drop_database(server, name)


def mariadb_server() -> str:
    """The MariaDB server for the smaller comparison: TEST_MARIADB_URL, else the machine's."""
    return os.environ.get("TEST_MARIADB_URL") or "mysql://root@127.0.0.1:3306"


async def measure_on_mariadb(server: str, orders: int, **options: Any) -> dict[str, Any]:
    """The same comparison with the reporting store in a throwaway database on the MariaDB server (the outbox
    stays on PostgreSQL, as with REPORTING_DATABASE_URL)."""
    from tests.support.reporting import mariadb_database

    async with mariadb_database(mariadb_server(), migrated=False) as store_url:
        return await measure(server, orders, store_url, **options)


async def run(server: str, *, quick: bool) -> dict[str, Any]:
    """`make bench`'s reporting section: 100,000 orders (quick: 10,000) on PostgreSQL, then 10,000 (quick:
    2,000) with the store on MariaDB. A failed step is recorded as its error (and fails `check`)."""
    out: dict[str, Any] = {}
    for key, orders, measure_one in (
        ("postgresql", 10_000 if quick else 100_000, measure),
        ("mariadb", 2_000 if quick else 10_000, measure_on_mariadb),
    ):
        log(f"{key}: live projection and rebuild of {orders:,} orders")
        try:
            out[key] = await measure_one(server, orders)
        except Exception as error:
            out[key] = {"error": f"{type(error).__name__}: {error}"}
            log(f"{key}: {out[key]['error']}")
    return out


STORE_NAMES = {
    "postgresql": "PostgreSQL (schema `reporting`)",
    "mysql": "MariaDB (a database of its own)",
    "mariadb": "MariaDB (a database of its own)",
}


def _verdict(same: bool | None) -> str:
    return "not run" if same is None else ("equal" if same else "**DIFFERENT** (a bug)")


def _load(load: Any) -> str:
    return ", ".join(f"{x:.1f}" for x in load) if load else ""


def _rows(r: dict[str, Any]) -> list[str]:
    if "events" not in r:
        return [f"| {r.get('store', '?')} | not measured: {r.get('error')} | | | | | |"]
    store = STORE_NAMES.get(r["store"], r["store"])
    size = f"{r['orders']:,} orders, {r['events']:,} events"
    out = []
    if r["live_s"]:
        path = f"{r['live_dispatchers']} dispatchers, {r['live_path']}"
        out.append(
            f"| {store} | {size} | live projection ({path}) | {r['live_s']} | {r['live_events_per_s']:,} | "
            f"{r['live_orders_per_s']:,} | {_load(r['live_load_average'])} |"
        )
    out.append(
        f"| {store} | {size} | `emporium reporting rebuild` (pages of 5,000) | {r['rebuild_s']} | "
        f"{r['rebuild_events_per_s']:,} | {r['rebuild_orders_per_s']:,} | {_load(r['rebuild_load_average'])} |"
    )
    return out


def _equality(r: dict[str, Any]) -> str:
    if "events" not in r:
        return f"- {r.get('store', '?')}: not measured"
    return (
        f"- {STORE_NAMES.get(r['store'], r['store'])}, {r['orders']:,} orders: rebuilt vs live: "
        f"{_verdict(r['rebuilt_equals_live'])}; rebuilt vs "
        f"computed from the history in Python: {_verdict(r['rebuilt_equals_computed'])} "
        f"({r['report_rows']:,} report rows: daily sales, weekly payments, products by revenue, per org)"
    )


def lines(results: dict[str, Any], when: str, pg: str) -> list[str]:
    measured = [r for r in results.values() if isinstance(r, dict)]
    return [
        BEGIN,
        "## Reporting: live projection and rebuild",
        "",
        f"Run {when}, PostgreSQL {pg} (the outbox; and the reporting store unless said otherwise), "
        f"`bench/reporting_rebuild.py`. Orders in {ORGS} orgs and 3 currencies over 90 days (about 4.5 events "
        "each). The live projection is the outbox dispatcher with its default settings (batches of 100, 4 "
        "handlers at once) hosting reporting's subscriber, as `emporium serve` runs it; the load average "
        "(1, 5, 15 min) is taken at the end of each step (other work shared the machine).",
        "",
        "| Store | History | Step | seconds | events/s | orders/s | load average |",
        "|---|---|---|---:|---:|---:|---|",
        *[row for r in measured for row in _rows(r)],
        "",
        "Reports compared:",
        "",
        *[_equality(r) for r in measured],
        END,
    ]


def write_docs(results: dict[str, Any], when: str, pg: str) -> None:
    replace_section(ROOT / "docs" / "performance.md", BEGIN, END, "\n".join(lines(results, when, pg)))


def table(results: dict[str, Any]) -> str:
    """The rates and verdicts for the terminal."""
    measured = [r for r in results.values() if isinstance(r, dict)]
    rows = [row for r in measured for row in _rows(r)]
    return "\n".join(["reporting:", *rows, *[_equality(r) for r in measured]])


def check(results: dict[str, Any]) -> None:
    """Fail loudly: a step that did not run, or reports that differ, end the bench with an error."""
    problems = [
        f"{key}: {r['error']}" if "events" not in r else f"{key}: the rebuilt reports differ from the live ones"
        for key, r in results.items()
        if "events" not in r or not r["reports_equal"]
    ]
    if problems:
        raise SystemExit("reporting bench failed: " + "; ".join(problems))


async def alone(*, quick: bool, docs: bool) -> dict[str, Any]:
    """`make bench ARGS="--only reporting"`: the section of `make bench`, nothing else."""
    begun = await start_run("reporting")
    at_start = machine(begun.pg_version)  # its load average is the one at the start
    results = await run(begun.server, quick=quick)
    _save({**results, "started_at": begun.started_at.isoformat(), "machine": at_start}, begun.stamp)
    if docs:
        write_docs(results, begun.started_at.isoformat(timespec="seconds"), begun.pg_version)
    print(table(results))
    check(results)
    return results


def _save(results: dict[str, Any], stamp: str) -> None:
    out = ROOT / "bench" / "results" / f"reporting-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"results: {out.relative_to(ROOT)}")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reporting_rebuild", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--store", help="REPORTING_DATABASE_URL for the store (default: the bench database)")
    parser.add_argument("--mariadb", action="store_true", help="the store in a throwaway MariaDB database")
    parser.add_argument("--no-live", action="store_true", help="skip the live projection (check against the history)")
    parser.add_argument("--per-event", action="store_true", help="live: the one-event handler only (no batches)")
    parser.add_argument("--dispatchers", type=int, default=DISPATCHERS)
    parser.add_argument("--docs", action="store_true", help="write this run into docs/performance.md")
    args = parser.parse_args()
    begun = await start_run("reporting")
    options: dict[str, Any] = {
        "live_run": not args.no_live,
        "per_event": args.per_event,
        "dispatchers": args.dispatchers,
    }
    if args.mariadb:
        result = await measure_on_mariadb(begun.server, args.orders, **options)
    else:
        result = await measure(begun.server, args.orders, args.store, **options)
    results = {result["store"]: result}
    at_start = machine(begun.pg_version)
    _save({**results, "started_at": begun.started_at.isoformat(), "machine": at_start}, begun.stamp)
    if args.docs:
        write_docs(results, begun.started_at.isoformat(timespec="seconds"), begun.pg_version)
    print(table(results))
    check(results)


if __name__ == "__main__":
    asyncio.run(main())
