"""The reporting store: recording facts and summing them (service role: the caller's transaction).

Every statement here is portable SQLAlchemy Core except the upserts, which `upserts.py` builds per dialect;
`dialect` is the store's (`Database.dialect_name`). Figures are summed per UTC day in SQL (`GROUP BY day`) and
rolled up into weeks and months by `domain.roll_up`, so no date function of any one dialect is needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, delete, func, select, true

from emporium.modules.reporting import domain as d
from emporium.modules.reporting import tables as t
from emporium.modules.reporting.upserts import insert_new, upsert
from emporium.platform.db.tx import Tx

Rows = dict[Table, dict[tuple[Any, ...], dict[str, Any]]]


def _key(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


_TABLE_OF: dict[type[d.Fact], Table] = {
    d.OrderPlaced: t.order_placed,
    d.OrderPaid: t.order_paid,
    d.OrderRefund: t.order_refund,
    d.OrderCancelled: t.order_cancelled,
    d.OrderShipped: t.order_shipped,
    d.PaymentAuthorized: t.payment_authorized,
    d.PaymentCaptured: t.payment_captured,
    d.PaymentFailed: t.payment_failed,
    d.PaymentVoided: t.payment_voided,
    d.PaymentRefund: t.payment_refund,
}


def rows_of(facts: Iterable[d.Fact]) -> Rows:
    """The rows the facts become, per table, one per key (a fact seen twice in a batch is written once).
    A fact's fields are its table's columns; a paid order also writes its lines and its units."""
    rows: Rows = defaultdict(dict)

    def add(table: Table, row: dict[str, Any]) -> None:
        rows[table].setdefault(_key(table, row), row)

    for f in facts:
        row = {field.name: getattr(f, field.name) for field in fields(f) if field.name != "lines"}
        if isinstance(f, d.OrderPaid):
            row["units"] = f.units
            for line_no, line in enumerate(f.lines):
                add(t.order_line, {"order_id": f.order_id, "line_no": line_no, "org_id": f.org_id, "sku": line.sku,
                                   "name": line.name, "currency": f.currency, "quantity": line.quantity,
                                   "revenue_minor": line.revenue_minor, "day": f.day})  # fmt: skip
        add(_TABLE_OF[type(f)], row)
    return rows


async def record_facts(tx: Tx, dialect: str, rows: Rows) -> None:
    """Insert the rows, keeping any already there (one executemany per table).

    Tables in a fixed order and rows in key order: two transactions writing overlapping keys (a duplicate
    delivery next to a batch, a rebuild next to the live projection) then wait on each other's keys in the
    same order instead of deadlocking."""
    for table in t.FACT_TABLES:
        batch = rows.get(table)
        if batch:
            await tx.execute(upsert(dialect, table), [batch[key] for key in sorted(batch)])


# --- the inbox -----------------------------------------------------------------------------------------------


async def applied_among(tx: Tx, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Which of these events `consumer` has applied already (one query for a whole batch)."""
    a = t.applied_event
    found = await tx.execute(select(a.c.event_id).where(a.c.consumer == consumer, a.c.event_id.in_(event_ids)))
    return {row[0] for row in found}


def _inbox_rows(consumer: str, events: Sequence[tuple[str, str, datetime]], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "consumer": consumer,
            "event_id": event_id,
            "org_id": org_id,
            "occurred_at": d.naive_utc(at),
            "applied_at": d.naive_utc(now),
        }
        for event_id, org_id, at in sorted(events)  # key order, as in `record_facts`
    ]


async def mark_applied(
    tx: Tx, dialect: str, consumer: str, events: Sequence[tuple[str, str, datetime]], now: datetime
) -> None:
    """Record (event id, org, time) as applied by `consumer`; an event recorded before is kept."""
    rows = _inbox_rows(consumer, events, now)
    if rows:
        await tx.execute(upsert(dialect, t.applied_event), rows)


