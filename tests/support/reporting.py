"""Reporting test helpers: random order histories as real events, the reports computed straight from them,
and throwaway reporting stores on PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiomysql
from hypothesis import strategies as st

from emporium.modules.orders.events import (
    EventLine,
    OrderCancelled,
    OrderCreated,
    OrderPaid,
    OrderRefunded,
    OrderShipped,
)
from emporium.modules.payments.events import (
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
)
from emporium.modules.reporting import subscribers, workflows
from emporium.modules.reporting.domain import Granularity, ProductSort
from emporium.modules.reporting.migrate import schema_map
from emporium.modules.reporting.migrate import upgrade as upgrade_reporting
from emporium.modules.reporting.schemas import PaymentsRowOut, ProductRowOut, SalesRowOut
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Envelope, Event
from emporium.platform.events.outbox import envelope_of
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.ids import new_id

EPOCH = datetime(2026, 1, 20, tzinfo=UTC)  # histories span January to March: weeks and months cross


# --- histories ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderStory:
    """What happens to one order: its lines, how its payment ends, then refunds, cancellation, shipping."""

    org: int
    currency: str
    lines: tuple[tuple[str, int, int], ...]  # (sku, quantity, unit price)
    shipping: int
    outcome: str  # pending | declined | failed | paid
    captured_at_once: bool
    refunds: tuple[int, ...]  # per mille of what is left, one per refund
    cancel: bool
    ship: bool
    start_minutes: int
    step_minutes: int


def order_stories(max_orders: int = 12) -> st.SearchStrategy[list[OrderStory]]:
    line = st.tuples(st.sampled_from(["SKU-A", "SKU-B", "sku-a", "SKU-C"]), st.integers(1, 5), st.integers(0, 9_999))
    story = st.builds(
        OrderStory,
        org=st.integers(0, 2),
        currency=st.sampled_from(["EUR", "USD", "JPY"]),
        lines=st.lists(line, min_size=1, max_size=3).map(tuple),
        shipping=st.integers(0, 1_500),
        outcome=st.sampled_from(["pending", "declined", "failed", "paid", "paid", "paid"]),
        captured_at_once=st.booleans(),
        refunds=st.lists(st.integers(1, 1000), max_size=3).map(tuple),
        cancel=st.booleans(),
        ship=st.booleans(),
        start_minutes=st.integers(0, 70 * 24 * 60),
        step_minutes=st.integers(1, 3 * 24 * 60),
    )
    return st.lists(story, min_size=1, max_size=max_orders)


@dataclass
class History:
    """The events of some orders, each aggregate's in the order they happened."""

    orgs: list[str]
    by_aggregate: dict[tuple[str, str], list[Envelope]] = field(default_factory=dict)

    @property
    def events(self) -> list[Envelope]:
        return [e for events in self.by_aggregate.values() for e in events]

    def delivered(self, rnd: random.Random, duplicates: float = 0.3) -> list[Envelope]:
        """Every event at least once, aggregates interleaved at random (each one's order kept), some twice."""
        queues = [list(events) for events in self.by_aggregate.values()]
        out: list[Envelope] = []
        while queues:
            queue = rnd.choice(queues)
            out.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
        for envelope in list(out):
            if rnd.random() < duplicates:  # a redelivery, some time after the first one
                first = out.index(envelope)
                out.insert(rnd.randint(first + 1, len(out)), envelope)
        return out


def build_history(stories: Sequence[OrderStory], orgs: int | Sequence[str] = 3) -> History:
    """The stories' events; `orgs`: how many new orgs to spread them over, or the orgs themselves."""
    history = History([new_id("org") for _ in range(orgs)] if isinstance(orgs, int) else list(orgs))
    for story in stories:
        _tell(history, story)
    return history


