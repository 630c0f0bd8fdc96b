"""What reporting learns from other modules' events (edge role: turn an event into facts, call one workflow).

One consumer, `reporting.projection`, reads the orders and payments events below; `reads` lists the payload
fields it relies on (checked against the producers' contracts). The same translation feeds the rebuild from
the event history (`rebuild_from_history`), so live and rebuilt read models are made by one piece of code.
The catalog publishes no events: product names come from the order lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import partial

from emporium.modules.orders.events import OrderCancelled, OrderCreated, OrderPaid, OrderRefunded, OrderShipped
from emporium.modules.payments.events import (
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
)
from emporium.modules.reporting import domain as d
from emporium.modules.reporting import workflows
from emporium.modules.reporting.workflows import Applied, RebuildSummary
from emporium.platform.db.engine import Database
from emporium.platform.events import workflows as events
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.subscriptions import Delivery, Subscription

Translator = Callable[[Envelope, str, date], tuple[d.Fact, ...]]


def _created(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    created = e.parse(OrderCreated)
    return (d.OrderPlaced(org, created.order_id, created.currency, created.total_minor, day),)


def _paid(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    paid = e.parse(OrderPaid)
    lines = tuple(d.SoldLine(x.sku, x.name, x.quantity, x.line_total_minor) for x in paid.lines)
    return (d.OrderPaid(org, paid.order_id, paid.currency, paid.total_minor, day, lines),)


def _refunded(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    r = e.parse(OrderRefunded)
    return (d.OrderRefund(org, e.id, r.order_id, r.currency, r.refunded_minor, day),)


def _cancelled(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    c = e.parse(OrderCancelled)
    return (d.OrderCancelled(org, c.order_id, c.currency, c.total_minor, c.was_paid, day),)


def _shipped(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    return (d.OrderShipped(org, e.parse(OrderShipped).order_id, day),)


def _authorized(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    a = e.parse(PaymentAuthorized)
    return (d.PaymentAuthorized(org, a.payment_id, a.order_id, a.currency, a.amount_minor, day),)


def _captured(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    c = e.parse(PaymentCaptured)
    return (d.PaymentCaptured(org, e.id, c.payment_id, c.currency, c.captured_minor, day),)


def _failed(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    f = e.parse(PaymentFailed)
    return (d.PaymentFailed(org, f.payment_id, f.order_id, f.status, day),)


def _voided(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    v = e.parse(PaymentVoided)
    return (d.PaymentVoided(org, v.payment_id, v.order_id, day),)


def _payment_refunded(e: Envelope, org: str, day: date) -> tuple[d.Fact, ...]:
    r = e.parse(PaymentRefunded)
    return (d.PaymentRefund(org, e.id, r.payment_id, r.currency, r.amount_minor, day),)


TRANSLATORS: dict[tuple[str, int], Translator] = {
    OrderCreated.key(): _created,
    OrderPaid.key(): _paid,
    OrderRefunded.key(): _refunded,
    OrderCancelled.key(): _cancelled,
    OrderShipped.key(): _shipped,
    PaymentAuthorized.key(): _authorized,
    PaymentCaptured.key(): _captured,
    PaymentFailed.key(): _failed,
    PaymentVoided.key(): _voided,
    PaymentRefunded.key(): _payment_refunded,
}


def translate(envelope: Envelope) -> Applied | None:
    """The facts an event carries (None for an event reporting does not read, or one without an org)."""
    if envelope.org_id is None:
        return None
    translator = TRANSLATORS.get(envelope.key)
    if translator is None:
        return None
    facts = translator(envelope, envelope.org_id, d.utc_day(envelope.occurred_at))
    return Applied(envelope.id, envelope.org_id, envelope.occurred_at, facts)


async def on_event(_db: Database, delivery: Delivery) -> None:
    applied = translate(delivery.event)
    if applied is not None:
        await workflows.apply_event(workflows.installed_store(), applied, consumer=delivery.consumer)


async def on_events(_db: Database, deliveries: Sequence[Delivery]) -> None:
    """A dispatcher batch (decision 038): the same translation, applied in one transaction."""
    applied = [a for a in (translate(d.event) for d in deliveries) if a is not None]
    if applied:
        await workflows.apply_events(workflows.installed_store(), applied, consumer=deliveries[0].consumer)


_LINES = frozenset({"lines.sku", "lines.name", "lines.quantity", "lines.line_total_minor"})

READS: dict[tuple[str, int], frozenset[str]] = {
    OrderCreated.key(): frozenset({"order_id", "currency", "total_minor"}),
    OrderPaid.key(): frozenset({"order_id", "currency", "total_minor"}) | _LINES,
    OrderRefunded.key(): frozenset({"order_id", "currency", "refunded_minor"}),
    OrderCancelled.key(): frozenset({"order_id", "currency", "total_minor", "was_paid"}),
    OrderShipped.key(): frozenset({"order_id"}),
    PaymentAuthorized.key(): frozenset({"payment_id", "order_id", "currency", "amount_minor"}),
    PaymentCaptured.key(): frozenset({"payment_id", "currency", "captured_minor"}),
    PaymentFailed.key(): frozenset({"payment_id", "order_id", "status"}),
    PaymentVoided.key(): frozenset({"payment_id", "order_id"}),
    PaymentRefunded.key(): frozenset({"payment_id", "currency", "amount_minor"}),
}

SUBSCRIPTIONS = [Subscription(workflows.PROJECTION, on_event, reads=READS, batch_handler=on_events)]


async def rebuild_from_history(
    db: Database,
    store: Database,
    *,
    org_id: str | None,
    page_size: int = 2000,
    progress: Callable[[int], None] = lambda _n: None,
) -> RebuildSummary:
    """`emporium reporting rebuild`: the read model again from the published events kept in the outbox."""
    names = workflows.event_names(READS)
    history = partial(_page, db, names, org_id, page_size)
    return await workflows.rebuild(store, history, translate, org_id=org_id, progress=progress)


async def _page(
    db: Database, names: Sequence[str], org_id: str | None, limit: int, after: int
) -> list[tuple[int, Envelope]]:
    return await events.history_page(db, names, org_id=org_id, after_seq=after, limit=limit)
