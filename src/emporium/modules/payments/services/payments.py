"""Payments storage (service role): payments. Every state change is one conditional statement: it applies
only from the state the caller read (`WHERE status = ...`), so of several concurrent attempts exactly one
moves the payment, and the CHECK constraints stop any amount from leaving its bounds even if a rule above
were wrong."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.modules.payments.domain import (
    LIVE_STATUSES,
    Payment,
    PaymentStatus,
)
from emporium.modules.payments.tables import payment
from emporium.platform.db.deferred import DeferredWrite, exactly_one_row
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced

# Exactly the predicate of the partial unique index `uq_payment_live_order` (ON CONFLICT must name it).
_LIVE_PREDICATE = "status IN ('pending', 'authorized', 'captured')"
_LIVE = text(_LIVE_PREDICATE)
assert {f"'{s.value}'" for s in LIVE_STATUSES} == set(_LIVE_PREDICATE[11:-1].split(", "))


def _payment(row: Any) -> Payment:
    currency = row.currency
    return Payment(
        id=row.id,
        org_id=row.org_id,
        order_id=row.order_id,
        provider=row.provider,
        status=PaymentStatus(row.status),
        amount=Money(row.amount, currency),
        authorized=Money(row.authorized_amount, currency),
        captured=Money(row.captured_amount, currency),
        refunded=Money(row.refunded_amount, currency),
        provider_ref=row.provider_ref,
        failure_reason=row.failure_reason,
        authorized_at=row.authorized_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _one(tx: Tx, statement: Any) -> Payment | None:
    row = (await tx.execute(statement)).one_or_none()
    return _payment(row) if row is not None else None


# --- payments -------------------------------------------------------------------------------------


def _pending_row(org_id: str, order_id: str, provider: str, amount: Money, card_token: str) -> dict[str, Any]:
    return {
        "id": new_id("pay"),
        "org_id": org_id,
        "order_id": order_id,
        "provider": provider,
        "status": PaymentStatus.PENDING.value,
        "currency": amount.currency,
        "amount": amount.amount,
        "card_token": card_token,
    }


@traced
async def insert_unless_live(
    tx: Tx, *, org_id: str, order_id: str, provider: str, amount: Money, card_token: str
) -> Payment | None:
    """Insert a pending payment unless the order already has a live one (then None)."""
    statement = (
        pg_insert(payment)
        .values(**_pending_row(org_id, order_id, provider, amount, card_token))
        .on_conflict_do_nothing(index_elements=["org_id", "order_id"], index_where=_LIVE)
        .returning(payment)
    )
    return await _one(tx, statement)


def _pending_params(payments: list[tuple[Payment, str]]) -> dict[str, Any]:
    ((pending, card_token),) = payments  # one per order, and an order is created in its own transaction
    return {
        "id": pending.id,
        "org_id": pending.org_id,
        "order_id": pending.order_id,
        "provider": pending.provider,
        "status": pending.status.value,
        "currency": pending.amount.currency,
        "amount": pending.amount.amount,
        "card_token": card_token,
        "created_at": pending.created_at,
    }


# A new order's pending payment is written with the transaction's other deferred writes, just before its
# COMMIT: nothing reads it back in that transaction, and the payment it describes is known here already.
_INSERT_PENDING = DeferredWrite[tuple[Payment, str]](
    "payment",
    """
    INSERT INTO payments.payment (id, org_id, order_id, provider, status, currency, amount, card_token,
                                  created_at, updated_at)
    VALUES (:id, :org_id, :order_id, :provider, :status, :currency, :amount, :card_token, :created_at, :created_at)
    RETURNING 1
    """,
    _pending_params,
    types={"amount": BigInteger(), "created_at": DateTime(timezone=True)},
)


def insert_pending(tx: Tx, *, org_id: str, order_id: str, provider: str, amount: Money, card_token: str) -> Payment:
    """The first payment of a new order (no live one can exist yet: the order was created in this tx),
    written just before the transaction commits."""
    now = datetime.now(UTC)
    zero = Money(0, amount.currency)
    pending = Payment(
        id=new_id("pay"), org_id=org_id, order_id=order_id, provider=provider, status=PaymentStatus.PENDING,
        amount=amount, authorized=zero, captured=zero, refunded=zero, provider_ref=None, failure_reason=None,
        authorized_at=None, created_at=now, updated_at=now,
    )  # fmt: skip
    tx.write_before_commit(_INSERT_PENDING, (pending, card_token))
    return pending


@traced
async def live_for_order(tx: Tx, org_id: str, order_id: str) -> Payment | None:
    query = select(payment).where(payment.c.org_id == org_id, payment.c.order_id == order_id, _LIVE)
    return await _one(tx, query)


@traced
async def latest_for_order(tx: Tx, org_id: str, order_id: str) -> Payment | None:
    """The live payment of the order, else its most recent one."""
    query = (
        select(payment)
        .where(payment.c.org_id == org_id, payment.c.order_id == order_id)
        .order_by(text(f"({_LIVE_PREDICATE}) DESC"), payment.c.created_at.desc(), payment.c.id.desc())
        .limit(1)
    )
    return await _one(tx, query)


@traced
async def get(tx: Tx, org_id: str, payment_id: str) -> Payment | None:
    return await _one(tx, select(payment).where(payment.c.org_id == org_id, payment.c.id == payment_id))


@traced
async def card_token_of(tx: Tx, org_id: str, payment_id: str) -> str | None:
    query = select(payment.c.card_token).where(payment.c.org_id == org_id, payment.c.id == payment_id)
    value = await tx.scalar(query)
    return str(value) if value is not None else None


@traced
async def lock_by_id(tx: Tx, payment_id: str) -> Payment | None:
    """Any org's payment, locked (provider webhooks name our payment id, not an org)."""
    return await _one(tx, select(payment).where(payment.c.id == payment_id).with_for_update())


