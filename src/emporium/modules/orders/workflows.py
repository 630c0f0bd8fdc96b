"""Order workflows: one business outcome each, each owning its transaction.

The checkout orchestrator sequences them with the payments workflows; each is
safe to call again after a crash (a repeated call finds the order already in
the target state and returns it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from emporium.modules.orders import services as store
from emporium.modules.orders.domain import (
    HOLDS_RESERVATION,
    REFUNDABLE,
    Order,
    OrderLine,
    OrderStatus,
    check_cancellable,
    check_payable,
    check_transition,
    order_totals,
    status_after_refund,
)
from emporium.modules.orders.events import (
    EventLine,
    OrderCancelled,
    OrderCreated,
    OrderPaid,
    OrderRefunded,
    OrderShipped,
)
from emporium.modules.orders.services import AuthorizationResult, Payment
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.db.deferred import RowsMoved
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, NotFound, PaymentDeclined, ValidationFailed
from emporium.platform.events.outbox import publish
from emporium.platform.idempotency import store as idempotency_store
from emporium.platform.idempotency.store import IdempotencyClaim, KeyAlreadyClaimed
from emporium.platform.ids import new_id
from emporium.platform.money import Money
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced

__all__ = [
    "Order",
    "OrderSpec",
    "OrderStatus",
    "PaymentChoice",
    "PlacedOrder",
    "check_cancellable",
]  # the types the orchestrators see

S = OrderStatus


@dataclass(frozen=True, slots=True)
class OrderSpec:
    lines: Sequence[tuple[str, int]]  # (sku, quantity)
    customer_email: str
    customer_name: str | None = None
    customer_phone: str | None = None
    shipping_address: dict[str, Any] = field(default_factory=dict)
    shipping_minor: int = 0
    currency: str = "EUR"
    metadata: dict[str, Any] = field(default_factory=dict)


async def _locked(tx: Tx, org_id: str, order_id: str) -> Order:
    found = await store.get_order(tx, org_id, order_id, for_update=True)
    if found is None:
        raise NotFound(f"no order {order_id}")
    return found


ORDER_ID_PREFIX = "ord"
# The dispatchers need not wake for a new order's OrderCreated before its payment is settled: the settling
# transaction, which follows after one provider call, carries the wake-up for both (decision 040). If it
# never comes (a slow provider, a crash), the wake-up goes out after this long; dispatchers also poll.
SETTLE_CARRIES_THE_WAKEUP = 0.5


def is_order_id(value: str) -> bool:
    """Whether an id (e.g. an idempotency key's resource) names an order."""
    return value.startswith(f"{ORDER_ID_PREFIX}_")


@dataclass(frozen=True, slots=True)
class PaymentChoice:
    provider: str
    card_token: str


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The first transaction's result: the order, holding its stock, and its pending payment."""

    order: Order
    payment: Payment
    card_token: str


@traced
async def place_order(
    db: Database,
    principal: Principal,
    audit: AuditContext,
    claim: IdempotencyClaim | None,
    spec: OrderSpec,
    choice: PaymentChoice,
    *,
    reservation_ttl: timedelta,
) -> PlacedOrder:
    """Checkout's first transaction: reserve and price the lines in the catalog, record the order
    (with the org's capture mode), its lines and its pending payment, publish OrderCreated, and claim
    the key. Commonly one statement, without BEGIN or COMMIT (decision 043): the lines quoted as this
    process last saw them on sale, every write deferred, the reservation first, holding only if each
    line is still on sale as quoted and in stock. Else, or without a quote, nothing is written and the
    order is placed the locking way: the reservation is a statement of its own, which prices the lines
    and says what is short or unknown. A refusal rolls it all back: a refused checkout leaves no trace.

    The caller refused before this everything refusable without a write (the payment
    method: `payments.check_payment_method`). The key is claimed last, with the deferred writes:
    a twin of a request still in progress waits there for it, and the commit raises
    `KeyAlreadyClaimed` for a key another request holds. A refusal that came first is
    answered as the key's holder would be (the edge replays it, or says it is in flight),
    so a retry of a placed order is never told "out of stock".
    """
    place = partial(_place, db, principal, audit, claim, spec, choice, new_id(ORDER_ID_PREFIX), reservation_ttl)
    try:
        try:
            return await place(quote=True)
        except store.QuoteMoved:  # stock or a product moved since the quote: nothing was written
            return await place(quote=False)  # its locking reservation remembers each line as it is now
    except (ValidationFailed, Conflict) as refused:
        if claim is None or isinstance(refused, KeyAlreadyClaimed) or not await _key_held_elsewhere(db, claim):
            raise
        raise KeyAlreadyClaimed("this Idempotency-Key is in use by another request; retry later") from None


async def _place(
    db: Database, principal: Principal, audit: AuditContext, claim: IdempotencyClaim | None, spec: OrderSpec,
    choice: PaymentChoice, order_id: str, reservation_ttl: timedelta, *, quote: bool,
) -> PlacedOrder:  # fmt: skip
    org_id = principal.org_id
    async with transaction(db) as tx:
        tx.wakeups_may_wait(SETTLE_CARRIES_THE_WAKEUP)
        quoted = store.quote_lines(org_id, spec.lines) if quote else None
        number = await store.next_order_number(tx)  # from this process's block; a read when it is used up
        if quoted is not None:
            store.reserve_quoted_at_commit(tx, org_id, quoted)  # refused at COMMIT by QuoteMoved
        priced = quoted if quoted is not None else await store.reserve_stock(tx, org_id, spec.lines)
        lines = tuple(
            OrderLine(i, p.product_id, p.sku, p.name, p.unit_price, p.quantity) for i, p in enumerate(priced, start=1)
        )
        totals = order_totals(lines, Money(spec.shipping_minor, spec.currency))
        check_payable(totals.total.amount)  # refused: the transaction rolls back the reservation with the rest
        new = store.NewOrder(
            id=order_id, org_id=org_id, number=number, customer_email=spec.customer_email.strip().lower(),
            customer_name=spec.customer_name, customer_phone=spec.customer_phone,
            shipping_address=spec.shipping_address, metadata=spec.metadata, lines=lines, subtotal=totals.subtotal,
            shipping=totals.shipping, total=totals.total, reservation_ttl=reservation_ttl,
        )  # fmt: skip
        written = store.insert_order_at_commit(tx, new)
        payment = store.open_payment(tx, new, choice.provider, choice.card_token)
        await publish(tx, _created_event(new), org_id=org_id)
        await audit_store.record(tx, audit, order_id)
        if claim is not None:
            idempotency_store.claim(tx, claim, order_id)
        await tx.commit()
    return PlacedOrder(new.placed(written), payment, choice.card_token)


async def _key_held_elsewhere(db: Database, claim: IdempotencyClaim) -> bool:
    async with transaction(db) as probe:  # never committed: the probe's claim is rolled back
        return await idempotency_store.held_elsewhere(probe, claim)


@traced
async def settle_checkout(
    db: Database, order: Order, payment: Payment, result: AuthorizationResult, claim: IdempotencyClaim | None = None
) -> Order:
    """Checkout's last transaction: record the provider's answer, then pay or cancel the order.

    Every write is conditional on the state read before the provider call (payment
    `pending`, order `pending_payment`), so the checkout and recovery — or two
    recoveries — settling the same order at once apply it once; the loser reads the
    winner's result. The idempotent answer is stored with it. A refused payment
    cancels the order, releases its stock and raises `PaymentDeclined` (402) once
    committed; an unknown outcome changes nothing (recovery settles it later).
    """
    if order.is_awaiting_payment and payment.is_unresolved and result.succeeded:
        try:
            paid = await _settle_success_in_one_statement(db, order, payment, result, claim)
        except RowsMoved:
            pass  # another writer (recovery, a webhook) settled it first: read what it did, below
        else:
            return paid
    async with transaction(db) as tx:
        payment = await store.record_payment(tx, payment, result)
        settled = await _follow_payment(tx, order, payment)
        declined = _declined(settled, payment) if settled.is_cancelled else None
        if claim is not None and not settled.is_awaiting_payment:
            idempotency_store.complete_with(tx, claim, declined or settled)
        await tx.commit()
    if declined is not None:
        raise declined
    return settled


async def _settle_success_in_one_statement(
    db: Database, order: Order, payment: Payment, result: AuthorizationResult, claim: IdempotencyClaim | None
) -> Order:
    """The common case of tx2, the provider's success, as BEGIN, one statement, COMMIT: every write of it
    (payment, order, events, the stored answer) is deferred, each conditional on the state held, and a
    row another writer moved first rolls it all back (`RowsMoved`) for the reading path. A refusal keeps
    that path: it releases stock; an unknown outcome changes nothing."""
    async with transaction(db) as tx:
        settled_payment = await store.record_payment_success_at_commit(tx, payment, result)
        paid = store.move_status_at_commit(tx, order, S.PAID)
        await publish(tx, _paid_event(paid, settled_payment.id), org_id=paid.org_id)
        if claim is not None:
            idempotency_store.complete_with(tx, claim, paid)
        await tx.commit()
    return paid


def _declined(o: Order, payment: Payment) -> PaymentDeclined:
    reason = payment.failure_reason or payment.status.value
    return PaymentDeclined(
        f"the payment for order {o.id} did not go through: {payment.status.refusal} ({reason}); the order is cancelled",
        order_id=o.id,
        payment_status=payment.status.value,
        reason=reason,
    )


async def _follow_payment(tx: Tx, current: Order, payment: Payment) -> Order:
    if not current.is_awaiting_payment or payment.is_unresolved:
        return current
    if payment.is_settled_ok:
        paid = await store.move_status(tx, current, S.PAID)
        if paid is None:
            return await _reread(tx, current)
        await publish(tx, _paid_event(paid, payment.id), org_id=paid.org_id)
        return paid
    return await _cancel(tx, current, reason=f"payment_{payment.status.value}") or await _reread(tx, current)


async def _reread(tx: Tx, o: Order) -> Order:
    """Another writer moved the order first (recovery, a concurrent settle): its state is the answer."""
    return await _locked(tx, o.org_id, o.id)


async def _cancel(tx: Tx, current: Order, *, reason: str, refunded_total: Money | None = None) -> Order | None:
    """Cancel from the state held (releasing its stock once); None when the order moved meanwhile."""
    check_transition(current.status, S.CANCELLED)
    refunded = {"refunded_amount": refunded_total.amount} if refunded_total is not None else {}
    cancelled = await store.move_status(tx, current, S.CANCELLED, cancel_reason=reason, **refunded)
    if cancelled is None:
        return None
    if current.status in HOLDS_RESERVATION:
        await store.release_stock(tx, current.org_id, current.lines)
    await publish(tx, _cancelled_event(cancelled, reason, was_paid=current.status is not S.PENDING_PAYMENT),
                  org_id=cancelled.org_id)  # fmt: skip
    return cancelled


def _event_lines(o: Order | store.NewOrder) -> list[EventLine]:
    return [
        EventLine(
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price_minor=line.unit_price.amount,
            line_total_minor=line.total.amount,
        )
        for line in o.lines
    ]


def _created_event(o: store.NewOrder) -> OrderCreated:
    return OrderCreated(
        order_id=o.id, order_number=o.number, customer_email=o.customer_email, customer_name=o.customer_name,
        customer_phone=o.customer_phone, currency=o.currency, subtotal_minor=o.subtotal.amount,
        shipping_minor=o.shipping.amount, total_minor=o.total.amount, lines=_event_lines(o),
    )  # fmt: skip


def _paid_event(o: Order, payment_id: str) -> OrderPaid:
    return OrderPaid(
        order_id=o.id, order_number=o.number, payment_id=payment_id, customer_email=o.customer_email,
        customer_name=o.customer_name, customer_phone=o.customer_phone, currency=o.currency,
        subtotal_minor=o.subtotal.amount, shipping_minor=o.shipping.amount, total_minor=o.total.amount,
        lines=_event_lines(o),
    )  # fmt: skip


def _cancelled_event(o: Order, reason: str, *, was_paid: bool) -> OrderCancelled:
    return OrderCancelled(
        order_id=o.id, order_number=o.number, reason=reason, was_paid=was_paid, customer_email=o.customer_email,
        customer_name=o.customer_name, currency=o.currency, total_minor=o.total.amount,
    )  # fmt: skip


@traced
async def cancel_order(
    db: Database,
    org_id: str,
    order_id: str,
    *,
    reason: str,
    audit: AuditContext | None = None,
    refunded_total: Money | None = None,
) -> Order:
    """Cancel and give the reserved stock back (recording what was refunded for it). Cancelling a cancelled
    order is a no-op."""
    async with transaction(db) as tx:
        current = await _locked(tx, org_id, order_id)
        if current.is_cancelled:
            return current
        cancelled = await _cancel(tx, current, reason=reason, refunded_total=refunded_total)
        assert cancelled is not None  # the row is locked: nobody moved it
        if audit is not None:
            await audit_store.record(tx, audit, order_id)
        await tx.commit()
    return cancelled


@traced
async def fulfill_order(
    db: Database, principal: Principal, audit: AuditContext, order_id: str, *, carrier: str, tracking_number: str
) -> Order:
    """The order ships: its reserved units leave the warehouse (a sale in the stock ledger)."""
    async with transaction(db) as tx:
        current = await _locked(tx, principal.org_id, order_id)
        check_transition(current.status, S.FULFILLED)
        await store.commit_stock(tx, principal.org_id, order_id, current.lines)
        shipped = await store.set_status(tx, current, S.FULFILLED, carrier=carrier, tracking_number=tracking_number)
        event = OrderShipped(
            order_id=order_id, order_number=shipped.number, customer_email=shipped.customer_email,
            customer_name=shipped.customer_name, customer_phone=shipped.customer_phone, carrier=carrier,
            tracking_number=tracking_number,
        )  # fmt: skip
        await publish(tx, event, org_id=principal.org_id)
        await audit_store.record(tx, audit, order_id)
        await tx.commit()
    return shipped


@traced
async def deliver_order(db: Database, principal: Principal, audit: AuditContext, order_id: str) -> Order:
    async with transaction(db) as tx:
        current = await _locked(tx, principal.org_id, order_id)
        if current.carrier is None:
            raise Conflict(f"order {order_id} has not shipped yet")
        check_transition(current.status, S.DELIVERED)
        delivered = await store.set_status(tx, current, S.DELIVERED)
        await audit_store.record(tx, audit, order_id)
        await tx.commit()
    return delivered


@traced
async def record_refund(
    db: Database, org_id: str, order_id: str, *, refunded_total: Money, refund: Money, audit: AuditContext | None = None
) -> Order:
    """The payment side refunded `refund` (in total `refunded_total`): move the order along."""
    async with transaction(db) as tx:
        current = await _locked(tx, org_id, order_id)
        if refunded_total.amount <= current.refunded.amount:
            return current  # already recorded (a retried call)
        target = status_after_refund(current.status, refunded_total, current.total)
        if target is S.REFUNDED and current.status in HOLDS_RESERVATION and current.carrier is None:
            await store.release_stock(tx, org_id, current.lines)  # fully refunded before shipping: it never ships
        updated = await store.set_status(tx, current, target, refunded_amount=refunded_total.amount)
        event = OrderRefunded(
            order_id=order_id, order_number=updated.number, customer_email=updated.customer_email,
            currency=updated.currency, refunded_minor=refund.amount, total_refunded_minor=refunded_total.amount,
            fully_refunded=target is S.REFUNDED,
        )  # fmt: skip
        await publish(tx, event, org_id=org_id)
        if audit is not None:
            await audit_store.record(tx, audit, order_id)
        await tx.commit()
    return updated


@traced
async def get_order(db: Database, principal: Principal, order_id: str) -> Order:
    return await get_order_in(db, principal.org_id, order_id)


@traced
async def get_order_in(db: Database, org_id: str, order_id: str) -> Order:
    async with transaction(db) as tx:
        found = await store.get_order(tx, org_id, order_id)
    if found is None:
        raise NotFound(f"no order {order_id}")
    return found


def check_refundable(o: Order) -> None:
    if o.status not in REFUNDABLE:
        raise Conflict(f"order {o.id} is {o.status.value}; only paid or shipped orders can be refunded")


@traced
async def list_orders(
    db: Database,
    principal: Principal,
    *,
    status: OrderStatus | None,
    customer_email: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Order]:
    async with transaction(db) as tx:
        return await store.list_orders(
            tx,
            principal.org_id,
            status=status,
            customer_email=customer_email,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )


@traced
async def expired_reservations(db: Database, limit: int = 100) -> list[tuple[str, str]]:
    async with transaction(db) as tx:
        return await store.expired_pending(tx, limit)
