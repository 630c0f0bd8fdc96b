"""The Stripe adapter, through the payments workflows, against a local stub of the Stripe API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from emporium.modules.payments import workflows
from emporium.modules.payments.domain import (
    PaymentStatus,
    ProviderError,
    RefundStatus,
    authorization_key,
    capture_key,
    refund_provider_key,
    void_key,
)
from emporium.modules.payments.providers import Providers, ProviderSettings
from emporium.platform.db.engine import Database
from emporium.platform.money import Money
from tests.support.identity import Tenant
from tests.support.payments import events_of, new_order_id
from tests.support.stripe_stub import API_KEY, StripeStub, stripe_stub


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    with stripe_stub() as running:
        yield running
    assert running.violations == []


@pytest.fixture
async def providers(stub: StripeStub) -> AsyncIterator[Providers]:
    registry = Providers(ProviderSettings(stripe_api_key=API_KEY, stripe_api_base=stub.base_url, timeout=5))
    yield registry
    await registry.close()


async def _start(db: Database, tenant: Tenant, providers: Providers, token: str, amount: int = 5_000) -> str:
    payment = await workflows.start_authorization(
        db,
        org_id=tenant.org_id,
        order_id=new_order_id(),
        amount=Money(amount, "EUR"),
        card_token=token,
        provider="stripe",
        providers=providers,
    )
    return payment.id


async def test_immediate_capture_is_one_automatic_capture_call(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_visa")
    payment = await workflows.get_payment(db, tenant.owner_principal, payment_id)
    result = await workflows.charge(db, payment, "pm_card_visa", capture=True, providers=providers)
    assert result.outcome.value == "captured" and result.amount == Money(5_000, "EUR")
    [create] = [r for r in stub.requests if r.path == "/v1/payment_intents"]
    assert create.form["capture_method"] == "automatic"
    assert create.idempotency_key == authorization_key(payment_id)
    again = await workflows.charge(db, payment, "pm_card_visa", capture=True, providers=providers)
    assert again == result  # the same key: Stripe replays the first answer, no second charge
    assert len(stub.intents) == 1


async def test_authorize_capture_refund_with_idempotency_keys(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers, pg: asyncpg.Connection
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_visa")
    authorized = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert authorized.status is PaymentStatus.AUTHORIZED
    assert authorized.provider_ref in stub.intents
    [create] = stub.posts("/v1/payment_intents")
    assert create.idempotency_key == authorization_key(payment_id)
    assert create.form["amount"] == "5000" and create.form["currency"] == "eur"
    assert create.form["payment_method"] == "pm_card_visa"
    assert create.form["metadata[payment_id]"] == payment_id

    captured = await workflows.capture(
        db, org_id=tenant.org_id, payment_id=payment_id, amount=Money(4_000, "EUR"), providers=providers
    )
    assert captured.captured == Money(4_000, "EUR")
    [capture] = stub.posts(f"/v1/payment_intents/{authorized.provider_ref}/capture")
    assert capture.idempotency_key == capture_key(payment_id)
    assert capture.form == {"amount_to_capture": "4000"}

    refund = await workflows.refund(
        db,
        org_id=tenant.org_id,
        payment_id=payment_id,
        amount=Money(1_500, "EUR"),
        refund_key="r1",
        providers=providers,
    )
    assert refund.status is RefundStatus.SUCCEEDED and refund.provider_ref in stub.refunds
    [posted] = stub.posts("/v1/refunds")
    assert posted.idempotency_key == refund_provider_key(refund.id)
    assert posted.form == {"payment_intent": authorized.provider_ref, "amount": "1500"}
    assert await events_of(pg, payment_id) == [
        "payments.payment_authorized",
        "payments.payment_captured",
        "payments.payment_refunded",
    ]


async def test_void_uses_cancel_with_its_key(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_visa")
    authorized = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    voided = await workflows.void(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert voided.status is PaymentStatus.VOIDED
    [cancel] = stub.posts(f"/v1/payment_intents/{authorized.provider_ref}/cancel")
    assert cancel.idempotency_key == void_key(payment_id)
    assert stub.intents[authorized.provider_ref or ""]["status"] == "canceled"


async def test_a_card_error_is_a_decline(db: Database, tenant: Tenant, providers: Providers) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_chargeDeclined")
    declined = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert declined.status is PaymentStatus.DECLINED
    assert declined.failure_reason == "generic_decline"


async def test_a_dropped_connection_is_resolved_by_searching_our_key(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_drop")
    pending = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert pending.status is PaymentStatus.PENDING
    assert len(stub.intents) == 1

    resolved = await workflows.resolve_pending(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert resolved.status is PaymentStatus.AUTHORIZED
    assert resolved.provider_ref in stub.intents
    assert len(stub.intents) == 1  # found, not created again
    searches = [r for r in stub.requests if r.path == "/v1/payment_intents/search"]
    assert searches and searches[0].form["query"] == f"metadata['emporium_key']:'{authorization_key(payment_id)}'"


async def test_a_retried_authorization_replays_under_the_same_key(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers, pg: asyncpg.Connection
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_visa")
    await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    await pg.execute("UPDATE payments.payment SET status = 'pending' WHERE id = $1", payment_id)
    again = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert again.status is PaymentStatus.AUTHORIZED
    assert len(stub.intents) == 1
    assert {r.idempotency_key for r in stub.posts("/v1/payment_intents")} == {authorization_key(payment_id)}


async def test_a_refused_capture_is_a_provider_error(
    db: Database, tenant: Tenant, stub: StripeStub, providers: Providers
) -> None:
    payment_id = await _start(db, tenant, providers, "pm_card_visa")
    authorized = await workflows.authorize(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    stub.intents[authorized.provider_ref or ""]["status"] = "canceled"  # cancelled behind our back
    with pytest.raises(ProviderError) as caught:
        await workflows.capture(db, org_id=tenant.org_id, payment_id=payment_id, providers=providers)
    assert caught.value.status == 502
    current = await workflows.get_payment(db, tenant.owner_principal, payment_id)
    assert current.status is PaymentStatus.AUTHORIZED
