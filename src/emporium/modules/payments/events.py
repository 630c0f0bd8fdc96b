"""Events the payments module publishes, in the same transaction as the change they describe.

The aggregate is the payment (`payment_id`): a payment's events are delivered
in the order they happened. Each carries `order_id`, so the orders module can
follow its order's payment without reading payments' tables.
"""

from __future__ import annotations

from typing import ClassVar

from emporium.platform.events.contracts import Event


class PaymentAuthorized(Event):
    event_name: ClassVar[str] = "payments.payment_authorized"
    aggregate_type: ClassVar[str] = "payment"
    aggregate_field: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    provider: str
    amount_minor: int
    currency: str


class PaymentCaptured(Event):
    event_name: ClassVar[str] = "payments.payment_captured"
    aggregate_type: ClassVar[str] = "payment"
    aggregate_field: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    captured_minor: int
    currency: str


class PaymentRefunded(Event):
    event_name: ClassVar[str] = "payments.payment_refunded"
    aggregate_type: ClassVar[str] = "payment"
    aggregate_field: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    refund_id: str
    amount_minor: int
    refunded_total_minor: int
    currency: str


class PaymentFailed(Event):
    """The authorization ended without funds: `status` is `declined` or `failed`."""

    event_name: ClassVar[str] = "payments.payment_failed"
    aggregate_type: ClassVar[str] = "payment"
    aggregate_field: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    status: str
    reason: str | None


class PaymentVoided(Event):
    """The authorization was released: `reason` is `requested`, `expired` or `provider`."""

    event_name: ClassVar[str] = "payments.payment_voided"
    aggregate_type: ClassVar[str] = "payment"
    aggregate_field: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    reason: str
