"""Authorizing a payment outside checkout, and recovery's resolution of a pending one (recording it)."""

from __future__ import annotations

from emporium.modules.payments import api
from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    AuthorizationOutcome,
    Payment,
    PaymentStatus,
    ProviderCharge,
    ProviderRejected,
    ProviderTimeout,
    authorization_key,
    forward_path,
)
from emporium.modules.payments.providers import Providers
from emporium.modules.payments.workflows.charge import charge
from emporium.modules.payments.workflows.common import adapter_for, log
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, NotFound, ValidationFailed
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced


@traced
async def start_authorization(
    db: Database,
    *,
    org_id: str,
    order_id: str,
    amount: Money,
    card_token: str,
    provider: str = "sandbox",
    providers: Providers | None = None,
) -> Payment:
    """A `pending` payment for the order, or the order's live payment if it already has one."""
    adapter_for(db, provider, providers)  # an unknown provider is a 404 before anything is written
    if amount.amount <= 0:
        raise ValidationFailed("a payment must be for a positive amount")
    for _ in range(3):
        async with transaction(db) as tx:
            payment = await store.insert_unless_live(
                tx, org_id=org_id, order_id=order_id, provider=provider, amount=amount, card_token=card_token
            )
            if payment is None:
                payment = await store.live_for_order(tx, org_id, order_id)
            await tx.commit()
        if payment is not None:
            return payment
        # The live payment we collided with ended between the two statements: try again.
    raise Conflict(f"order {order_id} keeps changing payments; retry")


@traced
async def authorize(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Ask the provider to authorize a pending payment and record what it said.

    `authorized`, `declined` and `failed` are recorded (no error is raised for
    a decline: read the status). When the outcome is unknown (timeout, dropped
    connection) the payment stays `pending` for `resolve_pending`.
    """
    payment, card_token = await _with_card_token(db, org_id, payment_id)
    if payment.status is not PaymentStatus.PENDING:
        return payment
    return await _authorize_pending(db, payment, card_token, providers)


async def _with_card_token(db: Database, org_id: str, payment_id: str) -> tuple[Payment, str]:
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
        card_token = await store.card_token_of(tx, org_id, payment_id)
    if payment is None or card_token is None:
        raise NotFound(f"no payment {payment_id}")
    return payment, card_token


async def _authorize_pending(db: Database, payment: Payment, card_token: str, providers: Providers | None) -> Payment:
    result = await charge(db, payment, card_token, capture=False, providers=providers)
    if result.outcome is AuthorizationOutcome.UNKNOWN:
        return payment  # pending for `resolve_pending`
    async with transaction(db) as tx:
        current = await api.record_authorization(tx, payment, result)
        await tx.commit()
    if result.outcome is AuthorizationOutcome.AUTHORIZED and not current.is_live:
        log.error("provider_authorized_a_closed_payment", payment_id=payment.id, status=current.status.value)
    return current


@traced
async def resolve_pending(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Recovery: ask the provider, by our key, what became of a pending payment, and record it.

    A provider that never saw the request gets it again with the same key
    (at most one charge by construction); a provider that does not answer
    leaves the payment pending.
    """
    payment, card_token = await _with_card_token(db, org_id, payment_id)
    if payment.status is not PaymentStatus.PENDING:
        return payment
    adapter = adapter_for(db, payment.provider, providers)
    try:
        found = await adapter.get(idempotency_key=authorization_key(payment.id), provider_ref=payment.provider_ref)
    except ProviderTimeout:
        return payment
    except ProviderRejected as error:
        log.warning("payment_lookup_refused", payment_id=payment.id, code=error.code)
        return payment
    if found is None:
        return await _authorize_pending(db, payment, card_token, providers)
    if found.status is PaymentStatus.PENDING:
        return payment
    return await _record_charge(db, payment, found)


async def _record_charge(db: Database, payment: Payment, found: ProviderCharge) -> Payment:
    async with transaction(db) as tx:
        for step in forward_path(PaymentStatus.PENDING, found.status):
            await apply_step(tx, payment, step, found.authorized, found.captured, found.provider_ref, found.reason)
        current = await store.get(tx, payment.org_id, payment.id)
        await tx.commit()
    assert current is not None
    return current


async def apply_step(
    tx: Tx,
    payment: Payment,
    step: PaymentStatus,
    authorized: Money | None,
    captured: Money | None,
    provider_ref: str | None,
    reason: str | None,
    *,
    void_reason: str = "provider",
) -> Payment | None:
    """One forward move reported by the provider, with its event; None when the payment was not in the source state."""
    if step is PaymentStatus.AUTHORIZED:
        return await api.to_authorized(tx, payment, authorized or payment.amount, provider_ref)
    if step in (PaymentStatus.DECLINED, PaymentStatus.FAILED):
        return await api.to_unauthorized(tx, payment, step, reason, provider_ref)
    if step is PaymentStatus.CAPTURED:
        return await api.to_captured(tx, payment, captured or authorized or payment.amount)
    if step is PaymentStatus.VOIDED:
        return await api.to_voided(tx, payment, void_reason)
    return None
