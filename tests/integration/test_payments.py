"""Payments workflows on real PostgreSQL with the sandbox provider and its ledger."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from emporium.modules.payments import workflows
from emporium.modules.payments.domain import (
    CaptureExceedsAuthorization,
    PaymentStatus,
    RefundExceedsCapture,
    RefundKeyReused,
    RefundStatus,
    UnknownProvider,
    authorization_key,
)
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.errors import InvalidTransition, NotFound
from emporium.platform.money import Money
from tests.support.identity import Tenant
from tests.support.payments import (
    authorized_payment,
    backdate,
    captured_payment,
    charges_for,
    events_of,
    ledger_count,
    new_order_id,
)

EUR = "EUR"


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, PoolSettings(size=30, timeout=60))
    yield database
    await database.dispose()


async def test_authorize_records_the_charge_and_publishes_in_the_same_transaction(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await authorized_payment(db, tenant.org_id, Money(2_500, EUR))
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.authorized == Money(2_500, EUR)
    assert payment.provider_ref and payment.authorized_at
    assert await charges_for(pg, payment.id) == 1
    assert await events_of(pg, payment.id) == ["payments.payment_authorized"]


async def test_authorizing_the_same_payment_twice_charges_once(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await authorized_payment(db, tenant.org_id)
    # Simulate a retry that did not see the first answer: put the payment back to pending.
    await pg.execute("UPDATE payments.payment SET status = 'pending' WHERE id = $1", payment.id)
    again = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment.id)
    assert again.status is PaymentStatus.AUTHORIZED
    assert again.provider_ref == payment.provider_ref
    assert await charges_for(pg, payment.id) == 1
    # And a plain second call on an authorized payment does not reach the provider at all.
    assert (
        await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment.id)
    ).status is PaymentStatus.AUTHORIZED
    assert await charges_for(pg, payment.id) == 1


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("tok_decline", PaymentStatus.DECLINED, "card_declined"),
        ("tok_insufficient_funds", PaymentStatus.DECLINED, "insufficient_funds"),
        ("tok_error", PaymentStatus.FAILED, "processing_error"),
    ],
)
async def test_declines_and_errors_are_recorded_without_raising(
    db: Database, tenant: Tenant, pg: asyncpg.Connection, token: str, status: PaymentStatus, reason: str
) -> None:
    payment = await authorized_payment(db, tenant.org_id, card_token=token)
    assert payment.status is status
    assert payment.failure_reason == reason
    assert await charges_for(pg, payment.id) == 0
    assert await events_of(pg, payment.id) == ["payments.payment_failed"]
    # The order can now get a new payment: a declined one is not live.
    retry = await workflows.start_authorization(
        db, org_id=tenant.org_id, order_id=payment.order_id, amount=payment.amount, card_token="tok_success"
    )
    assert retry.id != payment.id and retry.status is PaymentStatus.PENDING


async def test_dropped_connection_leaves_pending_and_recovery_finds_the_charge(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await authorized_payment(db, tenant.org_id, card_token="tok_drop")
    assert payment.status is PaymentStatus.PENDING
    assert await charges_for(pg, payment.id) == 1  # the sandbox did charge
    assert await events_of(pg, payment.id) == []

    await backdate(pg, payment.id, timedelta(minutes=5))
    stale = await workflows.stale_pending(db, older_than=timedelta(seconds=60), limit=1000)
    assert payment.id in {p.id for p in stale}

    resolved = await workflows.resolve_pending(db, org_id=tenant.org_id, payment_id=payment.id)
    assert resolved.status is PaymentStatus.AUTHORIZED
    assert resolved.authorized == payment.amount
    assert await charges_for(pg, payment.id) == 1  # no second charge
    assert await events_of(pg, payment.id) == ["payments.payment_authorized"]
    assert payment.id not in {p.id for p in await workflows.stale_pending(db, older_than=timedelta(0), limit=1000)}


async def test_recovery_resends_a_request_the_provider_never_saw(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await workflows.start_authorization(
        db, org_id=tenant.org_id, order_id=new_order_id(), amount=Money(700, EUR), card_token="tok_success"
    )
    resolved = await workflows.resolve_pending(db, org_id=tenant.org_id, payment_id=payment.id)
    assert resolved.status is PaymentStatus.AUTHORIZED
    assert await charges_for(pg, payment.id) == 1


async def test_twenty_concurrent_checkouts_of_one_order_make_one_live_payment_and_one_charge(
    wide_db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    order_id = new_order_id()

    async def checkout() -> str:
        payment = await workflows.start_authorization(
            wide_db, org_id=tenant.org_id, order_id=order_id, amount=Money(4_200, EUR), card_token="tok_success"
        )
        return (await workflows.authorize(wide_db, org_id=tenant.org_id, payment_id=payment.id)).id

    ids = await asyncio.gather(*(checkout() for _ in range(20)))
    assert len(set(ids)) == 1
    rows = await pg.fetch("SELECT id, status FROM payments.payment WHERE order_id = $1", order_id)
    assert [r["status"] for r in rows] == ["authorized"]
    assert await charges_for(pg, ids[0]) == 1
    assert await events_of(pg, ids[0]) == ["payments.payment_authorized"]
    found = await workflows.payment_for_order(wide_db, org_id=tenant.org_id, order_id=order_id)
    assert found is not None and found.id == ids[0]


async def test_capture_more_than_authorized_is_refused_by_the_rule_and_by_the_database(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await authorized_payment(db, tenant.org_id, Money(1_000, EUR))
    with pytest.raises(CaptureExceedsAuthorization):
        await workflows.capture(db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(1_001, EUR))
    with pytest.raises(asyncpg.CheckViolationError):
        await pg.execute(
            "UPDATE payments.payment SET status = 'captured', captured_amount = 1001 WHERE id = $1", payment.id
        )
    assert await ledger_count(pg, "capture", payment.provider_ref or "") == 0

    partial = await workflows.capture(db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(600, EUR))
    assert partial.status is PaymentStatus.CAPTURED and partial.captured == Money(600, EUR)
    again = await workflows.capture(db, org_id=tenant.org_id, payment_id=payment.id)  # a retry: no-op
    assert again.captured == Money(600, EUR)
    assert await ledger_count(pg, "capture", payment.provider_ref or "") == 1
    assert await events_of(pg, payment.id) == ["payments.payment_authorized", "payments.payment_captured"]
    with pytest.raises(InvalidTransition) as caught:
        await workflows.void(db, org_id=tenant.org_id, payment_id=payment.id)
    assert "'captured'" in caught.value.detail and "'voided'" in caught.value.detail


async def test_void_is_idempotent_and_a_voided_payment_cannot_be_captured(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await authorized_payment(db, tenant.org_id)
    voided = await workflows.void(db, org_id=tenant.org_id, payment_id=payment.id)
    assert voided.status is PaymentStatus.VOIDED
    assert (await workflows.void(db, org_id=tenant.org_id, payment_id=payment.id)).status is PaymentStatus.VOIDED
    assert await ledger_count(pg, "void", payment.provider_ref or "") == 1
    assert await events_of(pg, payment.id) == ["payments.payment_authorized", "payments.payment_voided"]
    with pytest.raises(InvalidTransition):
        await workflows.capture(db, org_id=tenant.org_id, payment_id=payment.id)


async def test_fifty_concurrent_ten_percent_refunds_exactly_ten_succeed(
    wide_db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await captured_payment(wide_db, tenant.org_id, Money(10_000, EUR))

    async def refund(i: int) -> str:
        try:
            await workflows.refund(
                wide_db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(1_000, EUR), refund_key=f"r-{i}"
            )
        except RefundExceedsCapture as error:
            return f"refused {error.status} {error.code}"
        return "refunded"

    outcomes = Counter(await asyncio.gather(*(refund(i) for i in range(50))))
    assert outcomes == {"refunded": 10, "refused 409 refund_exceeds_capture": 40}
    assert await ledger_count(pg, "refund", payment.provider_ref or "") == 10
    row = await pg.fetchrow("SELECT captured_amount, refunded_amount FROM payments.payment WHERE id = $1", payment.id)
    assert (row["captured_amount"], row["refunded_amount"]) == (10_000, 10_000)
    statuses = await pg.fetch("SELECT status FROM payments.refund WHERE payment_id = $1", payment.id)
    assert [r["status"] for r in statuses] == ["succeeded"] * 10
    assert (await events_of(pg, payment.id)).count("payments.payment_refunded") == 10


async def test_a_retried_refund_returns_the_same_refund_and_refunds_once(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment = await captured_payment(db, tenant.org_id, Money(5_000, EUR))
    first = await workflows.refund(
        db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(1_500, EUR), refund_key="idem-1"
    )
    again = await workflows.refund(
        db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(1_500, EUR), refund_key="idem-1"
    )
    assert first.id == again.id and again.status is RefundStatus.SUCCEEDED
    assert first.id.startswith("rfd_")
    assert await ledger_count(pg, "refund", payment.provider_ref or "") == 1
    with pytest.raises(RefundKeyReused):
        await workflows.refund(
            db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(900, EUR), refund_key="idem-1"
        )
    with pytest.raises(RefundExceedsCapture):
        await workflows.refund(
            db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(3_501, EUR), refund_key="idem-2"
        )
    paid = await workflows.get_payment(db, tenant.owner_principal, payment.id)
    assert paid.refunded == Money(1_500, EUR)


async def test_a_refund_the_provider_lost_is_finished_by_a_retry_with_the_same_key(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    """A crash after the reservation (refund pending, nothing at the provider): the retry drives it, once."""
    payment = await captured_payment(db, tenant.org_id, Money(5_000, EUR))
    await pg.execute(
        "INSERT INTO payments.refund (id, org_id, payment_id, refund_key, currency, amount) "
        "VALUES ('rfd_crashed', $1, $2, 'lost-1', 'EUR', 2000)",
        tenant.org_id,
        payment.id,
    )
    await pg.execute("UPDATE payments.payment SET refunded_amount = 2000 WHERE id = $1", payment.id)
    done = await workflows.refund(
        db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(2_000, EUR), refund_key="lost-1"
    )
    assert done.id == "rfd_crashed" and done.status is RefundStatus.SUCCEEDED
    assert await ledger_count(pg, "refund", payment.provider_ref or "") == 1


async def test_refunds_need_a_capture(db: Database, tenant: Tenant) -> None:
    payment = await authorized_payment(db, tenant.org_id)
    with pytest.raises(InvalidTransition):
        await workflows.refund(
            db, org_id=tenant.org_id, payment_id=payment.id, amount=Money(100, EUR), refund_key="early"
        )


async def test_expiry_voids_only_old_authorizations(db: Database, tenant: Tenant, pg: asyncpg.Connection) -> None:
    old = await authorized_payment(db, tenant.org_id)
    fresh = await authorized_payment(db, tenant.org_id)
    await backdate(pg, old.id, timedelta(days=8))
    expired = await workflows.expire_authorizations(db, older_than=timedelta(days=7))
    assert old.id in {p.id for p in expired}
    assert fresh.id not in {p.id for p in expired}
    assert all(p.status is PaymentStatus.VOIDED for p in expired)
    assert await ledger_count(pg, "void", old.provider_ref or "") == 1
    assert (await workflows.get_payment(db, tenant.owner_principal, fresh.id)).status is PaymentStatus.AUTHORIZED
    assert old.id not in {p.id for p in await workflows.expire_authorizations(db, older_than=timedelta(days=7))}
    assert (await events_of(pg, old.id))[-1] == "payments.payment_voided"


async def test_another_orgs_payment_is_not_found(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    payment = await authorized_payment(db, tenant.org_id)
    with pytest.raises(NotFound):
        await workflows.get_payment(db, other_tenant.owner_principal, payment.id)
    with pytest.raises(NotFound):
        await workflows.capture(db, org_id=other_tenant.org_id, payment_id=payment.id)
    assert await workflows.payment_for_order(db, org_id=other_tenant.org_id, order_id=payment.order_id) is None


async def test_unknown_provider_and_unknown_card_token(db: Database, tenant: Tenant) -> None:
    with pytest.raises(UnknownProvider):
        await workflows.start_authorization(
            db, org_id=tenant.org_id, order_id=new_order_id(), amount=Money(100, EUR), card_token="x", provider="nope"
        )
    payment = await authorized_payment(db, tenant.org_id, card_token="tok_unknown")
    assert payment.status is PaymentStatus.FAILED and payment.failure_reason == "invalid_token"
    with pytest.raises(InvalidTransition):
        # Capturing needs an authorization: refused by the state machine before the provider is asked.
        await workflows.capture(db, org_id=tenant.org_id, payment_id=payment.id)


async def test_payment_for_order_prefers_the_live_payment(db: Database, tenant: Tenant) -> None:
    declined = await authorized_payment(db, tenant.org_id, card_token="tok_decline")
    assert (await workflows.payment_for_order(db, org_id=tenant.org_id, order_id=declined.order_id)) == declined
    live = await workflows.start_authorization(
        db, org_id=tenant.org_id, order_id=declined.order_id, amount=declined.amount, card_token="tok_success"
    )
    found = await workflows.payment_for_order(db, org_id=tenant.org_id, order_id=declined.order_id)
    assert found is not None and found.id == live.id
    assert authorization_key(live.id) != authorization_key(declined.id)
