"""Finish or compensate checkouts that a crash, a timeout or an abandoned payment left half done.

Run periodically (see `modules/orders/jobs.py`). Every step is one of the
workflows the checkout itself uses, each safe to repeat, so running recovery
twice — or on two replicas at once — changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from emporium.modules.orders import workflows as orders
from emporium.modules.payments import workflows as payments
from emporium.platform.db.engine import Database
from emporium.platform.errors import NotFound, PaymentDeclined
from emporium.platform.idempotency import workflows as idempotency
from emporium.platform.telemetry.tracing import traced

_log = structlog.stdlib.get_logger("emporium.recovery")


@dataclass
class Recovery:
    settled: int = 0
    cancelled: int = 0
    unknown: int = 0
    released_keys: int = 0
    failed: int = 0  # items that raised: logged, retried on the next pass
    finished_checkouts: list[tuple[str, str, orders.Order]] = field(default_factory=list)  # (org, key, order)


async def _settle_order(db: Database, order: orders.Order, report: Recovery) -> orders.Order:
    """Drive an unpaid order to paid (and captured, for immediate capture) or cancelled, asking the
    provider by our key; an order whose provider still does not answer stays as it is."""
    if not order.is_awaiting_payment:
        return order
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    if payment is None:  # an order placed before payments were written with it: nothing was charged
        report.cancelled += 1
        return await orders.cancel_order(db, order.org_id, order.id, reason="checkout_interrupted")
    result = (
        await payments.resolve_charge(db, payment, capture=order.captures_immediately)
        if payment.is_unresolved
        else payments.NO_NEWS
    )
    try:
        settled = await orders.settle_checkout(db, order, payment, result)
    except PaymentDeclined:
        report.cancelled += 1
        return await orders.get_order_in(db, order.org_id, order.id)
    if settled.is_awaiting_payment:
        report.unknown += 1
        return settled
    if settled.expects_captured_payment:  # an authorization recorded without its capture (e.g. by a webhook)
        await _capture_if_held(db, settled)
    report.settled += 1
    return settled


async def _capture_if_held(db: Database, order: orders.Order) -> None:
    payment = await payments.payment_for_order(db, org_id=order.org_id, order_id=order.id)
    if payment is not None:
        await payments.capture_held(db, payment)


@traced
async def recover_checkouts(db: Database, *, unknown_after: timedelta, limit: int = 100) -> Recovery:
    report = Recovery()
    # 1. Requests that claimed a key and never answered (the process died mid-checkout), or answered 202.
    for org_id, key, resource_id in await idempotency.stale_keys(db, unknown_after, limit):
        async with _isolated(report, "stale_key", key):
            if resource_id is None or not orders.is_order_id(resource_id):
                await idempotency.release_key(db, org_id, key)  # its effect is idempotent by key: a retry is safe
                report.released_keys += 1
                continue
            try:
                order = await orders.get_order_in(db, org_id, resource_id)
            except NotFound:  # the request's first transaction never committed
                await idempotency.release_key(db, org_id, key)
                report.released_keys += 1
                continue
            if order.expects_captured_payment:  # paid before, its capture interrupted
                await _capture_if_held(db, order)
            order = await _settle_order(db, order, report)
            if not order.is_awaiting_payment:
                report.finished_checkouts.append((org_id, key, order))
    # 2. Payments whose outcome was ambiguous (timeout, dropped connection).
    for stale in await payments.stale_pending(db, older_than=unknown_after, limit=limit):
        async with _isolated(report, "stale_payment", stale.id):
            try:
                order = await orders.get_order_in(db, stale.org_id, stale.order_id)
            except NotFound:  # a payment for no order of ours: settle the payment alone
                await payments.resolve_pending(db, org_id=stale.org_id, payment_id=stale.id)
                continue
            await _settle_order(db, order, report)
    # 3. Orders still unpaid when their stock reservation ran out: settled like the others. One whose
    #    provider still does not answer keeps its stock: it may have been charged, and recovery will know.
    for org_id, order_id in await orders.expired_reservations(db, limit):
        async with _isolated(report, "expired_reservation", order_id):
            await _settle_order(db, await orders.get_order_in(db, org_id, order_id), report)
    return report


@asynccontextmanager
async def _isolated(report: Recovery, kind: str, item: str) -> AsyncIterator[None]:
    """One item's failure (a provider down, a row in an unexpected state) must not stop the pass."""
    try:
        yield
    except Exception:
        report.failed += 1
        _log.exception("recovery_item_failed", kind=kind, item=item)


@traced
async def expire_authorizations(db: Database, *, older_than: timedelta) -> int:
    """Authorizations are not kept forever: void them and cancel their orders (releasing stock)."""
    expired = await payments.expire_authorizations(db, older_than=older_than)
    for payment in expired:
        order = await orders.get_order_in(db, payment.org_id, payment.order_id)
        if order.may_still_be_cancelled:
            await orders.cancel_order(db, payment.org_id, payment.order_id, reason="authorization_expired")
    return len(expired)