def _tell(history: History, s: OrderStory) -> None:
    org = history.orgs[s.org]
    order_id, payment_id = new_id("ord"), new_id("pay")
    clock = [EPOCH + timedelta(minutes=s.start_minutes)]

    def emit(event: Event) -> None:
        envelope = envelope_of(event, org_id=org, occurred_at=clock[0])
        history.by_aggregate.setdefault((event.aggregate_type, event.aggregate_id), []).append(envelope)
        clock[0] += timedelta(minutes=s.step_minutes)

    lines = [
        EventLine(sku=k, name=f"{k} name", quantity=q, unit_price_minor=p, line_total_minor=q * p)
        for k, q, p in s.lines
    ]
    subtotal = sum(x.line_total_minor for x in lines)
    total = subtotal + s.shipping
    contact = {"order_number": 1, "customer_email": "buyer@example.com", "customer_name": None}
    money = {"currency": s.currency, "subtotal_minor": subtotal, "shipping_minor": s.shipping, "total_minor": total}
    emit(OrderCreated(order_id=order_id, customer_phone=None, lines=lines, **contact, **money))
    if s.outcome == "pending":
        return
    if s.outcome in {"declined", "failed"}:
        emit(PaymentFailed(payment_id=payment_id, order_id=order_id, status=s.outcome, reason=None))
        emit(
            OrderCancelled(
                order_id=order_id,
                reason="payment_declined",
                was_paid=False,
                currency=s.currency,
                total_minor=total,
                order_number=1,
                customer_email="buyer@example.com",
                customer_name=None,
            )
        )
        return
    emit(
        PaymentAuthorized(
            payment_id=payment_id, order_id=order_id, provider="sandbox", amount_minor=total, currency=s.currency
        )
    )
    captured = s.captured_at_once
    if captured:
        emit(PaymentCaptured(payment_id=payment_id, order_id=order_id, captured_minor=total, currency=s.currency))
    emit(OrderPaid(order_id=order_id, payment_id=payment_id, customer_phone=None, lines=lines, **contact, **money))
    refunded = 0
    if captured:
        for per_mille in s.refunds:
            amount = (total - refunded) * per_mille // 1000
            if amount <= 0:
                continue
            refunded += amount
            emit(
                PaymentRefunded(
                    payment_id=payment_id,
                    order_id=order_id,
                    refund_id=new_id("ref"),
                    amount_minor=amount,
                    refunded_total_minor=refunded,
                    currency=s.currency,
                )
            )
            emit(
                OrderRefunded(
                    order_id=order_id,
                    order_number=1,
                    customer_email="buyer@example.com",
                    currency=s.currency,
                    refunded_minor=amount,
                    total_refunded_minor=refunded,
                    fully_refunded=refunded == total,
                )
            )
    if s.cancel:
        if captured and total > refunded:
            emit(
                PaymentRefunded(
                    payment_id=payment_id,
                    order_id=order_id,
                    refund_id=new_id("ref"),
                    amount_minor=total - refunded,
                    refunded_total_minor=total,
                    currency=s.currency,
                )
            )
        elif not captured:
            emit(PaymentVoided(payment_id=payment_id, order_id=order_id, reason="requested"))
        emit(
            OrderCancelled(
                order_id=order_id,
                reason="requested",
                was_paid=True,
                currency=s.currency,
                total_minor=total,
                order_number=1,
                customer_email="buyer@example.com",
                customer_name=None,
            )
        )
    elif s.ship:
        if not captured:
            emit(PaymentCaptured(payment_id=payment_id, order_id=order_id, captured_minor=total, currency=s.currency))
        emit(
            OrderShipped(
                order_id=order_id,
                carrier="DHL",
                tracking_number="T1",
                order_number=1,
                customer_email="buyer@example.com",
                customer_name=None,
                customer_phone=None,
            )
        )


# --- the reports, computed straight from a history -----------------------------------------------------------------


