"""Order rules: the state machine as a transition table, totals as pure helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from emporium.platform.errors import FieldError, InvalidTransition, ValidationFailed
from emporium.platform.money import Money, total


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class CaptureMode(StrEnum):
    IMMEDIATE = "immediate"  # capture right after authorization
    ON_FULFILLMENT = "on_fulfillment"  # capture when the order ships


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CANCELLED}),
    S.FULFILLED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.FULFILLED, S.DELIVERED}),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}
REFUNDABLE = frozenset({S.PAID, S.FULFILLED, S.DELIVERED, S.PARTIALLY_REFUNDED})
HOLDS_RESERVATION = frozenset({S.PENDING_PAYMENT, S.PAID, S.PARTIALLY_REFUNDED})


def check_payable(total_minor: int) -> None:
    """An order is paid by card: its total must be positive (checked before anything is written)."""
    if total_minor <= 0:
        raise ValidationFailed(
            "the order total must be positive",
            errors=[FieldError("lines", "total_positive", "the lines and shipping must add up to more than 0")],
        )


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition("order", current.value, target.value)


def check_cancellable(o: Order) -> None:
    """Checked before anything is refunded or voided for a cancel: a shipped order is refunded, not cancelled."""
    if o.status is not S.CANCELLED and S.CANCELLED not in TRANSITIONS[o.status]:
        raise InvalidTransition("order", o.status.value, S.CANCELLED.value, hint="a shipped order is refunded instead")


def status_after_refund(current: OrderStatus, refunded: Money, order_total: Money) -> OrderStatus:
    target = S.REFUNDED if refunded.amount >= order_total.amount else S.PARTIALLY_REFUNDED
    check_transition(current, target)
    return target


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_no: int
    product_id: str
    sku: str
    name: str
    unit_price: Money
    quantity: int

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Money
    shipping: Money
    total: Money


def order_totals(lines: Sequence[OrderLine], shipping: Money) -> Totals:
    """One currency per order: every line and the shipping must share it."""
    currency = shipping.currency
    for line in lines:
        if line.unit_price.currency != currency:
            raise ValidationFailed(
                f"line {line.line_no} is priced in {line.unit_price.currency}, the order in {currency}",
                errors=[FieldError(f"lines[{line.line_no}]", "currency", f"every price must be in {currency}")],
            )
    subtotal = total((line.total for line in lines), currency)
    return Totals(subtotal, shipping, subtotal + shipping)


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    org_id: str
    number: int
    status: OrderStatus
    capture_mode: CaptureMode
    customer_email: str
    customer_name: str | None
    customer_phone: str | None
    shipping_address: dict[str, Any]
    metadata: dict[str, Any]
    lines: tuple[OrderLine, ...]
    subtotal: Money
    shipping: Money
    total: Money
    refunded: Money
    carrier: str | None
    tracking_number: str | None
    cancel_reason: str | None
    reservation_expires_at: datetime
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def currency(self) -> str:
        return self.total.currency

    @property
    def is_awaiting_payment(self) -> bool:
        return self.status is S.PENDING_PAYMENT

    @property
    def is_cancelled(self) -> bool:
        return self.status is S.CANCELLED

    @property
    def captures_immediately(self) -> bool:
        """The payment is taken when the order is paid (else when it ships)."""
        return self.capture_mode is CaptureMode.IMMEDIATE

    @property
    def expects_captured_payment(self) -> bool:
        """Paid with immediate capture: its payment must be captured, not only authorized."""
        return self.captures_immediately and self.status in REFUNDABLE

    @property
    def may_still_be_cancelled(self) -> bool:
        """Not shipped, refunded or cancelled yet (an expired authorization cancels it)."""
        return self.status in (S.PENDING_PAYMENT, S.PAID)
