"""The checkout's charge: checked before any write, called outside any transaction, recorded by the caller."""

from __future__ import annotations

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    UNKNOWN_OUTCOME,
    AuthorizationOutcome,
    AuthorizationResult,
    Payment,
    PaymentStatus,
    ProviderCharge,
    ProviderRejected,
    ProviderTimeout,
    authorization_key,
    check_card_token,
    unknown_provider,
)
from emporium.modules.payments.metrics import PAYMENT_OUTCOMES
from emporium.modules.payments.providers import Providers, installed
from emporium.modules.payments.workflows.common import adapter_for, log
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import NotFound
from emporium.platform.telemetry.tracing import traced

NO_NEWS = UNKNOWN_OUTCOME  # "the provider said nothing new": settling then follows the payment as recorded


def check_payment_method(
    db: Database, provider: str, card_token: str, providers: Providers | None = None, *, org_id: str | None = None
) -> None:
    """Refuse (422, naming the field) a provider we do not have (or the org may not use) or a token it could never
    take; no I/O (the sandbox's feature flag is read from memory)."""
    registry = providers or installed()
    if provider not in (usable := registry.names(org_id)):
        raise unknown_provider(provider, usable)
    check_card_token(card_token, registry.get(provider, db).check_token(card_token))


@traced
async def charge(
    db: Database, payment: Payment, card_token: str, *, capture: bool, providers: Providers | None = None
) -> AuthorizationResult:
    """Ask the provider to authorize the pending payment (and capture it, with `capture`, in the same call).

    Nothing is written here: the caller records the answer in its own transaction
    (`payments.api.record_authorization`). The provider key is derived from the
    payment id, so a retry or recovery's call is a replay, never a second charge.
    A timeout is an `unknown` outcome, not an error.
    """
    adapter = adapter_for(db, payment.provider, providers)
    try:
        result = await adapter.authorize(
            amount=payment.amount,
            card_token=card_token,
            idempotency_key=authorization_key(payment.id),
            reference=payment.id,
            capture=capture,
        )
    except ProviderTimeout as error:
        log.warning("payment_outcome_unknown", payment_id=payment.id, provider=payment.provider, error=str(error))
        result = UNKNOWN_OUTCOME
    except ProviderRejected as error:
        result = AuthorizationResult(AuthorizationOutcome.FAILED, None, None, error.code)
    PAYMENT_OUTCOMES.labels(
        payment.provider, "authorize_capture" if capture else "authorize", result.outcome.value
    ).inc()
    return result


@traced
async def resolve_charge(
    db: Database, payment: Payment, *, capture: bool, providers: Providers | None = None
) -> AuthorizationResult:
    """Recovery: what became of a pending payment's charge, asked by our key; nothing is written here.

    A provider that never saw the request gets it again with the same key (one
    charge at most, by construction); a provider that still does not answer gives
    `unknown` and the payment stays pending for the next pass.
    """
    async with transaction(db) as tx:
        card_token = await store.card_token_of(tx, payment.org_id, payment.id)
    if card_token is None:
        raise NotFound(f"no payment {payment.id}")
    adapter = adapter_for(db, payment.provider, providers)
    try:
        found = await adapter.get(idempotency_key=authorization_key(payment.id), provider_ref=payment.provider_ref)
    except (ProviderTimeout, ProviderRejected) as error:
        log.warning("payment_lookup_failed", payment_id=payment.id, error=str(error))
        return UNKNOWN_OUTCOME
    if found is None:
        return await charge(db, payment, card_token, capture=capture, providers=providers)
    return _as_result(found, payment)


def _as_result(found: ProviderCharge, payment: Payment) -> AuthorizationResult:
    if found.status is PaymentStatus.CAPTURED:
        return AuthorizationResult(AuthorizationOutcome.CAPTURED, found.provider_ref, found.captured or payment.amount)
    if found.status is PaymentStatus.AUTHORIZED:
        return AuthorizationResult(AuthorizationOutcome.AUTHORIZED, found.provider_ref, found.authorized)
    if found.status in (PaymentStatus.DECLINED, PaymentStatus.FAILED):
        return AuthorizationResult(AuthorizationOutcome(found.status.value), found.provider_ref, None, found.reason)
    if found.status is PaymentStatus.VOIDED:  # held, then released before we heard of it: nothing taken
        return AuthorizationResult(AuthorizationOutcome.FAILED, found.provider_ref, None, "voided_at_provider")
    return UNKNOWN_OUTCOME  # the provider itself has no outcome yet
