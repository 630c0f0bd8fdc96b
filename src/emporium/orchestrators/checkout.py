"""Checkout and the processes around it, as flows over the orders and payments workflows.

    place order (reserve stock) -> start authorization -> authorize -> mark paid (-> capture)
                                                      \\-> declined: cancel order (release stock)

Each step is its own transaction; a crash between two steps leaves a state
`recovery.py` finishes or compensates. No rules live here: the workflows decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from emporium.modules.orders import workflows as orders
from emporium.modules.orders.workflows import OrderSpec
from emporium.modules.payments import workflows as payments
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.errors import Conflict, PaymentDeclined
from emporium.platform.idempotency.store import IdempotencyClaim
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced

AUTHORIZED = frozenset({"authorized", "captured"})
REFUSED = frozenset({"declined", "failed", "voided", "expired"})


@dataclass(frozen=True, slots=True)
class PaymentChoice:
    provider: str
    card_token: str


@dataclass(frozen=True, slots=True)
class Checkout:
    order: orders.Order
    settled: bool  # False: the payment outcome is not known yet; recovery will settle it


@traced
async def settle(db: Database, order: orders.Order, payment: payments.Payment) -> Checkout:
    """Move the order according to its payment: paid (and captured), cancelled, or left pending."""
    if payment.status in AUTHORIZED:
        paid = await orders.mark_paid(db, order.org_id, order.id, payment.id)
        if paid.capture_mode.value == "immediate" and payment.status == "authorized":
            await payments.capture(db, org_id=order.org_id, payment_id=payment.id)
        return Checkout(paid, True)
    if payment.status in REFUSED:
        await orders.cancel_order(db, order.org_id, order.id, reason=f"payment_{payment.status}")
        raise PaymentDeclined(f"the payment for order {order.id} was {payment.status}", order_id=order.id)
    return Checkout(order, False)


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
    order = await orders.place_order(db, principal, audit, claim, spec, reservation_ttl=reservation_ttl)
    started = await payments.start_authorization(
        db,
        org_id=order.org_id,
        order_id=order.id,
        amount=order.total,
        card_token=payment.card_token,
        provider=payment.provider,
    )
    authorized = await payments.authorize(db, org_id=order.org_id, payment_id=started.id)
    return await settle(db, order, authorized)


@traced
async def cancel(db: Database, principal: Principal, audit: AuditContext, order_id: str, reason: str) -> orders.Order:
    order = await orders.get_order(db, principal, order_id)
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    if payment is not None and payment.status == "captured":
        raise Conflict(f"order {order_id} has been charged; refund it instead of cancelling")
    if payment is not None and payment.status in {"pending", "authorized"}:
        if payment.status == "pending":
            payment = await payments.resolve_pending(db, org_id=order.org_id, payment_id=payment.id)
        if payment.status == "authorized":
            await payments.void(db, org_id=order.org_id, payment_id=payment.id)
    return await orders.cancel_order(db, principal.org_id, order_id, reason=reason, audit=audit)


@traced
async def fulfill(
    db: Database, principal: Principal, audit: AuditContext, order_id: str, *, carrier: str, tracking_number: str
) -> orders.Order:
    order = await orders.get_order(db, principal, order_id)
    if order.capture_mode.value == "on_fulfillment":
        payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
        if payment is not None and payment.status == "authorized":
            await payments.capture(db, org_id=order.org_id, payment_id=payment.id)
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
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    if payment is None or payment.status != "captured":
        raise Conflict(f"order {order_id} has no captured payment to refund; cancel it instead")
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
