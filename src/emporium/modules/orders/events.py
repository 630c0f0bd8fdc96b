"""Events the orders module publishes (versioned contracts; see contracts/events/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from emporium.platform.events.contracts import Event


class EventLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int


class OrderCreated(Event):
    event_name: ClassVar[str] = "orders.order_created"
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: str
    order_number: int
    customer_email: str
    customer_name: str | None
    customer_phone: str | None
    currency: str
    subtotal_minor: int
    shipping_minor: int
    total_minor: int
    lines: list[EventLine]


class OrderPaid(Event):
    """v2 (v1 had only the ids and the total): it carries what the customer's confirmation shows,
    since the confirmation is sent when the order is paid, never before."""

    event_name: ClassVar[str] = "orders.order_paid"
    event_version: ClassVar[int] = 2
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"
    # Webhook endpoints pinned to v1 still receive it, rendered with v1's fields.
    earlier_versions: ClassVar[Mapping[int, tuple[str, ...]]] = {
        1: ("order_id", "order_number", "payment_id", "currency", "total_minor")
    }

    order_id: str
    order_number: int
    payment_id: str
    customer_email: str
    customer_name: str | None
    customer_phone: str | None
    currency: str
    subtotal_minor: int
    shipping_minor: int
    total_minor: int
    lines: list[EventLine]


class OrderShipped(Event):
    event_name: ClassVar[str] = "orders.order_shipped"
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: str
    order_number: int
    customer_email: str
    customer_name: str | None
    customer_phone: str | None
    carrier: str
    tracking_number: str


class OrderCancelled(Event):
    """v2 (v1 had the ids and the reason): `was_paid` says whether the customer had been told the
    order was confirmed (a checkout refused at payment was never confirmed), and the contact fields
    let the cancellation be sent without reading the orders module."""

    event_name: ClassVar[str] = "orders.order_cancelled"
    event_version: ClassVar[int] = 2
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"
    earlier_versions: ClassVar[Mapping[int, tuple[str, ...]]] = {1: ("order_id", "order_number", "reason")}

    order_id: str
    order_number: int
    reason: str
    was_paid: bool
    customer_email: str
    customer_name: str | None
    currency: str
    total_minor: int


class OrderRefunded(Event):
    event_name: ClassVar[str] = "orders.order_refunded"
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: str
    order_number: int
    customer_email: str
    currency: str
    refunded_minor: int
    total_refunded_minor: int
    fully_refunded: bool
