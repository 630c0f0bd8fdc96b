"""Payments' public surface for other modules: functions that run in the caller's transaction, and types.

    payment = payments_api.open_payment(tx, org_id=..., order_id=..., provider=..., amount=..., card_token=...)
    ... provider call outside any transaction (payments.workflows.charge) ...
    payment = await payments_api.record_authorization(tx, payment, result)   # conditional, with its events

The checkout writes the pending payment in the order's first transaction and
records the provider's answer in the order's settling transaction, so a
payment and its order never disagree after a commit. Orchestrators call
`payments.workflows` for everything else.
"""

from __future__ import annotations

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    LIVE_STATUSES,
    AuthorizationOutcome,
    AuthorizationResult,
    CaptureExceedsAuthorization,
    InvalidSignature,
    Payment,
    PaymentStatus,
    ProviderError,
    ProviderUnavailable,
    Refund,
    RefundExceedsCapture,
    RefundKeyReused,
    RefundStatus,
    UnknownProvider,
)
from emporium.modules.payments.events import PaymentAuthorized, PaymentCaptured, PaymentFailed, PaymentVoided
from emporium.platform.db.tx import Tx
from emporium.platform.errors import PaymentDeclined
from emporium.platform.events.outbox import publish
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced

__all__ = [
    "LIVE_STATUSES",
    "AuthorizationOutcome",
    "AuthorizationResult",
    "CaptureExceedsAuthorization",
    "InvalidSignature",
    "Payment",
    "PaymentDeclined",
    "PaymentStatus",
    "ProviderError",
    "ProviderUnavailable",
    "Refund",
    "RefundExceedsCapture",
    "RefundKeyReused",
    "RefundStatus",
    "UnknownProvider",
    "open_payment",
    "record_authorization",
    "record_success_at_commit",
]


def open_payment(tx: Tx, *, org_id: str, order_id: str, provider: str, amount: Money, card_token: str) -> Payment:
    """The pending payment of a new order (the caller checked provider and token before any write); its row
    is written with the transaction's deferred writes, just before COMMIT."""
    return store.insert_pending(
        tx, org_id=org_id, order_id=order_id, provider=provider, amount=amount, card_token=card_token
    )


@traced
async def record_authorization(tx: Tx, payment: Payment, result: AuthorizationResult) -> Payment:
    """Record what the provider said about a pending payment, with its events; one conditional statement.

    Only a `pending` payment moves; when another writer (recovery, a webhook) recorded
    the outcome first, the payment as it is now is returned (a read, on that race only).
    An unknown outcome leaves the payment pending.
    """
    if result.outcome is AuthorizationOutcome.UNKNOWN:
        return payment
    if result.outcome is AuthorizationOutcome.CAPTURED:
        moved = await to_captured_at_once(tx, payment, result.amount or payment.amount, result.provider_ref)
    elif result.outcome is AuthorizationOutcome.AUTHORIZED:
        moved = await to_authorized(tx, payment, result.amount or payment.amount, result.provider_ref)
    else:
        moved = await to_unauthorized(
            tx, payment, PaymentStatus(result.outcome.value), result.reason, result.provider_ref
        )
    if moved is not None:
        return moved
    current = await store.get(tx, payment.org_id, payment.id)
    assert current is not None  # payments are never deleted
    return current


async def record_success_at_commit(tx: Tx, payment: Payment, result: AuthorizationResult) -> Payment:
    """`record_authorization` for the provider's success (`result.succeeded`), written with the transaction's
    one statement before COMMIT: the payment as it will be, and its events. If another writer recorded the
    payment first, the COMMIT raises `RowsMoved` and nothing is written."""
    if not result.succeeded:
        raise ValueError(f"only a success is recorded at commit, not {result.outcome.value!r}")
    captured = result.outcome is AuthorizationOutcome.CAPTURED
    moved = store.settle_at_commit(tx, payment, result.amount or payment.amount, result.provider_ref, captured=captured)
    await publish(tx, _authorized_event(moved), org_id=moved.org_id)
    if captured:
        await publish(tx, _captured_event(moved), org_id=moved.org_id)
    return moved


async def to_authorized(tx: Tx, payment: Payment, amount: Money, provider_ref: str | None) -> Payment | None:
    moved = await store.mark_authorized(tx, payment.id, amount, provider_ref)
    if moved is not None:
        await publish(tx, _authorized_event(moved), org_id=moved.org_id)
    return moved


async def to_captured_at_once(tx: Tx, payment: Payment, amount: Money, provider_ref: str | None) -> Payment | None:
    """pending -> captured in one statement (automatic capture): both events, in order."""
    moved = await store.mark_charged(tx, payment.id, amount, provider_ref)
    if moved is not None:
        await publish(tx, _authorized_event(moved), org_id=moved.org_id)
        await publish(tx, _captured_event(moved), org_id=moved.org_id)
    return moved


async def to_unauthorized(
    tx: Tx, payment: Payment, status: PaymentStatus, reason: str | None, provider_ref: str | None
) -> Payment | None:
    moved = await store.mark_unauthorized(tx, payment.id, status, reason, provider_ref)
    if moved is not None:
        event = PaymentFailed(payment_id=moved.id, order_id=moved.order_id, status=status.value, reason=reason)
        await publish(tx, event, org_id=moved.org_id)
    return moved


async def to_captured(tx: Tx, payment: Payment, amount: Money) -> Payment | None:
    moved = await store.mark_captured(tx, payment.id, amount)
    if moved is not None:
        await publish(tx, _captured_event(moved), org_id=moved.org_id)
    return moved


async def to_voided(tx: Tx, payment: Payment, reason: str) -> Payment | None:
    moved = await store.mark_voided(tx, payment.id)
    if moved is not None:
        await publish(
            tx, PaymentVoided(payment_id=moved.id, order_id=moved.order_id, reason=reason), org_id=moved.org_id
        )
    return moved


def _authorized_event(p: Payment) -> PaymentAuthorized:
    return PaymentAuthorized(
        payment_id=p.id, order_id=p.order_id, provider=p.provider, amount_minor=p.authorized.amount,
        currency=p.authorized.currency,
    )  # fmt: skip


def _captured_event(p: Payment) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=p.id, order_id=p.order_id, captured_minor=p.captured.amount, currency=p.captured.currency
    )
