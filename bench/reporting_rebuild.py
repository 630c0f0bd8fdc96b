"""The reporting read model at volume: N orders' events (default 100,000 orders) written to the outbox of a
database of its own, applied by the live projection (the subscriber, as the dispatcher calls it, several
aggregates at once), then `emporium reporting rebuild` from that history; the reports before and after must
be equal. Called by `make bench`; alone:

    .venv/bin/python -m bench.reporting_rebuild [--orders 100000] [--store mysql://root@127.0.0.1:3306/db]

The rate goes to docs/performance.md (its own section) and bench/results/reporting-<ts>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import ROOT, create_database, drop_database, machine, start_run
from bench.report import replace_section

BEGIN, END = "<!-- reporting:begin (written by `make bench`) -->", "<!-- reporting:end -->"
ORGS = 3
CURRENCIES = ("EUR", "USD", "JPY")
SKUS = [f"SKU-{n:04d}" for n in range(500)]
CONCURRENCY = 8  # like EVENTS_CONCURRENCY x 2 dispatchers: different aggregates at once


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


async def write_outbox(url: str, events: list[Any]) -> None:
    """The history as the modules' transactions left it: delivered rows, kept in the outbox (decision 028)."""
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
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
                    "subscribers",
                )
                for e in events
            ],
        )
    finally:
        await conn.close()


async def live(store: Any, events: list[Any]) -> float:
    """The subscriber applies every event, CONCURRENCY aggregates at a time (each aggregate's events in order)."""
    from emporium.modules.reporting import subscribers
    from emporium.platform.events.subscriptions import Delivery

    lanes: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        lanes[hash(e.payload["order_id"]) % CONCURRENCY].append(e)

    async def lane(items: list[Any]) -> None:
        for e in items:
            await subscribers.on_event(store, Delivery(e, subscribers.workflows.PROJECTION))

    started = time.perf_counter()
    await asyncio.gather(*(lane(items) for items in lanes.values()))
    return time.perf_counter() - started


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


async def measure(server: str, orders: int, store_url: str | None = None, *, live_run: bool = True) -> dict[str, Any]:
    """`live_run=False` skips the live projection (slow on a loaded machine) and checks the rebuild against the
    reports computed straight from the history only."""
    from emporium.modules.reporting import subscribers, workflows
    from emporium.modules.reporting.migrate import schema_map
    from emporium.modules.reporting.migrate import upgrade as upgrade_reporting
    from emporium.platform.db.engine import Database, PoolSettings

    name, url = await create_database(server, "emporium_reporting")
    try:
        log(f"generating {orders:,} orders' events")
        events = history(orders)
        orgs = sorted({e.org_id for e in events})
        await write_outbox(url, events)
        log(f"{len(events):,} events in the outbox")
        target = store_url or url
        if store_url:
            await upgrade_reporting(store_url)
        db = Database(url, PoolSettings(size=4))
        store = Database(target, PoolSettings(size=CONCURRENCY + 2), schema_translate_map=schema_map(target))
        workflows.install(store)
        try:
            live_s, before = None, None
            if live_run:
                live_s = await live(store, events)
                log(f"live projection: {live_s:.1f} s")
                before = await reports(store, orgs)
            summary = await subscribers.rebuild_from_history(db, store, org_id=None, page_size=5000)
            log(f"rebuild: {summary.seconds:.1f} s")
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
            "live_concurrency": CONCURRENCY,
            "rebuild_s": round(summary.seconds, 1),
            "rebuild_events_per_s": round(summary.events_per_second),
            "rebuild_orders_per_s": round(orders / summary.seconds) if summary.seconds else None,
            "rebuild_facts": summary.facts,
            "reports_equal": (before is None or before == after) and after == expected,
            "rebuilt_equals_live": before == after if before is not None else None,
            "rebuilt_equals_computed": after == expected,
            "report_rows": sum(len(rows) for org in after.values() for rows in org.values()),
        }
    finally:
        await drop_database(server, name)


def lines(r: dict[str, Any], when: str, load: tuple[float, float, float], pg: str) -> list[str]:
    if "events" not in r:
        return [BEGIN, "## Reporting rebuild", "", f"Not measured: {r.get('error')}", END]

    def verdict(same: bool | None) -> str:
        return "not run" if same is None else ("equal" if same else "**DIFFERENT** (a bug)")

    live_row = (
        f"| live projection (the subscriber, {r['live_concurrency']} aggregates at once, one transaction per event) "
        f"| {r['live_s']} | {r['live_events_per_s']:,} | {round(r['orders'] / r['live_s']):,} |"
        if r["live_s"]
        else "| live projection | not run (`--no-live`) | | |"
    )
    return [
        BEGIN,
        "## Reporting rebuild",
        "",
        f"Run {when}, PostgreSQL {pg}, reporting store on {r['store']}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in load)} (other work shared the machine). {r['orders']:,} orders in "
        f"{r['orgs']} orgs and 3 currencies over 90 days, {r['events']:,} events in the outbox "
        "(`bench/reporting_rebuild.py`).",
        "",
        "| Step | seconds | events/s | orders/s |",
        "|---|---:|---:|---:|",
        live_row,
        f"| `emporium reporting rebuild` (pages of 5,000 events, one transaction each) | {r['rebuild_s']} | "
        f"{r['rebuild_events_per_s']:,} | {r['rebuild_orders_per_s']:,} |",
        "",
        f"Reports after the rebuild ({r['report_rows']:,} rows: daily sales, weekly payments, products by revenue, "
        f"per org) vs the live projection's: {verdict(r['rebuilt_equals_live'])}; vs the same reports computed "
        f"straight from the history in Python: {verdict(r['rebuilt_equals_computed'])}.",
        END,
    ]


def write_docs(r: dict[str, Any], when: str, load: tuple[float, float, float], pg: str) -> None:
    replace_section(ROOT / "docs" / "performance.md", BEGIN, END, "\n".join(lines(r, when, load, pg)))


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reporting_rebuild", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--store", help="REPORTING_DATABASE_URL for the store (default: the bench database)")
    parser.add_argument("--no-live", action="store_true", help="skip the live projection (check against the history)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    begun = await start_run("reporting")
    at_start = machine(begun.pg_version)  # its load average is the one at the start
    result = await measure(begun.server, args.orders, args.store, live_run=not args.no_live)
    load = os.getloadavg()
    result.update({"started_at": begun.started_at.isoformat(), "machine": at_start, "load_average_at_end": load})
    out = ROOT / "bench" / "results" / f"reporting-{begun.stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if not args.no_docs:
        write_docs(result, begun.started_at.isoformat(timespec="seconds"), load, begun.pg_version)
    print(json.dumps(result, indent=2, default=str))
    if not result["reports_equal"]:
        raise SystemExit("the rebuilt reports differ from the live projection's or from the history's")


if __name__ == "__main__":
    asyncio.run(main())