def _move(payment_id: str, source: PaymentStatus, target: PaymentStatus, *extra: Any) -> Any:
    return (
        update(payment)
        .where(payment.c.id == payment_id, payment.c.status == source.value, *extra)
        .values(status=target.value, updated_at=text("now()"))
    )


def _ref_or_kept(provider_ref: str | None) -> Any:
    return provider_ref if provider_ref is not None else payment.c.provider_ref


@traced
async def mark_authorized(tx: Tx, payment_id: str, amount: Money, provider_ref: str | None) -> Payment | None:
    """pending -> authorized; None when the payment is no longer pending."""
    statement = (
        _move(payment_id, PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, payment.c.currency == amount.currency)
        .values(authorized_amount=amount.amount, provider_ref=provider_ref, authorized_at=text("now()"))
        .returning(payment)
    )
    return await _one(tx, statement)


# Checkout's settling statement, built once (a call binds values only).
_MARK_CHARGED = (
    update(payment)
    .where(
        payment.c.id == bindparam("p_id"),
        payment.c.status == PaymentStatus.PENDING.value,
        payment.c.currency == bindparam("p_currency"),
    )
    .values(
        status=PaymentStatus.CAPTURED.value,
        authorized_amount=bindparam("p_amount"),
        captured_amount=bindparam("p_amount"),
        provider_ref=bindparam("p_ref"),
        authorized_at=text("now()"),
        updated_at=text("now()"),
    )
    .returning(payment)
)


@traced
async def mark_charged(tx: Tx, payment_id: str, amount: Money, provider_ref: str | None) -> Payment | None:
    """pending -> captured in one step (authorized and captured by one provider call); None when not pending."""
    params = {"p_id": payment_id, "p_currency": amount.currency, "p_amount": amount.amount, "p_ref": provider_ref}
    row = (await tx.execute(_MARK_CHARGED, params)).one_or_none()
    return _payment(row) if row is not None else None


