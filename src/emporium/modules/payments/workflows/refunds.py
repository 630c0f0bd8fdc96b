"""Refunds: reserved on the payment first, then the provider, then settled."""

from __future__ import annotations

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    Payment,
    ProviderError,
    ProviderPort,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    Refund,
    RefundKeyReused,
    RefundStatus,
    check_refund,
    refund_provider_key,
)
from emporium.modules.payments.events import PaymentRefunded
from emporium.modules.payments.providers import Providers
from emporium.modules.payments.workflows.common import adapter_for
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import NotFound, ValidationFailed
from emporium.platform.events.outbox import publish
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced


@traced
async def refund(
    db: Database,
    *,
    org_id: str,
    payment_id: str,
    amount: Money,
    refund_key: str,
    audit: AuditContext | None = None,
    providers: Providers | None = None,
) -> Refund:
    """Refund part or all of a capture. The sum of refunds never exceeds the capture.

    The amount is reserved on the payment by one conditional update (and a
    CHECK) before the provider is called, so concurrent refunds cannot
    overshoot: the ones that do not fit get `RefundExceedsCapture` (409).
    The same `refund_key` returns the same `Refund` (driving it to the provider
    again if its outcome was unknown). A refund the provider refuses comes
    back with status `failed`, its amount given back to the payment.
    """
    if not 1 <= len(refund_key) <= 255:
        raise ValidationFailed("refund_key must be 1 to 255 characters")
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        found = await store.refund_by_key(tx, org_id, payment_id, refund_key)
        if found is None:
            check_refund(payment, amount)
            refund_id = await store.reserve_refund(tx, org_id, payment_id, refund_key, amount)
            if refund_id is None:  # a concurrent call with the same key won
                found = await store.refund_by_key(tx, org_id, payment_id, refund_key)
            else:
                found = await store.get_refund(tx, refund_id)
                if audit is not None:
                    await audit_store.record(tx, audit, refund_id)
                await tx.commit()
    assert found is not None
    if found.amount != amount:
        raise RefundKeyReused(f"refund key {refund_key!r} was used for a refund of {found.amount.format()}")
    if found.status is not RefundStatus.PENDING:
        return found
    return await _drive_refund(db, payment, found, adapter_for(db, payment.provider, providers))


async def _drive_refund(db: Database, payment: Payment, pending: Refund, adapter: ProviderPort) -> Refund:
    if payment.provider_ref is None:
        raise ProviderError(f"payment {payment.id} has no provider reference")
    try:
        provider_ref = await adapter.refund(
            provider_ref=payment.provider_ref, amount=pending.amount, idempotency_key=refund_provider_key(pending.id)
        )
    except ProviderTimeout as error:
        raise ProviderUnavailable(
            f"the provider did not answer; retry with the same refund key ({error})", retry_after=5
        ) from error
    except ProviderRejected as error:
        async with transaction(db) as tx:
            await store.refund_failed(tx, pending.id, error.code)
            current = await store.get_refund(tx, pending.id)
            await tx.commit()
        assert current is not None
        return current
    async with transaction(db) as tx:
        done = await store.refund_succeeded(tx, pending.id, provider_ref)
        if done is not None:
            after = await store.get(tx, payment.org_id, payment.id)
            assert after is not None
            event = PaymentRefunded(
                payment_id=payment.id,
                order_id=payment.order_id,
                refund_id=done.id,
                amount_minor=done.amount.amount,
                refunded_total_minor=after.refunded.amount,
                currency=done.amount.currency,
            )
            await publish(tx, event, org_id=payment.org_id)
        current = done or await store.get_refund(tx, pending.id)
        await tx.commit()
    assert current is not None
    return current


@traced
async def refund_remaining(
    db: Database, payment: Payment, *, refund_key: str, providers: Providers | None = None
) -> Refund | None:
    """Refund what is left of the capture, once per key (a paid order being cancelled); None when nothing is.

    A retry with the same key finds the refund made the first time (driving it to the provider
    again if its outcome was unknown) instead of refunding what is left after it.
    A refund the provider refuses is a `ProviderError` (502): the order must not be cancelled then.
    """
    async with transaction(db) as tx:
        found = await store.refund_by_key(tx, payment.org_id, payment.id, refund_key)
        current = await store.get(tx, payment.org_id, payment.id)
    assert current is not None
    if found is None and current.refundable.amount <= 0:
        return None
    amount = found.amount if found is not None else current.refundable
    made = await refund(
        db, org_id=payment.org_id, payment_id=payment.id, amount=amount, refund_key=refund_key, providers=providers
    )
    if made.status is RefundStatus.FAILED:
        raise ProviderError(f"{payment.provider} refused the refund: {made.failure_reason}", refund_id=made.id)
    return made
