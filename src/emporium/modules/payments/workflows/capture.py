"""Capture, void, and the expiry of authorizations kept too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emporium.modules.payments import api
from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    Payment,
    PaymentStatus,
    ProviderError,
    ProviderPort,
    ProviderUnavailable,
    capture_amount,
    capture_key,
    check_transition,
    void_key,
)
from emporium.modules.payments.providers import Providers
from emporium.modules.payments.workflows.common import adapter_for, call_provider, log, read_payment
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import InvalidTransition
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced


@traced
async def capture(
    db: Database,
    *,
    org_id: str,
    payment_id: str,
    amount: Money | None = None,
    audit: AuditContext | None = None,
    providers: Providers | None = None,
) -> Payment:
    """Capture an authorized payment (all of it by default, or `amount` <= authorized)."""
    payment = await read_payment(db, org_id, payment_id)
    if payment.status is PaymentStatus.CAPTURED and amount in (None, payment.captured):
        return payment  # a retried capture
    check_transition(payment.status, PaymentStatus.CAPTURED)
    target = capture_amount(payment, amount)
    adapter = adapter_for(db, payment.provider, providers)
    await call_provider(
        payment,
        lambda ref: adapter.capture(provider_ref=ref, amount=target, idempotency_key=capture_key(payment.id)),
    )
    async with transaction(db) as tx:
        moved = await api.to_captured(tx, payment, target)
        current = moved or await store.get(tx, org_id, payment_id)
        assert current is not None
        if moved is None and current.status is not PaymentStatus.CAPTURED:
            raise InvalidTransition("payment", current.status.value, PaymentStatus.CAPTURED.value)
        if moved is not None and audit is not None:
            await audit_store.record(tx, audit, payment_id)
        await tx.commit()
    return current


@traced
async def capture_held(db: Database, payment: Payment, providers: Providers | None = None) -> Payment:
    """Capture the payment if its funds are only held (an order captured at shipping); else leave it."""
    if not payment.awaits_capture:
        return payment
    return await capture(db, org_id=payment.org_id, payment_id=payment.id, providers=providers)


@traced
async def void(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Release an authorization. Voiding a voided payment is a no-op."""
    payment = await read_payment(db, org_id, payment_id)
    voided, _ = await _void(db, payment, adapter_for(db, payment.provider, providers), "requested")
    return voided


async def _void(db: Database, payment: Payment, adapter: ProviderPort, reason: str) -> tuple[Payment, bool]:
    """(the payment after, whether this call voided it)."""
    if payment.status is PaymentStatus.VOIDED:
        return payment, False
    check_transition(payment.status, PaymentStatus.VOIDED)
    await call_provider(payment, lambda ref: adapter.void(provider_ref=ref, idempotency_key=void_key(payment.id)))
    async with transaction(db) as tx:
        moved = await api.to_voided(tx, payment, reason)
        current = moved or await store.get(tx, payment.org_id, payment.id)
        assert current is not None
        if moved is None and current.status is not PaymentStatus.VOIDED:
            raise InvalidTransition("payment", current.status.value, PaymentStatus.VOIDED.value)
        await tx.commit()
    return current, moved is not None


@traced
async def expire_authorizations(
    db: Database, *, older_than: timedelta, limit: int = 100, providers: Providers | None = None
) -> list[Payment]:
    """Void authorizations older than `older_than` (any org); returns those this call voided.

    The caller (the checkout orchestrator's job) cancels their orders and releases their stock.
    """
    async with transaction(db) as tx:
        candidates = await store.authorized_before(tx, datetime.now(UTC) - older_than, limit)
    expired: list[Payment] = []
    for payment in candidates:
        try:
            voided, mine = await _void(db, payment, adapter_for(db, payment.provider, providers), "expired")
        except (ProviderError, ProviderUnavailable, InvalidTransition) as error:
            log.warning("authorization_expiry_failed", payment_id=payment.id, error=str(error))
            continue
        if mine:
            expired.append(voided)
    return expired