async def mark_first_applied(
    tx: Tx, dialect: str, consumer: str, events: Sequence[tuple[str, str, datetime]], now: datetime
) -> set[str]:
    """Record the events as applied by `consumer` and return the ids of those it had not applied before.

    PostgreSQL does both in one statement (`ON CONFLICT DO NOTHING RETURNING`), decided by the primary key
    alone. Asking first (`applied_among`) is what the other dialects do; on PostgreSQL that query's plan
    depends on the table's statistics, and on a table that grew fast since its last ANALYZE (a new
    store, or just after a rebuild) it scanned every inbox row per batch (decision 038)."""
    rows = _inbox_rows(consumer, events, now)
    if not rows:
        return set()
    statement = insert_new(dialect, t.applied_event, "event_id")
    if statement is not None:
        return set((await tx.execute(statement, rows)).scalars())
    seen = await applied_among(tx, consumer, [row["event_id"] for row in rows])
    fresh = [row for row in rows if row["event_id"] not in seen]
    if fresh:
        await tx.execute(upsert(dialect, t.applied_event), fresh)
    return {row["event_id"] for row in fresh}


async def forget(tx: Tx, org_id: str | None) -> None:
    """Delete the facts and inbox rows of one org (or all): the start of a rebuild."""
    for table in (*t.FACT_TABLES, t.applied_event):
        statement = delete(table)
        if org_id is not None:
            statement = statement.where(table.c.org_id == org_id)
        await tx.execute(statement)


async def newest_applied(tx: Tx) -> tuple[datetime | None, int]:
    """The newest applied event's time (naive UTC) and how many events were applied."""
    query = select(func.max(t.applied_event.c.occurred_at).label("newest"), func.count().label("applied"))
    row = (await tx.execute(query.select_from(t.applied_event))).mappings().one()
    return row["newest"], int(row["applied"])


# --- reports -------------------------------------------------------------------------------------------------


def _in_range(table: Table, org_id: str, start: date, end: date, currency: str | None) -> ColumnElement[bool]:
    condition = and_(table.c.org_id == org_id, table.c.day >= start, table.c.day <= end)
    if currency is not None and "currency" in table.c:
        condition = and_(condition, table.c.currency == currency)
    return condition


def _daily(table: Table, currency: ColumnElement[Any], sums: dict[str, ColumnElement[Any]]) -> Select[Any]:
    labelled = [expr.label(name) for name, expr in sums.items()]
    return select(table.c.day, currency.label("currency"), *labelled).group_by(table.c.day, currency)


def _refunded_per_order(org_id: str) -> Any:
    r = t.order_refund
    return (
        select(r.c.order_id, func.sum(r.c.amount_minor).label("refunded"))
        .where(r.c.org_id == org_id)
        .group_by(r.c.order_id)
        .subquery("refunded")
    )


def sales_queries(org_id: str, start: date, end: date, currency: str | None) -> list[Select[Any]]:
    """Daily sums per currency: sales (on the payment's day), refunds, cancellations of paid orders, shipments."""
    paid, refund, cancelled, shipped = t.order_paid, t.order_refund, t.order_cancelled, t.order_shipped
    refunded = _refunded_per_order(org_id)
    cancelled_amount = cancelled.c.total_minor - func.coalesce(refunded.c.refunded, 0)
    shipped_paid = shipped.join(paid, paid.c.order_id == shipped.c.order_id)
    return [
        _daily(
            paid,
            paid.c.currency,
            {"orders": func.count(), "units": func.sum(paid.c.units), "gross_minor": func.sum(paid.c.total_minor)},
        ).where(_in_range(paid, org_id, start, end, currency)),
        _daily(
            refund, refund.c.currency, {"refunds": func.count(), "refunded_minor": func.sum(refund.c.amount_minor)}
        ).where(_in_range(refund, org_id, start, end, currency)),
        _daily(
            cancelled,
            cancelled.c.currency,
            {"cancellations": func.count(), "cancelled_minor": func.sum(cancelled_amount)},
        )
        .select_from(cancelled.outerjoin(refunded, refunded.c.order_id == cancelled.c.order_id))
        # `== true()`, not `.is_(True)`: SQL Server has no `IS 1`.
        .where(_in_range(cancelled, org_id, start, end, currency), cancelled.c.was_paid == true()),
        select(shipped.c.day, paid.c.currency.label("currency"), func.count().label("shipped"))
        .select_from(shipped_paid)
        .where(_in_range(shipped, org_id, start, end, None), *([paid.c.currency == currency] if currency else []))
        .group_by(shipped.c.day, paid.c.currency),
    ]


