"""What documents does with orders' events (edge role: parse the event, call one workflow).

- `documents.invoices`       OrderPaid     -> invoice (lines and totals from the event)
- `documents.credit_notes`   OrderRefunded -> credit note (the invoice's lines and totals, plus the refund)
- `documents.packing_slips`  OrderShipped  -> packing slip (the invoice's lines, plus carrier and tracking)

Orders' events are delivered in order per order, so the invoice exists before the refund or the
shipment is handled (OrderRefunded and OrderShipped do not carry the lines).
"""

from __future__ import annotations

from emporium.modules.documents import workflows
from emporium.modules.documents.domain import Content, DocumentKind, Line
from emporium.modules.documents.workflows import IssueRequest
from emporium.modules.orders.events import OrderPaid, OrderRefunded, OrderShipped
from emporium.platform.db.engine import Database
from emporium.platform.events.subscriptions import Delivery, Subscription


def _org(delivery: Delivery) -> str:
    if not delivery.event.org_id:
        raise ValueError(f"event {delivery.event.id} has no org")
    return delivery.event.org_id


async def on_order_paid(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderPaid)
    content = Content(
        order_number=event.order_number,
        currency=event.currency,
        customer_email=event.customer_email,
        customer_name=event.customer_name,
        lines=tuple(
            Line(line.sku, line.name, line.quantity, line.unit_price_minor, line.line_total_minor)
            for line in event.lines
        ),
        subtotal_minor=event.subtotal_minor,
        shipping_minor=event.shipping_minor,
        total_minor=event.total_minor,
    )
    request = IssueRequest(DocumentKind.INVOICE, _org(delivery), event.order_id, content=content)
    await workflows.issue_document(db, delivery, request)


async def on_order_refunded(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderRefunded)
    amendments = {"refunded_minor": event.refunded_minor, "total_refunded_minor": event.total_refunded_minor}
    request = IssueRequest(DocumentKind.CREDIT_NOTE, _org(delivery), event.order_id, amendments=amendments)
    await workflows.issue_document(db, delivery, request)


async def on_order_shipped(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderShipped)
    amendments = {"carrier": event.carrier, "tracking_number": event.tracking_number}
    request = IssueRequest(DocumentKind.PACKING_SLIP, _org(delivery), event.order_id, amendments=amendments)
    await workflows.issue_document(db, delivery, request)


SUBSCRIPTIONS = [
    Subscription(
        "documents.invoices",
        on_order_paid,
        reads={
            OrderPaid.key(): frozenset(
                {
                    "order_id",
                    "order_number",
                    "customer_email",
                    "customer_name",
                    "currency",
                    "subtotal_minor",
                    "shipping_minor",
                    "total_minor",
                    "lines.sku",
                    "lines.name",
                    "lines.quantity",
                    "lines.unit_price_minor",
                    "lines.line_total_minor",
                }
            )
        },
    ),
    Subscription(
        "documents.credit_notes",
        on_order_refunded,
        reads={OrderRefunded.key(): frozenset({"order_id", "refunded_minor", "total_refunded_minor"})},
    ),
    Subscription(
        "documents.packing_slips",
        on_order_shipped,
        reads={OrderShipped.key(): frozenset({"order_id", "carrier", "tracking_number"})},
    ),
]
