"""Checkout and the processes around it, as flows over the orders and payments workflows.

    check the payment method (no write) -> place order (tx1: key, stock, order, pending payment)
      -> charge at the provider (no transaction; authorize and capture in one call for immediate capture)
      -> settle (tx2: payment outcome, order paid or cancelled with its stock released, stored answer)

A crash between two steps leaves a state `recovery.py` finishes or compensates.
No rules live here: the workflows and the domain decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from emporium.modules.orders import workflows as orders
from emporium.modules.orders.workflows import OrderSpec, PaymentChoice
from emporium.modules.payments import workflows as payments
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.idempotency.store import IdempotencyClaim
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced

__all__ = ["Checkout", "PaymentChoice", "cancel", "fulfill", "place_order", "refund"]


@dataclass(frozen=True, slots=True)
class Checkout:
    order: orders.Order
    settled: bool  # False: the payment outcome is not known yet; recovery will settle it


@traced
async def place_order(
    db: Database,
    principal: Principal,
    audit: AuditContext,
    claim: IdempotencyClaim,
    spec: OrderSpec,
    payment: PaymentChoice,
    *,
    reservation_ttl: timedelta,
) -> Checkout:
    payments.check_payment_method(db, payment.provider, payment.card_token, org_id=principal.org_id)
    placed = await orders.place_order(db, principal, audit, claim, spec, payment, reservation_ttl=reservation_ttl)
    result = await payments.charge(db, placed.payment, placed.card_token, capture=placed.order.captures_immediately)
    order = await orders.settle_checkout(db, placed.order, placed.payment, result, claim)
    return Checkout(order, not order.is_awaiting_payment)


@traced
async def cancel(db: Database, principal: Principal, audit: AuditContext, order_id: str, reason: str) -> orders.Order:
    """Cancel an unshipped order in one request: its authorization voided or its capture refunded (once, by a
    refund key derived from the order), then the order cancelled and its stock released. Safe to retry."""
    order = await orders.get_order(db, principal, order_id)
    orders.check_cancellable(order)
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    refunded = None
    if payment is not None:
        if payment.is_unresolved:
            payment = await payments.resolve_pending(db, org_id=order.org_id, payment_id=payment.id)
        if payment.awaits_capture:
            await payments.void(db, org_id=order.org_id, payment_id=payment.id)
        elif payment.is_charged:
            await payments.refund_remaining(db, payment, refund_key=f"cancel:{order.id}")
            refunded = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    return await orders.cancel_order(
        db, principal.org_id, order_id, reason=reason, audit=audit,
        refunded_total=refunded.refunded if refunded is not None else None,
    )  # fmt: skip


@traced
async def fulfill(
    db: Database, principal: Principal, audit: AuditContext, order_id: str, *, carrier: str, tracking_number: str
) -> orders.Order:
    order = await orders.get_order(db, principal, order_id)
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    if payment is not None and not order.captures_immediately:
        await payments.capture_held(db, payment)
    return await orders.fulfill_order(db, principal, audit, order_id, carrier=carrier, tracking_number=tracking_number)


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    payment_id: str
    amount: Money
    order: orders.Order


@traced
async def refund(
    db: Database, principal: Principal, audit: AuditContext, claim: IdempotencyClaim, order_id: str, amount_minor: int
) -> RefundResult:
    order = await orders.get_order(db, principal, order_id)
    orders.check_refundable(order)
    found = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    payment = payments.check_has_capture(found, order_id)
    amount = Money(amount_minor, order.currency)
    made = await payments.refund(
        db, org_id=order.org_id, payment_id=payment.id, amount=amount, refund_key=f"{claim.key}:{claim.fingerprint}"
    )
    after = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    assert after is not None
    updated = await orders.record_refund(
        db, order.org_id, order.id, refunded_total=after.refunded, refund=made.amount, audit=audit
    )
    return RefundResult(made.id, payment.id, made.amount, updated)