def _only(column: ColumnElement[str], currency: str | None) -> list[ColumnElement[bool]]:
    return [column == currency] if currency else []


def payments_queries(org_id: str, start: date, end: date, currency: str | None) -> list[Select[Any]]:
    """Daily sums per currency of each payment outcome. A failed payment's amount and currency are its
    order's (from OrderCreated), joined when the report is read: whichever event arrived first, the row
    appears once both have."""
    auth, cap, fail, void, ref = (
        t.payment_authorized,
        t.payment_captured,
        t.payment_failed,
        t.payment_voided,
        t.payment_refund,
    )
    placed = t.order_placed
    failures = fail.join(placed, placed.c.order_id == fail.c.order_id)
    voids = void.join(auth, auth.c.payment_id == void.c.payment_id)
    return [
        _daily(
            auth, auth.c.currency, {"authorized": func.count(), "authorized_minor": func.sum(auth.c.amount_minor)}
        ).where(_in_range(auth, org_id, start, end, currency)),
        _daily(cap, cap.c.currency, {"captured": func.count(), "captured_minor": func.sum(cap.c.amount_minor)}).where(
            _in_range(cap, org_id, start, end, currency)
        ),
        _daily(
            fail,
            placed.c.currency,
            {
                "declined": func.sum(case((fail.c.status == "declined", 1), else_=0)),
                "declined_minor": func.sum(case((fail.c.status == "declined", placed.c.total_minor), else_=0)),
                "failed": func.sum(case((fail.c.status == "declined", 0), else_=1)),
                "failed_minor": func.sum(case((fail.c.status == "declined", 0), else_=placed.c.total_minor)),
            },
        )
        .select_from(failures)
        .where(_in_range(fail, org_id, start, end, None), *_only(placed.c.currency, currency)),
        _daily(void, auth.c.currency, {"voided": func.count(), "voided_minor": func.sum(auth.c.amount_minor)})
        .select_from(voids)
        .where(_in_range(void, org_id, start, end, None), *_only(auth.c.currency, currency)),
        _daily(ref, ref.c.currency, {"refunds": func.count(), "refunded_minor": func.sum(ref.c.amount_minor)}).where(
            _in_range(ref, org_id, start, end, currency)
        ),
    ]


def products_query(
    org_id: str, start: date, end: date, currency: str | None, sort: d.ProductSort, limit: int
) -> Select[Any]:
    """Units and revenue per product (SKU and currency) over paid orders' lines, best first."""
    line = t.order_line
    units, revenue = func.sum(line.c.quantity), func.sum(line.c.revenue_minor)
    first, second = (revenue, units) if sort is d.ProductSort.REVENUE else (units, revenue)
    return (
        select(
            line.c.currency,
            line.c.sku,
            func.max(line.c.name).label("name"),
            units.label("units"),
            revenue.label("revenue_minor"),
            func.count(func.distinct(line.c.order_id)).label("orders"),
        )
        .where(_in_range(line, org_id, start, end, currency))
        .group_by(line.c.currency, line.c.sku)
        .order_by(first.desc(), second.desc(), line.c.currency, line.c.sku)
        .limit(limit)
    )


async def daily_figures(tx: Tx, queries: Sequence[Select[Any]]) -> list[d.DailyFigure]:
    figures: list[d.DailyFigure] = []
    for query in queries:
        for row in (await tx.execute(query)).mappings():
            values = {k: int(v or 0) for k, v in row.items() if k not in {"day", "currency"}}
            figures.append(d.DailyFigure(_as_date(row["day"]), str(row["currency"]), values))
    return figures


async def products(tx: Tx, query: Select[Any]) -> list[d.ProductRow]:
    return [
        d.ProductRow(str(r.currency), str(r.sku), str(r.name), int(r.units), int(r.revenue_minor), int(r.orders))
        for r in await tx.execute(query)
    ]


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value