def bucket(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if granularity == "month" else day


def _day(e: Envelope) -> date:
    return e.occurred_at.astimezone(UTC).date()


def expected_sales(history: History, org: str, granularity: str) -> list[dict[str, Any]]:
    rows: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    refunded: dict[str, int] = defaultdict(int)
    currency_of: dict[str, str] = {}
    events = [e for e in history.events if e.org_id == org]
    for e in events:
        p = e.payload
        if e.name == "orders.order_paid":
            currency_of[p["order_id"]] = p["currency"]
        if e.name == "orders.order_refunded":
            refunded[p["order_id"]] += p["refunded_minor"]
    for e in events:
        p = e.payload
        if e.name == "orders.order_paid":
            row = rows[(bucket(_day(e), granularity), p["currency"])]
            row["orders"] += 1
            row["units"] += sum(line["quantity"] for line in p["lines"])
            row["gross_minor"] += p["total_minor"]
        elif e.name == "orders.order_refunded":
            row = rows[(bucket(_day(e), granularity), p["currency"])]
            row["refunds"] += 1
            row["refunded_minor"] += p["refunded_minor"]
        elif e.name == "orders.order_cancelled" and p["was_paid"]:
            row = rows[(bucket(_day(e), granularity), p["currency"])]
            row["cancellations"] += 1
            row["cancelled_minor"] += p["total_minor"] - refunded[p["order_id"]]
        elif e.name == "orders.order_shipped":
            rows[(bucket(_day(e), granularity), currency_of[p["order_id"]])]["shipped"] += 1
    out = []
    for (start, currency), r in sorted(rows.items()):
        names = ("orders", "units", "gross_minor", "refunds", "refunded_minor", "cancellations", "cancelled_minor")
        line: dict[str, Any] = {"bucket": start.isoformat(), "currency": currency, **{n: r[n] for n in names}}
        line["net_minor"] = r["gross_minor"] - r["refunded_minor"] - r["cancelled_minor"]
        line["average_order_minor"] = round_half_up(r["gross_minor"], r["orders"])
        line["shipped"] = r["shipped"]
        out.append(line)
    return out


def round_half_up(total: int, count: int) -> int:
    if not count:
        return 0
    quotient, remainder = divmod(total, count)
    return quotient + (1 if 2 * remainder >= count else 0)


def expected_payments(history: History, org: str, granularity: str) -> list[dict[str, Any]]:
    rows: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    events = [e for e in history.events if e.org_id == org]
    order_total = {e.payload["order_id"]: e.payload for e in events if e.name == "orders.order_created"}
    authorized = {e.payload["payment_id"]: e.payload for e in events if e.name == "payments.payment_authorized"}
    for e in events:
        p, when = e.payload, _day(e)
        if e.name == "payments.payment_authorized":
            _add(rows, when, granularity, p["currency"], "authorized", p["amount_minor"])
        elif e.name == "payments.payment_captured":
            _add(rows, when, granularity, p["currency"], "captured", p["captured_minor"])
        elif e.name == "payments.payment_failed":
            order = order_total[p["order_id"]]
            _add(rows, when, granularity, order["currency"], p["status"], order["total_minor"])
        elif e.name == "payments.payment_voided":
            auth = authorized[p["payment_id"]]
            _add(rows, when, granularity, auth["currency"], "voided", auth["amount_minor"])
        elif e.name == "payments.payment_refunded":
            _add(rows, when, granularity, p["currency"], "refunds", p["amount_minor"], minor="refunded_minor")
    kinds = ("authorized", "captured", "declined", "failed", "voided")
    out = []
    for (start, currency), r in sorted(rows.items()):
        row: dict[str, Any] = {"bucket": start.isoformat(), "currency": currency}
        for kind in kinds:
            row[kind] = r[kind]
            row[f"{kind}_minor"] = r[f"{kind}_minor"]
        row["refunds"], row["refunded_minor"] = r["refunds"], r["refunded_minor"]
        out.append(row)
    return out


def _add(rows: Any, when: date, granularity: str, currency: str, kind: str, amount: int, minor: str = "") -> None:
    row = rows[(bucket(when, granularity), currency)]
    row[kind] += 1
    row[minor or f"{kind}_minor"] += amount


def expected_products(history: History, org: str, sort: str, limit: int) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for e in history.events:
        if e.org_id != org or e.name != "orders.order_paid":
            continue
        for line in e.payload["lines"]:
            key = (e.payload["currency"], line["sku"])
            row = totals.setdefault(key, {"name": line["name"], "units": 0, "revenue_minor": 0, "orders": set()})
            row["name"] = max(row["name"], line["name"])
            row["units"] += line["quantity"]
            row["revenue_minor"] += line["line_total_minor"]
            row["orders"].add(e.payload["order_id"])
    rows = [
        {
            "currency": c,
            "sku": sku,
            "name": r["name"],
            "units": r["units"],
            "revenue_minor": r["revenue_minor"],
            "orders": len(r["orders"]),
        }
        for (c, sku), r in totals.items()
    ]
    first, second = ("revenue_minor", "units") if sort == "revenue" else ("units", "revenue_minor")
    rows.sort(key=lambda r: (-r[first], -r[second], r["currency"], r["sku"].encode()))
    return rows[:limit]


# --- delivering and reading back -------------------------------------------------------------------------------

FROM, TO = date(2026, 1, 1), date(2026, 12, 31)
CONSUMER = workflows.PROJECTION


async def deliver(store: Database, envelopes: list[Any], *, attempts: int = 8) -> None:
    """Run the subscriber for each delivery, retrying a failed one as the bus would (a deadlock between
    concurrent duplicates is retried, not lost)."""
    workflows.install(store)
    try:
        for envelope in envelopes:
            for attempt in range(1, attempts + 1):
                try:
                    await subscribers.on_event(store, Delivery(envelope, CONSUMER, attempt))
                    break
                except Exception:
                    if attempt == attempts:
                        raise
                    await asyncio.sleep(0.01 * attempt)  # back-off between retries, as the bus's policy does
    finally:
        workflows.uninstall(store)


async def deliver_batches(
    store: Database, envelopes: list[Any], rnd: random.Random, *, largest: int = 25, attempts: int = 8
) -> None:
    """Run the subscriber's batch handler on consecutive batches of random sizes (a batch may hold an event
    twice, or two events of one aggregate: more than a dispatcher's batch ever does), retrying a failed
    batch as the dispatcher would."""
    workflows.install(store)
    try:
        at = 0
        while at < len(envelopes):
            size = rnd.randint(1, largest)
            batch = [Delivery(e, CONSUMER) for e in envelopes[at : at + size]]
            at += size
            for attempt in range(1, attempts + 1):
                try:
                    await subscribers.on_events(store, batch)
                    break
                except Exception:
                    if attempt == attempts:
                        raise
                    await asyncio.sleep(0.01 * attempt)  # back-off between retries, as the bus's policy does
    finally:
        workflows.uninstall(store)


async def reports_of(store: Database, org: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for granularity in Granularity:
        sales = await workflows.sales_report(store, org, FROM, TO, granularity, None)
        out[f"sales/{granularity}"] = [SalesRowOut.of(r).model_dump(mode="json") for r in sales]
        payments = await workflows.payments_report(store, org, FROM, TO, granularity, None)
        out[f"payments/{granularity}"] = [PaymentsRowOut.of(r).model_dump(mode="json") for r in payments]
    for sort in ProductSort:
        products = await workflows.products_report(store, org, FROM, TO, None, sort, 3)
        out[f"products/{sort}"] = [ProductRowOut.of(r).model_dump(mode="json") for r in products]
    return out


def expected_reports(history: History, org: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for granularity in Granularity:
        out[f"sales/{granularity}"] = expected_sales(history, org, granularity.value)
        out[f"payments/{granularity}"] = expected_payments(history, org, granularity.value)
    for sort in ProductSort:
        out[f"products/{sort}"] = expected_products(history, org, sort.value, 3)
    return out


# --- stores -------------------------------------------------------------------------------------------------------


def _mysql_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }


@asynccontextmanager
async def mariadb_database(server_url: str, *, migrated: bool = True) -> AsyncIterator[str]:
    """A database of its own on the MariaDB server, migrated for reporting (unless told not); dropped after."""
    name = f"emporium_reporting_{secrets.token_hex(4)}"
    conn = await aiomysql.connect(**_mysql_parts(server_url), autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        if migrated:
            await upgrade_reporting(url)
        yield url
    finally:
        conn = await aiomysql.connect(**_mysql_parts(server_url), autocommit=True)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def open_store(url: str) -> Database:
    return Database(url, application_name="emporium-reporting-test", schema_translate_map=schema_map(url))
