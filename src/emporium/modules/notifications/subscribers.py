"""What notifications does with other modules' events (edge role: parse the event, call one workflow).

Each purpose is its own consumer (its own inbox key, retries and dead letters):

- `notifications.order_confirmation`  OrderPaid     -> confirmation email (number, lines, totals): sent
                                      when the order is paid, never for an order that was not
- `notifications.cancellation_email`  OrderCancelled -> cancellation email, for an order that had been
                                      confirmed (a checkout refused at payment was never confirmed)
- `notifications.shipping_email`      OrderShipped  -> email with carrier and tracking number
- `notifications.shipping_sms`        OrderShipped  -> text message, when the order has a phone number
- `notifications.refund_email`        OrderRefunded -> refund email (OrderRefunded, not PaymentRefunded:
                                      it carries the customer's email and the order number)
- `notifications.webhooks`            every event   -> one delivery per subscribed webhook endpoint

`reads` lists the payload fields each one relies on (checked against the producers' contracts).
"""

from __future__ import annotations

from emporium.modules.notifications import workflows
from emporium.modules.notifications.workflows import EmailNotice, TextNotice
from emporium.modules.orders.events import OrderCancelled, OrderCreated, OrderPaid, OrderRefunded, OrderShipped
from emporium.modules.payments.events import (
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
)
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Event
from emporium.platform.events.subscriptions import Delivery, Subscription
from emporium.platform.money import Money


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


async def on_order_paid(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderPaid)
    context = {
        "order_number": event.order_number,
        "customer_name": event.customer_name,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price_minor, event.currency),
                "line_total": _money(line.line_total_minor, event.currency),
            }
            for line in event.lines
        ],
        "subtotal": _money(event.subtotal_minor, event.currency),
        "shipping": _money(event.shipping_minor, event.currency),
        "total": _money(event.total_minor, event.currency),
    }
    await workflows.send_email(db, delivery, EmailNotice(event.customer_email, "order_confirmed", context))


async def on_order_cancelled(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderCancelled)
    if event.was_paid:
        context = {
            "order_number": event.order_number,
            "customer_name": event.customer_name,
            "total": _money(event.total_minor, event.currency),
        }
        await workflows.send_email(db, delivery, EmailNotice(event.customer_email, "order_cancelled", context))


def _shipped_context(event: OrderShipped) -> dict[str, object]:
    return {
        "order_number": event.order_number,
        "customer_name": event.customer_name,
        "carrier": event.carrier,
        "tracking_number": event.tracking_number,
    }


async def on_order_shipped_email(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderShipped)
    await workflows.send_email(
        db, delivery, EmailNotice(event.customer_email, "order_shipped", _shipped_context(event))
    )


async def on_order_shipped_sms(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderShipped)
    if event.customer_phone:
        await workflows.send_text(
            db, delivery, TextNotice(event.customer_phone, "order_shipped", _shipped_context(event))
        )


async def on_order_refunded(db: Database, delivery: Delivery) -> None:
    event = delivery.event.parse(OrderRefunded)
    context = {
        "order_number": event.order_number,
        "refunded": _money(event.refunded_minor, event.currency),
        "total_refunded": _money(event.total_refunded_minor, event.currency),
        "fully_refunded": event.fully_refunded,
    }
    await workflows.send_email(db, delivery, EmailNotice(event.customer_email, "order_refunded", context))


async def on_any_event(db: Database, delivery: Delivery) -> None:
    await workflows.fan_out_webhooks(db, delivery)


# Every event a webhook endpoint may subscribe to; the whole payload is forwarded, so the whole contract is read.
WEBHOOK_EVENTS: tuple[type[Event], ...] = (
    OrderCreated,
    OrderPaid,
    OrderShipped,
    OrderCancelled,
    OrderRefunded,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentRefunded,
    PaymentFailed,
    PaymentVoided,
)

SHIPPED_FIELDS = frozenset({"order_number", "customer_email", "customer_name", "carrier", "tracking_number"})

SUBSCRIPTIONS = [
    Subscription(
        "notifications.order_confirmation",
        on_order_paid,
        reads={
            OrderPaid.key(): frozenset(
                {
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
        "notifications.cancellation_email",
        on_order_cancelled,
        reads={
            OrderCancelled.key(): frozenset(
                {"order_number", "was_paid", "customer_email", "customer_name", "currency", "total_minor"}
            )
        },
    ),
    Subscription("notifications.shipping_email", on_order_shipped_email, reads={OrderShipped.key(): SHIPPED_FIELDS}),
    Subscription(
        "notifications.shipping_sms",
        on_order_shipped_sms,
        reads={OrderShipped.key(): (SHIPPED_FIELDS - {"customer_email"}) | {"customer_phone"}},
    ),
    Subscription(
        "notifications.refund_email",
        on_order_refunded,
        reads={
            OrderRefunded.key(): frozenset(
                {
                    "order_number",
                    "customer_email",
                    "currency",
                    "refunded_minor",
                    "total_refunded_minor",
                    "fully_refunded",
                }
            )
        },
    ),
    Subscription(
        "notifications.webhooks",
        on_any_event,
        reads={cls.key(): frozenset(cls.model_fields) for cls in WEBHOOK_EVENTS},
    ),
]
