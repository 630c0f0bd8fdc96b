"""Payments storage (service role): refunds, and the provider events already processed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from emporium.modules.payments.domain import (
    ProviderEvent,
    Refund,
    RefundExceedsCapture,
    RefundStatus,
)
from emporium.modules.payments.tables import provider_event, refund
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced


def _refund(row: Any) -> Refund:
    return Refund(
        id=row.id,
        org_id=row.org_id,
        payment_id=row.payment_id,
        refund_key=row.refund_key,
        amount=Money(row.amount, row.currency),
        status=RefundStatus(row.status),
        provider_ref=row.provider_ref,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# --- refunds --------------------------------------------------------------------------------------

_RESERVE_REFUND = text(
    """
    WITH ins AS (
        INSERT INTO payments.refund (id, org_id, payment_id, refund_key, currency, amount)
        SELECT :id, :org, p.id, :key, p.currency, :amount
          FROM payments.payment p
         WHERE p.id = :pid AND p.org_id = :org AND p.currency = :currency
        ON CONFLICT (payment_id, refund_key) DO NOTHING
        RETURNING id
    ), moved AS (
        UPDATE payments.payment
           SET refunded_amount = refunded_amount + :amount, updated_at = now()
         WHERE id = :pid AND org_id = :org AND status = 'captured'
           AND refunded_amount + :amount <= captured_amount
           AND EXISTS (SELECT 1 FROM ins)
        RETURNING id
    )
    SELECT (SELECT id FROM ins) AS inserted, (SELECT count(*) FROM moved) AS moved
    """
)


@traced
async def reserve_refund(tx: Tx, org_id: str, payment_id: str, refund_key: str, amount: Money) -> str | None:
    """Insert a pending refund and add its amount to the payment's `refunded`, both or neither.

    Returns the new refund's id; None when a refund with this key already exists.
    Raises `RefundExceedsCapture` when the amount does not fit in what is left of
    the capture at this instant (the caller must not commit then).
    """
    params = {
        "id": new_id("rfd"),
        "org": org_id,
        "pid": payment_id,
        "key": refund_key,
        "currency": amount.currency,
        "amount": amount.amount,
    }
    try:
        row = (await tx.execute(_RESERVE_REFUND, params)).one()
    except IntegrityError as error:  # the CHECK refunded <= captured: the last line of defence
        raise RefundExceedsCapture("the refunds would exceed the captured amount") from error
    if row.inserted is None:
        return None
    if row.moved != 1:
        raise RefundExceedsCapture("the refunds would exceed the captured amount")
    return str(row.inserted)


@traced
async def refund_by_key(tx: Tx, org_id: str, payment_id: str, refund_key: str) -> Refund | None:
    query = select(refund).where(
        refund.c.org_id == org_id, refund.c.payment_id == payment_id, refund.c.refund_key == refund_key
    )
    row = (await tx.execute(query)).one_or_none()
    return _refund(row) if row is not None else None


@traced
async def get_refund(tx: Tx, refund_id: str) -> Refund | None:
    row = (await tx.execute(select(refund).where(refund.c.id == refund_id))).one_or_none()
    return _refund(row) if row is not None else None


@traced
async def refund_succeeded(tx: Tx, refund_id: str, provider_ref: str) -> Refund | None:
    """pending -> succeeded; None when the refund was no longer pending."""
    statement = (
        update(refund)
        .where(refund.c.id == refund_id, refund.c.status == RefundStatus.PENDING.value)
        .values(status=RefundStatus.SUCCEEDED.value, provider_ref=provider_ref, updated_at=text("now()"))
        .returning(refund)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _refund(row) if row is not None else None


_FAIL_REFUND = text(
    """
    WITH failed AS (
        UPDATE payments.refund SET status = 'failed', failure_reason = :reason, updated_at = now()
         WHERE id = :id AND status = 'pending'
        RETURNING payment_id, amount
    ), given_back AS (
        UPDATE payments.payment p
           SET refunded_amount = p.refunded_amount - failed.amount, updated_at = now()
          FROM failed WHERE p.id = failed.payment_id
        RETURNING p.id
    )
    SELECT count(*) FROM given_back
    """
)


@traced
async def refund_failed(tx: Tx, refund_id: str, reason: str) -> bool:
    """pending -> failed, giving its amount back to the payment; False when no longer pending."""
    return bool(await tx.scalar(_FAIL_REFUND, {"id": refund_id, "reason": reason}))


# --- processed provider events --------------------------------------------------------------------


@traced
async def first_provider_event(tx: Tx, provider: str, event: ProviderEvent) -> bool:
    """Record the event; False when it was processed before (a concurrent copy waits for the first)."""
    statement = (
        pg_insert(provider_event)
        .values(
            provider=provider,
            event_id=event.event_id,
            event_type=event.event_type,
            payment_id=event.payment_id,
            outcome="received",
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(provider_event.c.event_id)
    )
    return (await tx.execute(statement)).first() is not None


@traced
async def set_provider_event_outcome(tx: Tx, provider: str, event_id: str, outcome: str) -> None:
    await tx.execute(
        update(provider_event)
        .where(and_(provider_event.c.provider == provider, provider_event.c.event_id == event_id))
        .values(outcome=outcome)
    )