def _settled_params(moved: list[Payment]) -> dict[str, Any]:
    (payment_now,) = moved
    return {
        "id": payment_now.id,
        "status": payment_now.status.value,
        "authorized": payment_now.authorized.amount,
        "captured": payment_now.captured.amount,
        "provider_ref": payment_now.provider_ref,
        "at": payment_now.updated_at,
        "currency": payment_now.amount.currency,
    }


# The provider's success recorded with the settling transaction's other writes, in its one statement
# before COMMIT: pending -> authorized, or pending -> captured for automatic capture. The row check
# makes a payment another writer recorded first roll the transaction back (`RowsMoved`).
_SETTLE_AT_COMMIT = DeferredWrite[Payment](
    "payment_settled",
    """
    UPDATE payments.payment
       SET status = :status, authorized_amount = :authorized, captured_amount = :captured,
           provider_ref = COALESCE(:provider_ref, provider_ref), authorized_at = :at, updated_at = :at
     WHERE id = :id AND status = 'pending' AND currency = :currency
    RETURNING 1
    """,
    _settled_params,
    types={"authorized": BigInteger(), "captured": BigInteger(), "at": DateTime(timezone=True)},
    check=exactly_one_row("the pending payment"),
)


def settle_at_commit(tx: Tx, pending: Payment, amount: Money, provider_ref: str | None, *, captured: bool) -> Payment:
    """The payment as the provider's success leaves it, written just before COMMIT (see `_SETTLE_AT_COMMIT`)."""
    now = datetime.now(UTC)
    moved = replace(
        pending,
        status=PaymentStatus.CAPTURED if captured else PaymentStatus.AUTHORIZED,
        authorized=amount,
        captured=amount if captured else Money(0, amount.currency),
        provider_ref=provider_ref if provider_ref is not None else pending.provider_ref,
        authorized_at=now,
        updated_at=now,
    )
    tx.write_before_commit(_SETTLE_AT_COMMIT, moved)
    return moved


@traced
async def mark_unauthorized(
    tx: Tx, payment_id: str, status: PaymentStatus, reason: str | None, provider_ref: str | None
) -> Payment | None:
    """pending -> declined | failed; None when the payment is no longer pending."""
    statement = (
        _move(payment_id, PaymentStatus.PENDING, status)
        .values(failure_reason=reason, provider_ref=_ref_or_kept(provider_ref))
        .returning(payment)
    )
    return await _one(tx, statement)


@traced
async def mark_captured(tx: Tx, payment_id: str, amount: Money) -> Payment | None:
    """authorized -> captured with `amount` (<= authorized, also a CHECK); None when not authorized."""
    statement = (
        _move(
            payment_id,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            payment.c.currency == amount.currency,
            payment.c.authorized_amount >= amount.amount,
        )
        .values(captured_amount=amount.amount)
        .returning(payment)
    )
    return await _one(tx, statement)


@traced
async def mark_voided(tx: Tx, payment_id: str) -> Payment | None:
    """authorized -> voided; None when not authorized."""
    statement = _move(payment_id, PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED).returning(payment)
    return await _one(tx, statement)


@traced
async def pending_before(tx: Tx, cutoff: datetime, limit: int) -> list[Payment]:
    query = (
        select(payment)
        .where(payment.c.status == PaymentStatus.PENDING.value, payment.c.created_at < cutoff)
        .order_by(payment.c.created_at, payment.c.id)
        .limit(limit)
    )
    return [_payment(row) for row in await tx.execute(query)]


@traced
async def authorized_before(tx: Tx, cutoff: datetime, limit: int) -> list[Payment]:
    query = (
        select(payment)
        .where(payment.c.status == PaymentStatus.AUTHORIZED.value, payment.c.authorized_at < cutoff)
        .order_by(payment.c.authorized_at, payment.c.id)
        .limit(limit)
    )
    return [_payment(row) for row in await tx.execute(query)]
